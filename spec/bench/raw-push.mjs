#!/usr/bin/env node
// @ts-check
/**
 * A minimal raw pusher in plain Node, for the benchmark's reference rows: one blob as POST, one
 * streamed PATCH (the file piped into the socket in 1 MiB reads), `PUT ?digest=`. No retries, no
 * auth, no progress. Prints one JSON line: {ms, hwmKiB, status}.
 *
 *   node raw-push.mjs <registryUrl> <repository> <file> <digest> <size>
 */
import { createReadStream, readFileSync } from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'

const [base, repository, file, digest, sizeText] = process.argv.slice(2)
if (!base || !repository || !file || !digest || !sizeText) {
  process.stderr.write('usage: raw-push.mjs <registryUrl> <repository> <file> <digest> <size>\n')
  process.exit(2)
}
const size = Number(sizeText)
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

/**
 * @param {string} method
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {import('node:stream').Readable} [body]
 * @returns {Promise<{status: number, headers: import('node:http').IncomingHttpHeaders}>}
 */
function request(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body === undefined) req.end()
    else body.pipe(req)
  })
}

const started = performance.now()
const post = await request('POST', `${base}/v2/${repository}/blobs/uploads/`, { 'Content-Length': '0' })
if (post.status !== 202 || !post.headers.location) throw new Error(`POST: ${post.status}`)
const patch = await request(
  'PATCH',
  new URL(post.headers.location, base).toString(),
  { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
  createReadStream(file, { highWaterMark: 1024 * 1024 }),
)
if (patch.status !== 202 || !patch.headers.location) throw new Error(`PATCH: ${patch.status}`)
const commit = new URL(patch.headers.location, base)
commit.searchParams.set('digest', digest)
const put = await request('PUT', commit.toString(), { 'Content-Length': '0' })
if (put.status !== 201) throw new Error(`PUT: ${put.status}`)
const ms = performance.now() - started
const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
process.stdout.write(`${JSON.stringify({ ms, hwmKiB: hwm ? Number(hwm[1]) : undefined, status: put.status })}\n`)
agent.destroy()
