import { PolicyError } from '../errors.js'
import { hostMatches } from './host-pattern.js'

/** `allowInsecure`: `true` (any host), `false` (none), or the host patterns that may be insecure. */
export type AllowInsecure = boolean | readonly string[]

/**
 * Rule: `insecure: true` (plain http or unverified TLS) only where the host app allows it. Throws a
 * 403 `PolicyError` otherwise, before any connection.
 */
export function assertInsecureAllowed(host: string, insecure: boolean, allow: AllowInsecure): void {
  if (!insecure || allow === true) return
  if (allow === false) throw new PolicyError(host, `insecure pushes are not allowed by this server (registry "${host}")`)
  if (!allow.some((pattern) => hostMatches(host, pattern))) {
    throw new PolicyError(host, `insecure pushes to registry "${host}" are not allowed by this server`)
  }
}
