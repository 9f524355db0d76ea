/**
 * A small token server implementing the Docker registry token authentication spec
 * (distribution docs: spec/auth/token.md, spec/auth/jwt.md) for the test registry's `auth.token` mode.
 *
 *   GET <realm>?service=<service>&scope=repository:<name>:pull,push[&scope=…]   (optional Basic auth)
 *   → 200 {"token","access_token","expires_in","issued_at"}      wrong credentials → 401
 *
 * The JWT is what distribution 2.8 (registry/auth/token/token.go) verifies:
 * - header `{"typ":"JWT","alg":"ES256"|"RS256","x5c":[<base64 DER of the signing cert>]}`; the `x5c`
 *   leaf must chain to a cert in the registry's `rootcertbundle` (here: it *is* that cert);
 * - claims `iss` == the registry's `issuer`, `aud` == its `service` (a plain string: 2.8's ClaimSet has
 *   `Audience string`, an array would not parse), `exp`/`nbf` checked with 60 s leeway, plus
 *   `sub`, `iat`, `jti` and the private `access` claim `[{type, name, actions}]`;
 * - ES256 signatures are raw r||s (64 bytes, libtrust), not DER; RS256 is PKCS#1 v1.5 SHA-256.
 *
 * Grants are the intersection, scope by scope, of what was asked and what the user holds on that
 * repository (spec: a partial grant is not an error; a scope granted nothing is left out). Every HTTP request is recorded so tests can assert token caching, scopes and credentials.
 */
import { createPrivateKey, randomUUID, sign, timingSafeEqual, type KeyObject } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { pemToBase64Der } from './certs.js'

export type TokenAlgorithm = 'ES256' | 'RS256'

/** One entry of the JWT `access` claim. */
export interface ResourceActions {
  type: string
  name: string
  actions: string[]
}

export interface TokenUser {
  password: string
  /** Actions this user holds on every repository, e.g. `['pull', 'push']`. */
  actions: readonly string[]
  /**
   * Actions on particular repositories, replacing `actions` there (`[]`: none), as a real token
   * service grants per repository: e.g. no pull on someone else's private repository.
   */
  repositories?: Readonly<Record<string, readonly string[]>>
}

export interface TokenIssuerOptions {
  /** The registry's `auth.token.service`; becomes `aud`. */
  service: string
  /** The registry's `auth.token.issuer`; becomes `iss`. */
  issuer: string
  /** PEM key and certificate used to sign; the certificate goes in `x5c` and in the registry's rootcertbundle. */
  signingKey: string
  signingCert: string
  /** Must fit the key: `ES256` for a P-256 key, `RS256` for an RSA key. */
  algorithm: TokenAlgorithm
  /** Known users. A request with Basic credentials for anyone else, or a wrong password, gets 401. */
  users: Readonly<Record<string, TokenUser>>
  /** Actions granted to requests without credentials. Default none (an empty `access` claim). */
  anonymousActions?: readonly string[]
  /** Token lifetime in seconds (`expires_in`). Default 300. */
  expiresIn?: number
  /** Serve the realm over https with this key/cert instead of plain http. */
  tls?: { key: string; cert: string } | undefined
  /** Path of the realm. Default `/token`. */
  path?: string
}

export interface MintOverrides {
  /** Lifetime in seconds (negative: already expired). Default the issuer's `expiresIn`. */
  expiresIn?: number
  /** Claims replaced or added (e.g. `{ aud: 'other' }`). */
  claims?: Record<string, unknown>
  /** Header fields replaced or added (e.g. `{ x5c: undefined }` to drop the chain). */
  header?: Record<string, unknown>
}

/** What the issuer saw of one request. */
export interface TokenRequestRecord {
  method: string
  /** Path without the query. */
  path: string
  /** The `Host` header. */
  host: string | undefined
  service: string | undefined
  /** Every `scope` parameter, split on spaces (both forms are allowed by the spec). */
  scopes: string[]
  account: string | undefined
  /** Whether an `Authorization` header was present, and of which scheme. */
  authorization: 'none' | 'basic' | 'bearer' | 'other'
  /** The Basic username, when one was sent (never the password). */
  username: string | undefined
  /** The status the issuer answered with. */
  status: number
  /** The access it granted (empty when refused). */
  granted: ResourceActions[]
}

export interface TokenIssuer {
  /** The realm URL to put in the registry's `auth.token.realm`. */
  readonly realm: string
  readonly service: string
  readonly issuer: string
  /** Every request seen so far, oldest first. */
  readonly requests: readonly TokenRequestRecord[]
  /** Forget the recorded requests. */
  clearRequests(): void
  /**
   * From now on, answer 403 instead of a partial grant when a scope names a repository the account
   * holds nothing on (a stricter token service than the spec asks for). Default off.
   */
  refuseUnheld(on: boolean): void
  /**
   * Sign a token directly (no HTTP, not recorded): for the harness's own requests, and (with
   * `overrides`) for tests of what the registry refuses, e.g. another `aud` or an expired `exp`.
   */
  mint(subject: string, access: readonly ResourceActions[], overrides?: MintOverrides): string
  close(): Promise<void>
}

/** Start a token issuer on 127.0.0.1 on a free port. */
export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const key = createPrivateKey(options.signingKey)
  checkKeyFitsAlgorithm(key, options.algorithm)
  const x5c = [pemToBase64Der(options.signingCert)]
  const path = options.path ?? '/token'
  const expiresIn = options.expiresIn ?? 300
  const requests: TokenRequestRecord[] = []
  let refuseUnheld = false

  const mint = (subject: string, access: readonly ResourceActions[], overrides: MintOverrides = {}): string => {
    const now = Math.floor(Date.now() / 1000)
    const lifetime = overrides.expiresIn ?? expiresIn
    const header = { typ: 'JWT', alg: options.algorithm, x5c, ...overrides.header }
    const claims = {
      iss: options.issuer,
      sub: subject,
      aud: options.service,
      exp: now + lifetime,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
      ...overrides.claims,
    }
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
    const signature =
      options.algorithm === 'ES256'
        ? sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', Buffer.from(signingInput), key)
    return `${signingInput}.${base64url(signature)}`
  }

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    const scopes = url.searchParams.getAll('scope').flatMap((scope) => scope.split(' ')).filter((scope) => scope !== '')
    const authHeader = request.headers.authorization
    const record: TokenRequestRecord = {
      method: request.method ?? 'GET',
      path: url.pathname,
      host: request.headers.host,
      service: url.searchParams.get('service') ?? undefined,
      scopes,
      account: url.searchParams.get('account') ?? undefined,
      authorization: authScheme(authHeader),
      username: undefined,
      status: 0,
      granted: [],
    }
    requests.push(record)
    const answer = (status: number, body: unknown): void => {
      record.status = status
      response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
    }
    // Drain any request body (the OAuth2 POST form is not supported: docker falls back to GET on 404).
    request.resume()
    if (url.pathname !== path) return answer(404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] })
    if (request.method !== 'GET') return answer(405, { errors: [{ code: 'UNSUPPORTED', message: 'only GET is supported' }] })

    let user: TokenUser | undefined
    let subject = ''
    if (authHeader !== undefined) {
      const credentials = parseBasic(authHeader)
      if (credentials === undefined) return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'only Basic credentials are accepted' }] })
      record.username = credentials.username
      user = Object.hasOwn(options.users, credentials.username) ? options.users[credentials.username] : undefined
      if (user === undefined || !sameSecret(user.password, credentials.password)) {
        return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] })
      }
      subject = credentials.username
    }
    // Per scope, per repository: what the account holds there.
    const heldOn = (name: string): readonly string[] => {
      if (user === undefined) return options.anonymousActions ?? []
      return user.repositories !== undefined && Object.hasOwn(user.repositories, name) ? user.repositories[name]! : user.actions
    }

    const granted: ResourceActions[] = []
    for (const scope of scopes) {
      const parsed = parseScope(scope)
      if (parsed === undefined) return answer(400, { errors: [{ code: 'INVALID_SCOPE', message: `malformed scope ${JSON.stringify(scope)}` }] })
      if (parsed.type !== 'repository') continue // e.g. registry:catalog:* is never granted here
      const held = heldOn(parsed.name)
      if (refuseUnheld && held.length === 0) return answer(403, { errors: [{ code: 'DENIED', message: `no access to ${parsed.name}` }] })
      const actions = parsed.actions.filter((action) => held.includes(action))
      if (actions.length > 0) granted.push({ type: 'repository', name: parsed.name, actions })
    }
    record.granted = granted
    const token = mint(subject, granted)
    answer(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() })
  }

  const server = options.tls === undefined ? http.createServer(handle) : https.createServer({ key: options.tls.key, cert: options.tls.cert }, handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  // Never keep a test process alive just for the issuer.
  server.unref()
  const { port } = server.address() as AddressInfo
  const realm = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}${path}`

  return {
    realm,
    service: options.service,
    issuer: options.issuer,
    requests,
    clearRequests: () => void requests.splice(0),
    refuseUnheld: (on) => void (refuseUnheld = on),
    mint,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Parse `type[(class)]:name:action[,action]`. The name may contain `:` (a host:port prefix), actions never do. */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':')
  const last = scope.lastIndexOf(':')
  if (first <= 0 || last === first) return undefined
  const type = scope.slice(0, first).replace(/\(.*\)$/, '')
  const name = scope.slice(first + 1, last)
  const actions = scope.slice(last + 1).split(',').filter((action) => action !== '')
  if (name === '' || actions.length === 0) return undefined
  return { type, name, actions }
}

/** Decode a JWT's claims without verifying (for assertions in tests). */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1]
  if (part === undefined) throw new Error('not a JWT')
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url')
}

function authScheme(header: string | undefined): TokenRequestRecord['authorization'] {
  if (header === undefined) return 'none'
  const scheme = header.split(' ', 1)[0]?.toLowerCase()
  return scheme === 'basic' ? 'basic' : scheme === 'bearer' ? 'bearer' : 'other'
}

function parseBasic(header: string): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
  if (match?.[1] === undefined) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

function checkKeyFitsAlgorithm(key: KeyObject, algorithm: TokenAlgorithm): void {
  const ok = algorithm === 'ES256' ? key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' : key.asymmetricKeyType === 'rsa'
  if (!ok) throw new Error(`signing key (${key.asymmetricKeyType ?? 'unknown'}) does not fit ${algorithm}`)
}
