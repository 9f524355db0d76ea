/**
 * A stand-in for ollama.com's redirected uploads, in front of a real registry (Debian's, or another
 * front): an HTTP proxy on 127.0.0.1 and a free port that forwards every request to `upstream`
 * (Authorization and WWW-Authenticate included; the upstream origin in `Location` and in a realm is
 * rewritten to its own), except that
 * - a PATCH carrying `X-Redirect-Uploads: 1` is answered 307: `Location` points at a small object
 *   store stand-in (its own origin, a pre-signed-looking URL), `Docker-Upload-Location` at the same
 *   session (no bytes went upstream);
 * - the object store refuses any request carrying `Authorization` (and counts it), stores each part
 *   in a temp file and answers with its MD5 as `ETag`;
 * - a commit `PUT ?digest=&etag=` on a session with stored parts checks the etag (hex MD5 of the
 *   concatenated binary part MD5s, `-<n>`) and that the parts tile the blob, then feeds the parts in
 *   order into the upstream session and commits there (the registry checks the digest).
 * Built from Ollama's client behaviour (server/upload.go), not from ollama.com's code.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

interface StoredPart {
  readonly start: number
  readonly end: number
  readonly file: string
  readonly md5: Buffer
}

export interface RedirectRegistry {
  /** `127.0.0.1:PORT` of the front: what goes in a model name. */
  readonly host: string
  /** What passed: redirects answered, parts stored, requests to the store with Authorization, commits and their etag checks. */
  readonly stats: { redirects: number; storedParts: number; storeAuthorizations: number; commits: Array<{ etag: string | undefined; etagOk: boolean }> }
  /** Make the object store answer 500 to the next `n` part uploads (after reading them); only to the part at byte `start` when given. */
  failNextParts(n: number, start?: number): void
  stop(): Promise<void>
}

export async function startRedirectRegistry(upstream: string): Promise<RedirectRegistry> {
  const upstreamUrl = new URL(upstream)
  const dir = await mkdtemp(join(tmpdir(), 'emp-redirect-'))
  const sessions = new Map<string, StoredPart[]>()
  const pending = new Map<string, { session: string; start: number; end: number }>()
  const stats: RedirectRegistry['stats'] = { redirects: 0, storedParts: 0, storeAuthorizations: 0, commits: [] }
  let failing = 0
  let failingStart: number | undefined
  let front = ''
  let store = ''

  const sessionOf = (path: string) => /\/blobs\/uploads\/([^/?]+)/.exec(path)?.[1]
  const rewrite = (value: string | undefined) => value?.split(upstreamUrl.origin).join(front)

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers, host: upstreamUrl.host }
    const out = http.request(new URL(req.url ?? '/', upstreamUrl), { method: req.method, headers }, (answer) => {
      const answerHeaders = { ...answer.headers }
      for (const name of ['location', 'www-authenticate', 'docker-upload-location'] as const) {
        const value = answerHeaders[name]
        if (typeof value === 'string') answerHeaders[name] = rewrite(value)
      }
      res.writeHead(answer.statusCode ?? 502, answerHeaders)
      answer.pipe(res)
    })
    out.on('error', () => res.destroy())
    if (req.readableEnded) out.end()
    else req.pipe(out)
  }

  /** Feed stored parts into the upstream session, then commit there; answers like the registry. */
  const commit = async (req: IncomingMessage, res: ServerResponse, session: string, parts: StoredPart[]) => {
    const url = new URL(req.url ?? '/', upstreamUrl)
    const etag = url.searchParams.get('etag') ?? undefined
    const ordered = [...parts].sort((a, b) => a.start - b.start)
    const expected = `${createHash('md5').update(Buffer.concat(ordered.map((part) => part.md5))).digest('hex')}-${ordered.length}`
    const tiles = ordered.every((part, i) => part.start === (i === 0 ? 0 : ordered[i - 1]!.end))
    stats.commits.push({ etag, etagOk: etag === expected && tiles })
    if (etag !== expected || !tiles) {
      return void res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_INVALID', message: `etag ${etag} is not ${expected}` }] }))
    }
    url.searchParams.delete('digest')
    url.searchParams.delete('etag')
    let location = `${url.pathname}${url.search}`
    const digest = new URL(req.url ?? '/', upstreamUrl).searchParams.get('digest') ?? ''
    const auth = req.headers.authorization
    for (const part of ordered) {
      const answer = await new Promise<IncomingMessage>((resolve, reject) => {
        const size = part.end - part.start
        const out = http.request(new URL(location, upstreamUrl), {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size, ...(auth === undefined ? {} : { Authorization: auth }) },
        }, resolve)
        out.on('error', reject)
        createReadStream(part.file).pipe(out)
      })
      answer.resume()
      if (answer.statusCode !== 202 || answer.headers.location === undefined) {
        return void res.writeHead(502).end(`upstream PATCH answered ${answer.statusCode}`)
      }
      location = answer.headers.location
    }
    const final = new URL(location, upstreamUrl)
    final.searchParams.set('digest', digest)
    sessions.delete(session)
    req.url = `${final.pathname}${final.search}`
    forward(req, res)
  }

  const frontServer = http.createServer((req, res) => {
    const session = sessionOf(req.url ?? '')
    if (req.method === 'PATCH' && req.headers['x-redirect-uploads'] === '1' && session !== undefined) {
      const range = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''))
      if (range === null) return void res.writeHead(416).end()
      const token = randomBytes(12).toString('hex')
      pending.set(token, { session, start: Number(range[1]), end: Number(range[2]) + 1 })
      stats.redirects++
      // ollama.com answers before taking the body; the client sends the part to the store instead.
      res.writeHead(307, {
        Location: `${store}/bucket/${token}?X-Amz-Signature=${randomBytes(8).toString('hex')}`,
        'Docker-Upload-Location': `${front}${req.url}`,
        'Content-Length': '0',
      }).end()
      req.resume()
      return
    }
    const parts = session === undefined ? undefined : sessions.get(session)
    if (req.method === 'PUT' && session !== undefined && parts !== undefined && parts.length > 0) {
      req.resume()
      return void commit(req, res, session, parts).catch(() => res.destroy())
    }
    forward(req, res)
  })

  const storeServer = http.createServer((req, res) => {
    const token = /^\/bucket\/([0-9a-f]+)/.exec(req.url ?? '')?.[1]
    const target = token === undefined ? undefined : pending.get(token)
    if (req.headers.authorization !== undefined) {
      stats.storeAuthorizations++
      req.resume()
      return void res.writeHead(400).end('Authorization is not allowed on pre-signed URLs')
    }
    if (req.method !== 'PUT' || target === undefined) {
      req.resume()
      return void res.writeHead(404).end()
    }
    const file = join(dir, `${token}-${randomBytes(4).toString('hex')}`)
    const md5 = createHash('md5')
    req.on('data', (chunk: Buffer) => md5.update(chunk))
    pipeline(req, createWriteStream(file))
      .then(async () => {
        const size = (await stat(file)).size
        if (failing > 0 && (failingStart === undefined || failingStart === target.start)) {
          failing--
          return void res.writeHead(500).end()
        }
        if (size !== target.end - target.start) return void res.writeHead(400).end('short part')
        const digest = md5.digest()
        const parts = sessions.get(target.session) ?? []
        sessions.set(target.session, [...parts.filter((part) => part.start !== target.start), { start: target.start, end: target.end, file, md5: digest }])
        stats.storedParts++
        res.writeHead(200, { ETag: `"${digest.toString('hex')}"` }).end()
      })
      .catch(() => res.destroy())
  })

  const listen = (server: http.Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
  front = `http://127.0.0.1:${await listen(frontServer)}`
  store = `http://127.0.0.1:${await listen(storeServer)}`
  return {
    host: front.slice('http://'.length),
    stats,
    failNextParts: (n, start) => {
      failing = n
      failingStart = start
    },
    stop: async () => {
      for (const server of [frontServer, storeServer]) {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
