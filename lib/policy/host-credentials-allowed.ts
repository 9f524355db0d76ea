import { hostMatches } from './host-pattern.js'
import type { AllowInsecure } from './insecure-allowed.js'

/**
 * Rule: the host app's own secrets (its `credentials(host)` callback) never travel over plain http
 * or unverified TLS, i.e. never with an `insecure` push, unless the host app named that registry in
 * an `allowInsecure` array. `allowInsecure: true` lets any client ask for insecure, so it does not
 * count as consent. Credentials a client sends in the request body are its own and are not affected.
 */
export function mayUseHostCredentials(host: string, insecure: boolean, allow: AllowInsecure): boolean {
  if (!insecure) return true
  return Array.isArray(allow) && allow.some((pattern) => hostMatches(host, pattern))
}
