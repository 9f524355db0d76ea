#!/usr/bin/env node
// @ts-check
/**
 * A discarding registry for the push benchmark: answers the OCI distribution upload calls the way
 * distribution 2.8 does and throws the bytes away, so a push into it measures the pusher's own
 * overhead, not the registry's disk and hashing.
 *
 * It runs in its own process (plain `node`, nothing else loaded) rather than inside the pushing
 * process: on a 2-core machine an in-process sink would share the pusher's event loop and JS
 * thread, charging its own work to our throughput and its buffers to our peak RSS.
 *
 *   GET    /v2/                                   200 {}
 *   HEAD   /v2/<repo>/blobs/<digest>              200 when committed to <repo> in this process, else 404
 *   POST   /v2/<repo>/blobs/uploads/              202 + Location (a body, if any, is counted)
 *   PATCH  /v2/<repo>/blobs/uploads/<id>          202 + new Location + Range: 0-<last>
 *   PUT    /v2/<repo>/blobs/uploads/<id>?digest=  201 + Docker-Content-Digest
 *   DELETE /v2/<repo>/blobs/uploads/<id>          204
 *   PUT    /v2/<repo>/manifests/<ref>             201 + Docker-Content-Digest (sha256 of the body)
 *   GET    /_stats                                the byte count each committed blob received, our CPU time
 *
 * Blob bytes are only counted, never hashed or kept; the benchmark checks the counts against the
 * blob sizes (`/_stats`). Usage: `node discard-registry.mjs` → prints `{"port":N}` on stdout, listens
 * on 127.0.0.1 until stdin closes.
 */
import { createHash, randomUUID } from 'node:crypto'
import http from 'node:http'

/** @type {Map<string, number>} upload id -> bytes received so far */
const sessions = new Map()
/** @type {Map<string, Map<string, number>>} repo -> digest -> bytes received */
const committed = new Map()
const stats = { commits: 0, blobBytes: 0, manifests: 0, requests: 0 }

const BLOB = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/
const UPLOADS = /^\/v2\/(.+)\/blobs\/uploads\/$/
const UPLOAD = /^\/v2\/(.+)\/blobs\/uploads\/([0-9a-f-]{36})$/
const MANIFEST = /^\/v2\/(.+)\/manifests\/([^/]+)$/

const server = http.createServer((req, res) => {
  stats.requests++
  const url = new URL(req.url ?? '/', 'http://discard')
  const path = url.pathname
  const method = req.method ?? 'GET'
  res.setHeader('Docker-Distribution-Api-Version', 'registry/2.0')
  let match
  if (path === '/v2/' && (method === 'GET' || method === 'HEAD')) return answer(res, 200, {}, '{}')
  if (path === '/_stats' && method === 'GET') {
    const blobs = Object.fromEntries([...committed].map(([repo, digests]) => [repo, Object.fromEntries(digests)]))
    const cpu = process.cpuUsage()
    return answer(res, 200, { 'Content-Type': 'application/json' }, JSON.stringify({ ...stats, cpuMs: (cpu.user + cpu.system) / 1000, blobs }))
  }
  if ((match = BLOB.exec(path)) && (method === 'HEAD' || method === 'GET')) {
    const size = committed.get(match[1] ?? '')?.get(match[2] ?? '')
    if (size === undefined) return answer(res, 404, {}, method === 'HEAD' ? '' : error('BLOB_UNKNOWN'))
    return answer(res, 200, { 'Content-Length': String(size), 'Docker-Content-Digest': match[2] ?? '' }, '')
  }
  if ((match = UPLOADS.exec(path)) && method === 'POST') {
    const id = randomUUID()
    return drain(req, (bytes) => {
      sessions.set(id, bytes)
      answer(res, 202, uploadHeaders(match[1] ?? '', id, bytes), '')
    })
  }
  if ((match = UPLOAD.exec(path))) {
    const repo = match[1] ?? ''
    const id = match[2] ?? ''
    const held = sessions.get(id)
    if (held === undefined) return drain(req, () => answer(res, 404, {}, error('BLOB_UPLOAD_UNKNOWN')))
    if (method === 'PATCH') {
      return drain(req, (bytes) => {
        const total = held + bytes
        sessions.set(id, total)
        answer(res, 202, uploadHeaders(repo, id, total), '')
      })
    }
    if (method === 'PUT') {
      const digest = url.searchParams.get('digest') ?? ''
      return drain(req, (bytes) => {
        const total = held + bytes
        sessions.delete(id)
        let digests = committed.get(repo)
        if (digests === undefined) committed.set(repo, (digests = new Map()))
        digests.set(digest, total)
        stats.commits++
        stats.blobBytes += total
        answer(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest }, '')
      })
    }
    if (method === 'DELETE') {
      sessions.delete(id)
      return drain(req, () => answer(res, 204, {}, ''))
    }
  }
  if ((match = MANIFEST.exec(path)) && method === 'PUT') {
    const hash = createHash('sha256')
    req.on('data', (chunk) => hash.update(chunk))
    req.on('end', () => {
      stats.manifests++
      const digest = `sha256:${hash.digest('hex')}`
      answer(res, 201, { Location: `/v2/${match[1]}/manifests/${digest}`, 'Docker-Content-Digest': digest }, '')
    })
    return
  }
  drain(req, () => answer(res, 404, {}, error('UNSUPPORTED')))
})

/** Count and drop a request body, then call `done` with the byte count. */
function drain(req, done) {
  let bytes = 0
  req.on('data', (chunk) => {
    bytes += chunk.length
  })
  req.on('end', () => done(bytes))
}

function uploadHeaders(repo, id, bytes) {
  return {
    Location: `/v2/${repo}/blobs/uploads/${id}?_state=${bytes}`,
    'Docker-Upload-UUID': id,
    Range: `0-${Math.max(0, bytes - 1)}`,
  }
}

function error(code) {
  return JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace(/_/g, ' ') }] })
}

function answer(res, status, headers, body) {
  res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)), ...headers })
  res.end(body)
}

server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`)
})
// Our parent holds stdin: when it goes (however it dies), so do we.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
