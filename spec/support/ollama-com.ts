/**
 * A stand-in for ollama.com / registry.ollama.ai, built from Ollama's source (reference §2.3, §2.4):
 * one HTTP origin on 127.0.0.1:0 that serves
 *
 * - `GET /token`: the signed token endpoint. It verifies what Ollama's `getAuthorizationToken` sends:
 *   `Authorization: <base64 ssh public key blob>:<base64 ed25519 signature>`; the key must be one of
 *   the authorised keys; the signed URL is rebuilt from the *advertised* realm plus the raw query as
 *   received (never re-encoded); the signature must verify over `GET,<url>,<Z>`; `ts` must be within
 *   the window and `nonce` fresh. Each `scope` parameter (a mount asks two: pull,push on the target
 *   and pull on the source) is granted on its own against the key's namespaces (push in its own,
 *   pull elsewhere except private repositories of other namespaces), and a JWT is minted with the
 *   real registry's token issuer, which the registry behind accepts.
 * - `/v2/…`: proxied (streamed) to an upstream registry base URL, rewriting the upstream origin in
 *   `Location` and the `WWW-Authenticate` realm to this origin (`/token`), as ollama.com keeps its
 *   realm on the registry's own host.
 * - `POST /api/me`: verifies the API signature `POST,/api/me?ts=<ts>` (the path, not the URL) and
 *   answers the account, or 401 `{"error":"unauthorized"}` for an unknown key.
 *
 * The verifier is written independently of lib/ (its own blob decoding and message building), so a
 * mistake in the signer cannot be mirrored here.
 */
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ResourceActions } from './token-issuer.js'

export interface OllamaAccount {
  /** The `ssh-ed25519 AAAA…` line registered for this account. */
  publicLine: string
  /** Account name: its own namespace. */
  name: string
  /** Namespaces the key may push to. Default `[name]`. */
  namespaces?: readonly string[]
}

export interface OllamaComOptions {
  /** Base URL of the registry behind `/v2/` (the real registry, or a proxy in front of it). */
  upstream: string
  /** The registry's `auth.token.service`: the `service` advertised and the JWT's audience. */
  service: string
  /** Mint a JWT the registry accepts (e.g. `StartedRegistry.tokenIssuer.mint`). */
  mint: (subject: string, access: readonly ResourceActions[]) => string
  accounts: readonly OllamaAccount[]
  /** Advertise the realm under this host name (same port) instead of 127.0.0.1, to test the client's host rule. */
  realmHostname?: string
  /** Allowed clock skew of `ts`, seconds. Default 300. */
  tsWindowSeconds?: number
  /** Repositories (`namespace/model`) only accounts owning the namespace may pull, as a private model. Default none. */
  privateRepositories?: readonly string[]
}

export interface ProxiedRecord {
  method: string
  path: string
  query: string
  length: number
  status: number
}

/** What the stand-in decided about one signed request. */
export interface SignedRequestRecord {
  endpoint: 'token' | 'me'
  status: number
  /** Why it was refused (`unknown key`, `bad signature`, `stale ts`, `reused nonce`, …), or `ok`. */
  outcome: string
  account: string | undefined
  scopes: string[]
  granted: ResourceActions[]
  /** The raw query string as received. */
  rawQuery: string
}

export interface OllamaCom {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** `127.0.0.1:PORT`: what goes in a model name. */
  readonly host: string
  /** The realm advertised in challenges. */
  readonly realm: string
  readonly requests: readonly SignedRequestRecord[]
  /** Every `/v2/` request proxied: method, path, the raw query, the request's `Content-Length` (0 when absent) and the status. */
  readonly proxied: ReadonlyArray<ProxiedRecord>
  close(): Promise<void>
}

const EMPTY_BODY_Z = Buffer.from(createHash('sha256').update(Buffer.alloc(0)).digest('hex'), 'ascii').toString('base64')

/** Decode `uint32 len "ssh-ed25519" uint32 32 <key>`; undefined when it is anything else. */
function ed25519KeyOfBlob(blob: Buffer): Buffer | undefined {
  if (blob.length !== 4 + 11 + 4 + 32) return undefined
  if (blob.readUInt32BE(0) !== 11 || blob.toString('latin1', 4, 15) !== 'ssh-ed25519' || blob.readUInt32BE(15) !== 32) return undefined
  return blob.subarray(19)
}

/** Split `<pubkey b64>:<sig b64>` and verify the signature over `message` against the account keys. */
function verifySigned(header: string | undefined, message: string, accounts: readonly OllamaAccount[]): { account?: OllamaAccount; outcome: string } {
  if (header === undefined) return { outcome: 'no authorization' }
  const parts = header.split(':')
  if (parts.length !== 2) return { outcome: 'malformed authorization' }
  const [pubB64, sigB64] = parts as [string, string]
  const raw = ed25519KeyOfBlob(Buffer.from(pubB64, 'base64'))
  if (raw === undefined) return { outcome: 'not an ed25519 key' }
  const account = accounts.find((entry) => entry.publicLine.split(' ')[1] === pubB64)
  if (account === undefined) return { outcome: 'unknown key' }
  const key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } })
  const ok = verify(null, Buffer.from(message, 'utf8'), key, Buffer.from(sigB64, 'base64'))
  return ok ? { account, outcome: 'ok' } : { outcome: 'bad signature' }
}

export async function startOllamaCom(options: OllamaComOptions): Promise<OllamaCom> {
  const upstream = new URL(options.upstream)
  const windowSeconds = options.tsWindowSeconds ?? 300
  const requests: SignedRequestRecord[] = []
  const proxied: ProxiedRecord[] = []
  const privateRepositories = new Set(options.privateRepositories ?? [])
  const seenNonces = new Set<string>()
  let origin = ''
  let realm = ''

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text)
  }
  const freshTs = (ts: string | null) => ts !== null && /^\d+$/.test(ts) && Math.abs(Number(ts) - Date.now() / 1000) <= windowSeconds

  const token = (req: IncomingMessage, res: ServerResponse, rawQuery: string) => {
    const query = new URLSearchParams(rawQuery)
    const record: SignedRequestRecord = { endpoint: 'token', status: 0, outcome: '', account: undefined, scopes: query.getAll('scope'), granted: [], rawQuery }
    requests.push(record)
    const refuse = (status: number, outcome: string) => {
      record.status = status
      record.outcome = outcome
      json(res, status, { errors: [{ code: 'UNAUTHORIZED', message: outcome }] })
    }
    // The URL as signed: the realm as we advertise it, plus the query exactly as it arrived.
    const signedUrl = `${realm}?${rawQuery}`
    const verdict = verifySigned(req.headers.authorization, `GET,${signedUrl},${EMPTY_BODY_Z}`, options.accounts)
    if (verdict.account === undefined) return refuse(401, verdict.outcome)
    record.account = verdict.account.name
    if (!freshTs(query.get('ts'))) return refuse(401, 'stale ts')
    const nonce = query.get('nonce')
    if (nonce === null || nonce.length < 16) return refuse(401, 'missing nonce')
    if (seenNonces.has(nonce)) return refuse(401, 'reused nonce')
    seenNonces.add(nonce)
    if (query.get('service') !== options.service) return refuse(400, 'wrong service')
    const own = options.accounts.find((a) => a === verdict.account)!.namespaces ?? [verdict.account.name]
    for (const scope of record.scopes) {
      const match = /^repository:([^/:]+)\/([^:]+):([a-z,*]+)$/.exec(scope)
      if (match === null) continue
      const [, namespace, model, actions] = match as unknown as [string, string, string, string]
      const mine = own.includes(namespace)
      const readable = mine || !privateRepositories.has(`${namespace}/${model}`)
      const allowed = actions.split(',').filter((action) => (action === 'pull' && readable) || (action === 'push' && mine))
      if (allowed.length > 0) record.granted.push({ type: 'repository', name: `${namespace}/${model}`, actions: allowed })
    }
    record.status = 200
    record.outcome = 'ok'
    json(res, 200, { token: options.mint(verdict.account.name, record.granted) })
  }

  const me = (req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string) => {
    const record: SignedRequestRecord = { endpoint: 'me', status: 0, outcome: '', account: undefined, scopes: [], granted: [], rawQuery }
    requests.push(record)
    req.resume()
    const verdict = verifySigned(req.headers.authorization, `${req.method},${path}?${rawQuery}`, options.accounts)
    const ts = new URLSearchParams(rawQuery).get('ts')
    if (verdict.account === undefined || !freshTs(ts)) {
      record.status = 401
      record.outcome = verdict.account === undefined ? verdict.outcome : 'stale ts'
      return json(res, 401, { error: 'unauthorized' })
    }
    record.status = 200
    record.outcome = 'ok'
    record.account = verdict.account.name
    json(res, 200, { id: randomUUID(), email: `${verdict.account.name}@example.com`, name: verdict.account.name })
  }

  const proxy = (req: IncomingMessage, res: ServerResponse, pathAndQuery: string) => {
    const headers = { ...req.headers, host: upstream.host }
    const forward = http.request(new URL(pathAndQuery, upstream), { method: req.method, headers }, (answer) => {
      const out: Record<string, string | string[]> = {}
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined) continue
        // Both upload URLs the registry hands out (`Docker-Upload-Location` beside a 307) are on its own origin.
        if ((name === 'location' || name === 'docker-upload-location') && typeof value === 'string') out[name] = value.startsWith(upstream.origin) ? origin + value.slice(upstream.origin.length) : value
        else if (name === 'www-authenticate' && typeof value === 'string') out[name] = value.replace(/realm="[^"]*"/, `realm="${realm}"`)
        else out[name] = value
      }
      const [path = '', query = ''] = pathAndQuery.split('?', 2)
      proxied.push({ method: req.method ?? '', path, query, length: Number(req.headers['content-length'] ?? 0), status: answer.statusCode ?? 0 })
      res.writeHead(answer.statusCode ?? 502, out)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.on('error', () => forward.destroy())
    req.pipe(forward)
  }

  const server = http.createServer((req, res) => {
    const target = req.url ?? '/'
    const question = target.indexOf('?')
    const path = question < 0 ? target : target.slice(0, question)
    const rawQuery = question < 0 ? '' : target.slice(question + 1)
    if (path === '/token' && req.method === 'GET') return token(req, res, rawQuery)
    if (path === '/api/me' && req.method === 'POST') return me(req, res, path, rawQuery)
    if (path === '/v2' || path.startsWith('/v2/')) return proxy(req, res, target)
    req.resume()
    json(res, 404, { error: 'not found' })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  server.unref()
  const { port } = server.address() as AddressInfo
  origin = `http://127.0.0.1:${port}`
  realm = `http://${options.realmHostname ?? '127.0.0.1'}:${port}/token`
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    realm,
    requests,
    proxied,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
