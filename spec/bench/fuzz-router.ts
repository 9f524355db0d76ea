// Fuzz the model router: N random/hostile bodies and names against /api/push, /api/show,
// /api/create, /api/copy, /api/delete and /api/blobs, with a FilesystemStorage in a temp dir and
// allowedRegistries refusing every host (so nothing leaves the machine). Reports crashes (5xx or a
// dropped connection) and any file written outside the store. Usage: tsx spec/bench/fuzz-router.ts [N] [seed]
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { createModelRouter, FilesystemStorage } from '../../lib/index.js'
import { seededRandom } from '../support/fault-proxy.js'

const count = Number(process.argv[2] ?? 10_000)
const random = seededRandom(Number(process.argv[3] ?? 8))
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
const HOSTILE = ['../../etc/passwd', '..', '.', '%2e%2e/x', 'a/../../b', '/abs/path', 'x:y:z', 'a'.repeat(400), 'h'.repeat(300) + '/n/m', 'C:\\win', 'x\u0000y', '😀/m', 'host:99999/a/b', 'registry.ollama.ai/library/llama3:latest', 'a/b/c/d', '', ' ', 'x:', ':tag', 'ns/model:' + 't'.repeat(100), 'sha256:' + '0'.repeat(64)]
function randomString(): string {
  const length = Math.floor(random() * 40)
  let out = ''
  for (let i = 0; i < length; i++) out += String.fromCharCode(Math.floor(random() * 0x3000))
  return out
}
function value(depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 6 : 8))
  switch (kind) {
    case 0: return pick(HOSTILE)
    case 1: return randomString()
    case 2: return Math.floor(random() * 2 ** 53) * (random() < 0.5 ? -1 : 1)
    case 3: return random() < 0.5
    case 4: return null
    case 5: return undefined
    case 6: return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1))
    default: return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(['model', 'name', 'from', 'files', 'source', 'destination', 'stream', 'insecure', 'username', 'password', 'template', 'parameters', randomString()]), value(depth + 1)]))
  }
}

const outside = await mkdtemp(join(tmpdir(), 'emp-fuzz-'))
const root = join(outside, 'store')
const app = express()
app.use(createModelRouter({ storage: new FilesystemStorage({ root }), allowedRegistries: () => false, maxBlobBytes: 1024 * 1024 }))
const server = app.listen(0, '127.0.0.1')
await new Promise((resolve) => server.once('listening', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const statuses: Record<string, number> = {}
let crashes = 0
for (let i = 0; i < count; i++) {
  const route = pick(['/api/push', '/api/show', '/api/create', '/api/copy', '/api/delete', '/api/blobs'])
  let body: string
  const shape = random()
  body = shape < 0.1 ? randomString() : shape < 0.2 ? pick(['{', '[]', 'null', '1', '"x"', '{"model":']) : JSON.stringify({ model: pick(HOSTILE), ...(value() as object) }) ?? ''
  const method = route === '/api/delete' ? 'DELETE' : 'POST'
  const path = route === '/api/blobs' ? `/api/blobs/${encodeURIComponent(pick(HOSTILE))}` : route
  try {
    const response = await fetch(`${base}${path}`, { method, body })
    await response.arrayBuffer()
    statuses[response.status] = (statuses[response.status] ?? 0) + 1
    if (response.status >= 500 && response.status !== 501) crashes++
  } catch {
    crashes++
  }
}
const stray = (await readdir(outside)).filter((entry) => entry !== 'store')
server.close()
await rm(outside, { recursive: true, force: true })
process.stdout.write(`${count} fuzzed requests: statuses ${JSON.stringify(statuses)}; 5xx or dropped: ${crashes}; entries outside the store: ${stray.length}\n`)
