/**
 * Throughput of OciRegistryUploader.uploadBlob, run with `npx tsx spec/bench/uploader-throughput.ts [MiB]`.
 *
 * 1. Into a discard server (a separate Node process that reads and drops PATCH bodies) on
 *    loopback: the uploader vs a bare `http.request` pipe, from a file read in 1 MiB chunks (what
 *    FilesystemStorage does) and from memory (no disk reads at all).
 * 2. Into Debian's docker-registry: the uploader vs curl doing the same POST / PATCH -T / PUT.
 *
 * Prints MiB/s per run and the median. Not part of `npm test`.
 */
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { TargetedUploader } from '../support/targeted-uploader.js'
import type { RegistryTarget } from '../../lib/registry/uploader.js'
import { startRegistry } from '../support/registry.js'

const MiB = 1024 * 1024
const SIZE = Number(process.argv[2] ?? 1024) * MiB
const RUNS = Number(process.env.RUNS ?? 5)
const execFileAsync = promisify(execFile)

const DISCARD_SERVER = `
const http = require('node:http')
let n = 0
const server = http.createServer((req, res) => {
  if (req.method === 'POST') return res.writeHead(202, { Location: '/v2/bench/m/blobs/uploads/u' + (++n) + '?_state=s' }).end()
  let bytes = 0
  req.on('data', (c) => { bytes += c.length })
  req.on('end', () => {
    if (req.method === 'PATCH') return res.writeHead(202, { Location: req.url.split('?')[0] + '?_state=t', Range: '0-' + (bytes - 1) }).end()
    if (req.method === 'PUT') return res.writeHead(201).end()
    res.writeHead(404).end()
  })
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
`

async function startDiscardServer(): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, ['-e', DISCARD_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))))
  return { port, stop: () => child.kill() }
}

async function makeFile(dir: string, size: number): Promise<{ path: string; digest: string }> {
  const path = join(dir, 'blob.bin')
  const file = await open(path, 'w')
  const hash = createHash('sha256')
  const piece = Buffer.alloc(MiB)
  for (let written = 0; written < size; written += piece.length) {
    for (let i = 0; i < piece.length; i += 4) piece.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i)
    const part = piece.subarray(0, Math.min(piece.length, size - written))
    hash.update(part)
    await file.write(part)
  }
  await file.close()
  return { path, digest: `sha256:${hash.digest('hex')}` }
}

function memoryStream(size: number): Readable {
  const piece = Buffer.alloc(MiB, 7)
  let left = size
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (left <= 0) return void this.push(null)
      const n = Math.min(piece.length, left)
      left -= n
      this.push(n === piece.length ? piece : piece.subarray(0, n))
    },
  })
}

async function measure(label: string, run: () => Promise<unknown>): Promise<number> {
  await run() // warm-up
  const rates: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint()
    await run()
    rates.push(SIZE / MiB / (Number(process.hrtime.bigint() - started) / 1e9))
  }
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!
  console.log(`${label.padEnd(44)} median ${median.toFixed(0).padStart(5)} MiB/s   runs ${rates.map((r) => r.toFixed(0)).join(' ')}`)
  return median
}

const dir = await mkdtemp(join(tmpdir(), 'emp-bench-'))
try {
  console.log(`blob: ${SIZE / MiB} MiB, ${RUNS} runs each (after a warm-up)`)
  const file = await makeFile(dir, SIZE)
  const descriptor = { mediaType: 'application/vnd.ollama.image.model', digest: file.digest, size: SIZE }
  const fromFile = () => createReadStream(file.path, { highWaterMark: MiB })

  // 1. discard server
  const discard = await startDiscardServer()
  const uploader = new TargetedUploader()
  const target: RegistryTarget = { host: `127.0.0.1:${discard.port}`, repository: 'bench/m', insecure: true }
  const agent = new http.Agent({ keepAlive: true })
  const bare = (source: () => Readable) => () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port: discard.port, method: 'PATCH', path: '/v2/bench/m/blobs/uploads/x', agent, headers: { 'Content-Length': SIZE, 'Content-Type': 'application/octet-stream' } },
        (response) => response.resume().on('end', resolve),
      )
      request.on('error', reject)
      source().pipe(request)
    })
  console.log('\ninto a discard server on loopback')
  await measure('uploader, file (1 MiB reads)', () => uploader.uploadBlob(target, descriptor, async () => fromFile(), { onBytes: () => undefined }))
  await measure('bare http.request pipe, file (1 MiB reads)', bare(fromFile))
  await measure('uploader, memory', () => uploader.uploadBlob(target, descriptor, async () => memoryStream(SIZE), { onBytes: () => undefined }))
  await measure('bare http.request pipe, memory', bare(() => memoryStream(SIZE)))
  uploader.close()
  agent.destroy()
  discard.stop()

  // 2. real registry vs curl, interleaved, the registry's storage emptied between pairs (a filling
  //    disk and page cache otherwise favour whoever runs first).
  const registry = await startRegistry({ auth: 'none' })
  try {
    console.log('\ninto docker-registry (distribution 2.8, filesystem storage), interleaved with curl')
    let n = 0
    const real = new TargetedUploader()
    const viaUploader = () => real.uploadBlob({ host: registry.host, repository: `bench/u${++n}`, insecure: true }, descriptor, async () => fromFile())
    const viaCurl = async () => {
      const base = `${registry.url}/v2/bench/c${++n}/blobs/uploads/`
      const started = await execFileAsync('curl', ['-sS', '-X', 'POST', '-o', '/dev/null', '-D', '-', base])
      const location = /^location:\s*(\S+)/im.exec(started.stdout)?.[1]
      if (location === undefined) throw new Error('no Location from POST')
      const patched = await execFileAsync('curl', ['-sS', '-X', 'PATCH', '-T', file.path, '-H', 'Content-Type: application/octet-stream', '-o', '/dev/null', '-D', '-', location])
      const next = /^location:\s*(\S+)/im.exec(patched.stdout)?.[1]
      if (next === undefined) throw new Error('no Location from PATCH')
      await execFileAsync('curl', ['-sS', '-f', '-X', 'PUT', '-o', '/dev/null', `${next}&digest=${encodeURIComponent(file.digest)}`])
    }
    const empty = () => rm(join(registry.storageDir, 'docker'), { recursive: true, force: true })
    const seconds = async (run: () => Promise<unknown>) => {
      const started = process.hrtime.bigint()
      await run()
      return Number(process.hrtime.bigint() - started) / 1e9
    }
    await viaUploader()
    await viaCurl()
    await empty()
    const ours: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < RUNS; i++) {
      ours.push(await seconds(viaUploader))
      theirs.push(await seconds(viaCurl))
      await empty()
      console.log(`  uploader ${(SIZE / MiB / ours[i]!).toFixed(0).padStart(4)} MiB/s   curl ${(SIZE / MiB / theirs[i]!).toFixed(0).padStart(4)} MiB/s`)
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
    console.log(`median: uploader ${(SIZE / MiB / median(ours)).toFixed(0)} MiB/s, curl ${(SIZE / MiB / median(theirs)).toFixed(0)} MiB/s, uploader time / curl time ${(median(ours) / median(theirs)).toFixed(3)}×`)
    real.close()
  } finally {
    await registry.stop()
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
