/**
 * Registry authentication: Basic, and the Docker token flow (distribution `docs/spec/auth/token.md`).
 *
 * - A 401 carries `WWW-Authenticate`; the challenge is remembered per registry host, so later
 *   requests authenticate up front. That matters for streamed bodies, which cannot be replayed
 *   after a 401: the upload's POST meets the challenge, its PATCH already carries the token.
 * - Bearer: `GET <realm>?service=<service>&scope=repository:<repo>:pull,push`, with Basic
 *   credentials when the push has any (anonymous otherwise). `token` or `access_token`;
 *   `expires_in` defaults to 60 s. Tokens are cached per (registry host, realm, service, scope
 *   set, credential identity) until shortly before they expire; concurrent requests share one fetch.
 * - A request that needs more than the push scope names it (`extraScopes`): a cross-repository mount
 *   asks one token for `repository:<repo>:pull,push` *and* `repository:<source>:pull` (two `scope`
 *   parameters, as the docker CLI does). That token is cached under its own scope set, so it is
 *   used for that mount source only, and the push's own token never for the mount. A token service
 *   that will not let the account read the source grants less; the registry then refuses the mount.
 * - Credentials go only where they are meant to: Basic/Bearer to the registry's own host (never to
 *   an upload location or redirect on another host), Basic to the token realm the registry named,
 *   never over plain http except to loopback or for registries marked insecure.
 */
import { createHash } from 'node:crypto'
import { RegistryError } from '../errors.js'
import type { Credentials, Logger } from '../model/types.js'
import { parseChallenges, type AuthChallenge } from './challenge.js'
import { isLoopbackHost, isRegistryUrl, verifiesTls } from './endpoint.js'
import type { HttpTransport, RegistryResponse } from './http-client.js'
import { redactUrl } from './redact.js'
import { parseRegistryErrors, registryErrorFromNetwork, registryErrorFromResponse } from './registry-error.js'
import { isAborted } from './retry.js'
import type { RegistryTarget } from './uploader.js'

/** An `Authorization` value as sent. `fresh`: a token fetched for this request rather than taken from the cache. */
export interface SentAuthorization {
  readonly value: string
  readonly fresh: boolean
}

interface CachedToken {
  readonly token: string
  readonly expiresAt: number
}

/**
 * The seam for other Bearer token flows. On a Bearer challenge from the registry's own origin, the
 * token comes from the source chosen for that registry host (`RegistryAuthOptions.tokenSource`),
 * else from the Docker token flow below (`GET <realm>?service=&scope=` with Basic credentials).
 * Ollama's ed25519-signed token request plugs in here for its hosts. A source gets the challenge
 * (realm, service, and the scopes this request needs, space-separated as in a challenge: the push
 * scope first, then any extra one such as pull on a mount's source), the registry's origin and the
 * push's signal;
 * it resolves to the token (and its lifetime when known, default 60 s) or rejects with a
 * `RegistryError`; it must never put a secret into a message.
 */
export type BearerTokenSource = (
  challenge: { readonly realm: string; readonly service?: string | undefined; readonly scope: string },
  context: { readonly registry: URL; readonly target: RegistryTarget; readonly signal?: AbortSignal | undefined },
) => Promise<{ token: string; expiresInSeconds?: number | undefined }>

export interface RegistryAuthOptions {
  transport: HttpTransport
  logger: Logger | undefined
  timeoutMs: number
  /** The token source for a registry host (`host[:port]`), or undefined for the Docker token flow. */
  tokenSource?: ((host: string) => BearerTokenSource | undefined) | undefined
  /** Clock, for tests. */
  now?: () => number
}

/** The scope a push needs (token spec "Token Scope Documentation"). */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`
}

/** The scope a cross-repository mount needs on its source repository. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`
}

/** Every scope a request on behalf of `target` needs: the push scope first, then the extra ones (deduplicated, in order). */
function scopesFor(target: RegistryTarget, extraScopes: readonly string[]): readonly string[] {
  return [...new Set([pushScope(target.repository), ...extraScopes])]
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`
}

/** A stable, non-reversible identity for a credential pair (cache keys only; never logged). */
function identityOf(credentials: Credentials | undefined): string {
  if (credentials === undefined) return 'anonymous'
  return createHash('sha256').update(credentials.username).update('\0').update(credentials.password).digest('base64url')
}

export class RegistryAuth {
  /** The challenge each registry host answered with (Bearer preferred over Basic). */
  readonly #challenges = new Map<string, AuthChallenge>()
  readonly #tokens = new Map<string, CachedToken>()
  readonly #pending = new Map<string, Promise<CachedToken>>()
  readonly #transport: HttpTransport
  readonly #logger: Logger | undefined
  readonly #timeoutMs: number
  readonly #now: () => number
  readonly #tokenSource: RegistryAuthOptions['tokenSource']

  constructor(options: RegistryAuthOptions) {
    this.#tokenSource = options.tokenSource
    this.#transport = options.transport
    this.#logger = options.logger
    this.#timeoutMs = options.timeoutMs
    this.#now = options.now ?? Date.now
  }

  /**
   * The `Authorization` for a request to `url` on behalf of `target`, or undefined (no challenge
   * learnt yet, or a URL on another host). `fresh`: a token fetched just now, not from the cache.
   * `extraScopes`: access this request needs beyond the push scope (Bearer only; Basic and no auth
   * ignore it), e.g. `pullScope(source)` for a mount.
   */
  async authorization(target: RegistryTarget, url: string, signal?: AbortSignal, extraScopes: readonly string[] = []): Promise<SentAuthorization | undefined> {
    if (!isRegistryUrl(target, url)) return undefined
    const challenge = this.#challenges.get(hostKey(target))
    if (challenge === undefined) return undefined
    if (challenge.scheme === 'basic') return target.credentials === undefined ? undefined : { value: basicAuthorization(target.credentials), fresh: false }
    const { token, fresh } = await this.#token(target, challenge, scopesFor(target, extraScopes), url, signal)
    return { value: `Bearer ${token}`, fresh }
  }

  /**
   * Learn from a 401: remember the challenge and drop the token that was refused. Throws when no
   * retry can help (no supported challenge; Basic without credentials; Basic credentials refused).
   */
  challenged(target: RegistryTarget, response: RegistryResponse, sent: SentAuthorization | undefined, action: string): void {
    const chosen = this.learn(target, response, sent)
    const details = { registryStatus: 401, url: redactUrl(response.url) }
    if (chosen === undefined) {
      const schemes = parseChallenges(response.headers['www-authenticate']).map((c) => c.scheme).join(', ')
      throw new RegistryError(
        'REGISTRY_UNAUTHORIZED',
        `${action}: registry requires authentication with an unsupported scheme (${schemes === '' ? 'no WWW-Authenticate challenge' : schemes})`,
        details,
      )
    }
    // A token issued a moment ago for exactly this scope was not enough: another one will not be either.
    if (sent?.fresh === true && chosen.scheme === 'bearer') throw this.refused(target, response, action)
    if (chosen.scheme === 'basic') {
      if (target.credentials === undefined) throw new RegistryError('REGISTRY_UNAUTHORIZED', `${action}: registry requires authentication`, details)
      if (sent?.value.startsWith('Basic ') === true) throw new RegistryError('REGISTRY_UNAUTHORIZED', `${action}: registry rejected the credentials`, details)
    }
  }

  /**
   * The non-throwing part of `challenged`: remember the challenge (Bearer preferred over Basic) and
   * drop a refused token from the cache. Used after a streamed body, whose upload restarts anyway.
   */
  learn(target: RegistryTarget, response: RegistryResponse, sent: SentAuthorization | undefined): AuthChallenge | undefined {
    const challenges = parseChallenges(response.headers['www-authenticate'])
    const chosen = challenges.find((c) => c.scheme === 'bearer' && c.params.realm !== undefined) ?? challenges.find((c) => c.scheme === 'basic')
    if (chosen === undefined) return undefined
    this.#challenges.set(hostKey(target), chosen)
    if (sent?.value.startsWith('Bearer ') === true) this.#forgetToken(sent.value.slice(7))
    return chosen
  }

  /** The error for a 401 that persists after authenticating. */
  refused(target: RegistryTarget, response: RegistryResponse, action: string): RegistryError {
    const challenge = parseChallenges(response.headers['www-authenticate']).find((c) => c.scheme === 'bearer')
    const details = { registryStatus: 401, registryCodes: parseRegistryErrors(response.body).map((entry) => entry.code), url: redactUrl(response.url) }
    const anonymous = target.credentials === undefined
    if (challenge?.params.error === 'insufficient_scope') {
      return anonymous
        ? new RegistryError('REGISTRY_UNAUTHORIZED', `${action}: registry requires authentication to push to ${target.repository}`, details)
        : new RegistryError('REGISTRY_DENIED', `${action}: push access to ${target.repository} denied for these credentials`, details)
    }
    return new RegistryError('REGISTRY_UNAUTHORIZED', `${action}: ${anonymous ? 'registry requires authentication' : 'registry rejected the credentials'}`, details)
  }

  /** The scope set is part of the key: a token is only ever sent for exactly the access it was asked for. */
  #cacheKey(target: RegistryTarget, challenge: AuthChallenge, scopes: readonly string[]): string {
    return [hostKey(target), challenge.params.realm ?? '', challenge.params.service ?? '', scopes.join(' '), identityOf(target.credentials)].join('\n')
  }

  /** Drop a refused token, under whichever scope set it was cached (tokens are unique per fetch). */
  #forgetToken(token: string): void {
    for (const [key, cached] of this.#tokens) if (cached.token === token) this.#tokens.delete(key)
  }

  async #token(target: RegistryTarget, challenge: AuthChallenge, scopes: readonly string[], url: string, signal: AbortSignal | undefined): Promise<{ token: string; fresh: boolean }> {
    const key = this.#cacheKey(target, challenge, scopes)
    const cached = this.#tokens.get(key)
    if (cached !== undefined && cached.expiresAt > this.#now()) return { token: cached.token, fresh: false }
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      const source = this.#tokenSource?.(target.host)
      const fetching = source === undefined ? this.#fetchToken(target, challenge, scopes, signal) : this.#fromSource(source, target, challenge, scopes, url, signal)
      pending = fetching.finally(() => this.#pending.delete(key))
      this.#pending.set(key, pending)
    }
    const fetched = await pending
    this.#tokens.set(key, fetched)
    return { token: fetched.token, fresh: true }
  }

  async #fromSource(
    source: BearerTokenSource,
    target: RegistryTarget,
    challenge: AuthChallenge,
    scopes: readonly string[],
    url: string,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    const started = this.#now()
    const { token, expiresInSeconds } = await source(
      { realm: challenge.params.realm ?? '', service: challenge.params.service, scope: scopes.join(' ') },
      // The origin actually spoken to (https, or plain http for an insecure registry).
      { registry: new URL(new URL(url).origin), target, signal },
    )
    return { token, expiresAt: this.#expiry(started, expiresInSeconds) }
  }

  /** Renew a little early: 10 % of the lifetime, at most 10 s, so a token never expires in flight. */
  #expiry(started: number, expiresInSeconds: number | undefined): number {
    const lifetime = expiresInSeconds !== undefined && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0 ? expiresInSeconds : 60
    return started + lifetime * 1000 - Math.min(10_000, lifetime * 100)
  }

  async #fetchToken(target: RegistryTarget, challenge: AuthChallenge, scopes: readonly string[], signal: AbortSignal | undefined): Promise<CachedToken> {
    const action = 'get a registry token'
    const realmText = challenge.params.realm ?? ''
    let realm: URL
    try {
      realm = new URL(realmText)
    } catch {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry announced an invalid token realm`, { registryStatus: 401 })
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry announced a token realm with unsupported scheme ${JSON.stringify(realm.protocol)}`)
    }
    if (challenge.params.service !== undefined) realm.searchParams.set('service', challenge.params.service)
    // One `scope` parameter per scope (token spec; the docker CLI does the same for a mount).
    realm.searchParams.delete('scope')
    for (const scope of scopes) realm.searchParams.append('scope', scope)
    const url = realm.toString()
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (target.credentials !== undefined) {
      // Basic credentials to the realm (token spec); never in clear text across the network.
      if (realm.protocol === 'http:' && !target.insecure && !isLoopbackHost(realm.hostname)) {
        throw new RegistryError(
          'REGISTRY_FAILED',
          `${action}: the token realm ${realm.host} uses plain http; refusing to send credentials over it (mark the registry insecure to allow)`,
          { url: redactUrl(url) },
        )
      }
      headers.Authorization = basicAuthorization(target.credentials)
    }

    const started = this.#now()
    let response: RegistryResponse
    try {
      response = await this.#transport.send({ method: 'GET', url, headers, signal, timeoutMs: this.#timeoutMs, verifyTls: verifiesTls(target) })
    } catch (error) {
      if (isAborted(signal)) throw error
      throw registryErrorFromNetwork(error, { action, url, host: realm.host, insecure: target.insecure })
    }
    this.#logger?.debug?.('registry token request', { realm: redactUrl(url), scope: scopes.join(' '), status: response.status, ms: this.#now() - started })

    if (response.status !== 200) {
      const details = { registryStatus: response.status, url: redactUrl(url) }
      if (response.status === 401) {
        throw new RegistryError(
          'REGISTRY_UNAUTHORIZED',
          target.credentials === undefined ? `${action}: the token service requires authentication` : `${action}: the token service rejected the credentials`,
          details,
        )
      }
      if (response.status === 403) throw new RegistryError('REGISTRY_DENIED', `${action}: the token service denied access to ${target.repository}`, details)
      if (response.status >= 300 && response.status < 400) {
        throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered with a redirect (${response.status}), which is not followed`, details)
      }
      // 5xx/429 come back retryable: the step that needed the token is retried as a whole.
      throw registryErrorFromResponse(response, { action, url })
    }

    let parsed: unknown
    try {
      parsed = JSON.parse(response.body.toString('utf8'))
    } catch {
      throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered with something that is not JSON`, { registryStatus: 200, url: redactUrl(url) })
    }
    const record = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>
    const token = typeof record.token === 'string' && record.token !== '' ? record.token : typeof record.access_token === 'string' ? record.access_token : ''
    if (token === '') throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered without a token`, { registryStatus: 200, url: redactUrl(url) })
    return { token, expiresAt: this.#expiry(started, typeof record.expires_in === 'number' ? record.expires_in : undefined) }
  }
}

function hostKey(target: RegistryTarget): string {
  return target.host.toLowerCase()
}
