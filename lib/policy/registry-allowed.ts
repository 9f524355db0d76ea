import { PolicyError } from '../errors.js'
import { hostMatches } from './host-pattern.js'

/** `allowedRegistries`: host patterns, or a predicate over the registry host (`host[:port]`). */
export type AllowedRegistries = readonly string[] | ((host: string) => boolean)

/**
 * Rule: a push goes only to a registry the host app allows. Throws a 403 `PolicyError` naming the
 * host otherwise. Runs before any connection, so a client cannot make the server dial arbitrary hosts.
 * `undefined` allows every host (Ollama's behaviour).
 */
export function assertRegistryAllowed(host: string, allowed: AllowedRegistries | undefined): void {
  if (allowed === undefined) return
  const ok = typeof allowed === 'function' ? allowed(host) === true : allowed.some((pattern) => hostMatches(host, pattern))
  if (!ok) throw new PolicyError(host, `pushing to registry "${host}" is not allowed by this server`)
}
