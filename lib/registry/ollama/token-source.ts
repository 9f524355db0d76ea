/**
 * Ollama's signed token request (its `server/auth.go`, `registryChallenge.URL` and
 * `getAuthorizationToken`), for registries that hand out tokens only against a signature made with
 * the Ollama key (registry.ollama.ai / ollama.com):
 *
 *     GET <realm>?nonce=<16 random bytes, base64url>&scope=<each piece of the challenge scope>&service=<service>&ts=<unix s>
 *     Authorization: <base64 ssh public key blob>:<base64 ed25519 signature>
 *
 * The query is the realm's own query plus those parameters, serialised as Go's `url.Values.Encode`
 * (keys sorted, `QueryEscape`). The signed message is `GET,<that full URL>,<Z>` where Z is the
 * base64 of the *hex text* of sha256 of the empty body. The answer's `token` becomes the Bearer.
 *
 * The realm must be on the registry's own host and port (Ollama ≥ Jan 2026 checks the same): the
 * signature proves possession of the key to whoever receives it, so it only goes to the registry
 * the push is for. An https registry's realm must be https too.
 */
import { createHash, randomBytes } from 'node:crypto'
import { AbortError, ModelPushError, RegistryError } from '../../errors.js'
import type { Logger } from '../../model/types.js'
import { redactText, redactUrl } from '../redact.js'
import { registryErrorFromNetwork } from '../registry-error.js'
import { goEncodeValues, goParseQuery } from './go-query.js'
import type { OllamaKey } from './key.js'
import { signedAuthorization } from './key.js'
import { authorizedKeyLine, type Ed25519KeyPair } from './ssh-key.js'

/** A Bearer challenge's parameters (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`). */
export interface TokenChallenge {
  readonly realm: string
  readonly service?: string | undefined
  /** Space-separated scopes, as in the challenge. */
  readonly scope?: string | undefined
}

/** What the registry layer knows about the request that met the challenge. */
export interface TokenContext {
  /** The registry's origin (scheme, host, port) the challenged request went to. */
  readonly registry: URL
  readonly signal: AbortSignal
}

/** Obtains a Bearer token for a challenge; the registry layer picks one per host. */
export type TokenSource = (challenge: TokenChallenge, context: TokenContext) => Promise<string>

/** One GET to the token realm, for sending it over the caller's own transport (CA, TLS, proxies). */
export interface TokenHttpRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly signal: AbortSignal
}

export interface TokenHttpResponse {
  readonly status: number
  readonly body: Buffer
}

/** Sends the token request; redirects are not followed. Throws on network failure. */
export type TokenHttpSend = (request: TokenHttpRequest) => Promise<TokenHttpResponse>

export interface OllamaTokenSourceOptions {
  /** How the GET is sent. Default: Node's `fetch`, redirects not followed. */
  send?: TokenHttpSend
  /** Receives one debug line per token request (realm redacted, status, time); never the key or the token. */
  logger?: Logger | undefined
  /** Clock in ms, for tests. */
  now?: () => number
  /** Random bytes for the nonce, for tests. */
  random?: (size: number) => Buffer
}

/** base64 of the hex sha256 of an empty body: the third field of every signed token request. */
export const EMPTY_BODY_DIGEST = Buffer.from(createHash('sha256').digest('hex'), 'ascii').toString('base64')

/** The token request URL exactly as Ollama builds (and signs) it. */
export function tokenRequestUrl(challenge: TokenChallenge, ts: number, nonce: string): URL {
  const realm = new URL(challenge.realm)
  const values = goParseQuery(realm.search)
  const add = (key: string, value: string) => values.set(key, [...(values.get(key) ?? []), value])
  add('service', challenge.service ?? '')
  for (const scope of (challenge.scope ?? '').split(' ')) add('scope', scope)
  add('ts', String(ts))
  add('nonce', nonce)
  realm.search = ''
  realm.hash = ''
  // Assigning `search` would re-encode; build the string so the query stays byte-exact.
  return new URL(`${realm.toString()}?${goEncodeValues(values)}`)
}

/** The message signed for a token request: `GET,<url>,<Z>`. */
export function tokenRequestMessage(url: URL | string): string {
  return `GET,${url.toString()},${EMPTY_BODY_DIGEST}`
}

/** The `Authorization` value of a token request for `url`. */
export function tokenRequestAuthorization(key: Ed25519KeyPair, url: URL | string): string {
  return signedAuthorization(key, tokenRequestMessage(url))
}

/** Refuse a realm that is not on the registry's own host and port (or downgrades https to http). */
export function assertRealmOnRegistryHost(realm: URL, registry: URL): void {
  const action = 'get a registry token'
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
    throw new RegistryError('REGISTRY_FAILED', `${action}: registry announced a token realm with unsupported scheme ${JSON.stringify(realm.protocol)}`)
  }
  if (realm.host !== registry.host) {
    throw new RegistryError(
      'REGISTRY_FAILED',
      `${action}: the token realm's host "${realm.host}" does not match the registry's host "${registry.host}"; the Ollama key only signs for the registry itself`,
      { url: redactUrl(realm) },
    )
  }
  if (registry.protocol === 'https:' && realm.protocol !== 'https:') {
    throw new RegistryError('REGISTRY_FAILED', `${action}: the registry is https but its token realm is plain http; refusing to sign over it`, { url: redactUrl(realm) })
  }
}

/** A `TokenSource` that signs token requests with `key`, as Ollama does. */
export function ollamaTokenSource(key: OllamaKey, options: OllamaTokenSourceOptions = {}): TokenSource {
  const send = options.send ?? fetchSend
  const now = options.now ?? Date.now
  const random = options.random ?? randomBytes
  return async (challenge, context) => {
    const action = 'get a registry token'
    let realm: URL
    try {
      realm = new URL(challenge.realm)
    } catch {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry announced an invalid token realm`, { registryStatus: 401 })
    }
    assertRealmOnRegistryHost(realm, context.registry)
    const loaded = await key.load()
    const url = tokenRequestUrl(challenge, Math.floor(now() / 1000), random(16).toString('base64url'))
    const headers = { Accept: 'application/json', Authorization: tokenRequestAuthorization(loaded, url) }
    const started = now()
    let response: TokenHttpResponse
    try {
      response = await send({ url: url.toString(), headers, signal: context.signal })
    } catch (error) {
      if (context.signal.aborted) throw new AbortError()
      if (error instanceof ModelPushError) throw error
      throw registryErrorFromNetwork(error, { action, url: url.toString(), host: url.host })
    }
    options.logger?.debug?.('ollama token request', { realm: redactUrl(url), status: response.status, ms: now() - started })

    const details = { registryStatus: response.status, url: redactUrl(url) }
    if (response.status === 429 || response.status >= 500) {
      throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered ${response.status}`, { ...details, retryable: true })
    }
    if (response.status >= 300) {
      const said = bodySnippet(response.body)
      throw new RegistryError(
        'REGISTRY_UNAUTHORIZED',
        `${action}: ${url.host} refused the Ollama key (${response.status}${said === '' ? '' : `: ${said}`}). ` +
          `Add this public key to your ollama.com account (Settings → Keys, https://ollama.com/settings/keys): ${authorizedKeyLine(loaded.publicBlob)}`,
        details,
      )
    }
    let token: unknown
    try {
      token = (JSON.parse(response.body.toString('utf8')) as { token?: unknown } | null)?.token
    } catch {
      throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered with something that is not JSON`, details)
    }
    if (typeof token !== 'string' || token === '') throw new RegistryError('REGISTRY_FAILED', `${action}: the token service answered without a token`, details)
    return token
  }
}

/** A short, single-line, redacted excerpt of a refusal body for the message. */
function bodySnippet(body: Buffer): string {
  const text = redactText(body.subarray(0, 400).toString('utf8').replace(/\s+/g, ' ').trim())
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

const fetchSend: TokenHttpSend = async (request) => {
  const response = await fetch(request.url, { method: 'GET', headers: request.headers, signal: request.signal, redirect: 'manual' })
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) }
}
