/**
 * The ingest section of `npm run bench` (`--only ingest` runs it alone): a raw and a multipart
 * upload of one `--size` blob (default 1 GiB) through the HTTP server (`createModelRouter` over
 * `FilesystemStorage`, a plain-node child running the build), sent by curl from a file and timed by
 * curl's own `time_total`, against `sha256sum` + `cp` + `sync` of the same file in the same run: the
 * work ingest does (hash, copy, make durable) without HTTP. Each measurement is a fresh server, so
 * its peak RSS (VmHWM) is that upload's alone; the `--big` size (default 4 GiB) shows whether it
 * stays flat. Rounds interleave baseline and uploads, so a load change hits all of them alike.
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { generatedBlob } from '../support/generated-blob.js'
import { startModelServer } from '../support/model-server.js'
import { formatSize, type BenchArgs } from './bench-args.js'
import { runTimed } from './processes.js'

type Kind = 'raw' | 'multipart'

interface IngestSample {
  kind: Kind | 'baseline'
  size: number
  ms: number
  /** Server peak RSS for this upload (fresh server), MiB. */
  peakMiB?: number
  /** The same server's peak RSS before the upload (started, idle), MiB. */
  idleMiB?: number
}

export interface IngestResult {
  samples: IngestSample[]
  rows: Array<{ label: string; size: number; medianMs: number; minMs: number; ratio?: number; peakMiB?: number; idleMiB?: number; mibPerS: number }>
  markdown: string
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function makeFile(path: string, size: number, seed: number): Promise<string> {
  await pipeline(generatedBlob(size, seed), createWriteStream(path))
  const run = await runTimed('sha256sum', [path])
  return `sha256:${run.stdout.split(' ')[0]}`
}

/** `sha256sum` + `cp` + `sync` of the file: what a local ingest costs without HTTP. */
async function baseline(file: string, dest: string): Promise<number> {
  const started = performance.now()
  const run = await runTimed('sh', ['-c', 'sha256sum "$1" >/dev/null && cp "$1" "$2" && sync "$2"', 'sh', file, dest])
  const ms = performance.now() - started
  if (run.code !== 0) throw new Error(`baseline failed: ${run.stderr}`)
  await rm(dest, { force: true })
  return ms
}

function curl(args: readonly string[]): Promise<{ code: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.once('error', reject)
    child.once('exit', () => {
      const [code, seconds] = out.trim().split(' ')
      resolve({ code: code ?? '', seconds: Number(seconds) })
    })
  })
}

/** One upload to a fresh server; resolves curl's time and the server's peak RSS. */
async function upload(entry: string, kind: Kind, file: string, digest: string, scratch: string): Promise<{ ms: number; peakMiB: number; idleMiB: number }> {
  const root = await mkdtemp(join(scratch, 'models-'))
  const server = await startModelServer(entry, root)
  try {
    const idleMiB = (await server.memory()).hwmKiB / 1024
    const url = `${server.url}/api/blobs/${digest}`
    const args = kind === 'raw' ? ['-X', 'POST', '-T', file, '-H', 'Content-Type: application/octet-stream', url] : ['-F', `file=@${file}`, url]
    const result = await curl(args)
    if (result.code !== '201') throw new Error(`${kind} upload answered ${result.code}`)
    return { ms: result.seconds * 1000, peakMiB: (await server.memory()).hwmKiB / 1024, idleMiB }
  } finally {
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
}

export async function runIngestBench(args: BenchArgs, entry: string, log: (message: string) => void): Promise<IngestResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'emp-bench-ingest-'))
  const samples: IngestSample[] = []
  try {
    const file = join(scratch, 'blob.bin')
    log(`ingest: writing a ${formatSize(args.size)} test file`)
    const digest = await makeFile(file, args.size, 41)
    for (let round = 1; round <= args.runs; round++) {
      samples.push({ kind: 'baseline', size: args.size, ms: await baseline(file, join(scratch, 'copy.bin')) })
      for (const kind of ['raw', 'multipart'] as const) samples.push({ kind, size: args.size, ...(await upload(entry, kind, file, digest, scratch)) })
      const last = samples.slice(-3)
      log(`ingest round ${round}/${args.runs}: ${last.map((s) => `${s.kind} ${(s.ms / 1000).toFixed(2)} s${s.peakMiB ? ` (${s.peakMiB.toFixed(0)} MiB)` : ''}`).join(', ')}`)
    }
    await rm(file, { force: true })
    if (args.big > 0 && args.big !== args.size) {
      const big = join(scratch, 'big.bin')
      log(`ingest: writing a ${formatSize(args.big)} test file for the memory check`)
      const bigDigest = await makeFile(big, args.big, 42)
      for (let run = 1; run <= args.bigRuns; run++) {
        samples.push({ kind: 'baseline', size: args.big, ms: await baseline(big, join(scratch, 'copy.bin')) })
        for (const kind of ['raw', 'multipart'] as const) samples.push({ kind, size: args.big, ...(await upload(entry, kind, big, bigDigest, scratch)) })
      }
      await rm(big, { force: true })
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  const rows: IngestResult['rows'] = []
  for (const size of [...new Set(samples.map((s) => s.size))]) {
    const of = (kind: IngestSample['kind']) => samples.filter((s) => s.size === size && s.kind === kind)
    const base = median(of('baseline').map((s) => s.ms))
    for (const kind of ['baseline', 'raw', 'multipart'] as const) {
      const list = of(kind)
      const ms = median(list.map((s) => s.ms))
      const peaks = list.map((s) => s.peakMiB).filter((p): p is number => p !== undefined)
      const idles = list.map((s) => s.idleMiB).filter((p): p is number => p !== undefined)
      rows.push({
        label: kind === 'baseline' ? 'sha256sum + cp + sync' : `POST /api/blobs (${kind}, curl)`,
        size,
        medianMs: ms,
        minMs: Math.min(...list.map((s) => s.ms)),
        mibPerS: size / 1024 / 1024 / (ms / 1000),
        ...(kind === 'baseline' ? {} : { ratio: ms / base, peakMiB: Math.max(...peaks), idleMiB: Math.max(...idles) }),
      })
    }
  }
  const markdown = [
    '| what | size | runs | median | best | MiB/s | × baseline | server peak RSS (idle before) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const runs = samples.filter((s) => s.size === r.size && (r.label.includes(s.kind) || (s.kind === 'baseline' && r.ratio === undefined))).length
      return `| ${r.label} | ${formatSize(r.size)} | ${runs} | ${(r.medianMs / 1000).toFixed(2)} s | ${(r.minMs / 1000).toFixed(2)} s | ${r.mibPerS.toFixed(0)} | ${r.ratio === undefined ? '1.00' : r.ratio.toFixed(2)} | ${r.peakMiB === undefined ? '' : `${r.peakMiB.toFixed(0)} MiB (${r.idleMiB?.toFixed(0)} MiB)`} |`
    }),
  ].join('\n')
  await mkdir(args.out, { recursive: true })
  await writeFile(join(args.out, 'ingest-results.json'), `${JSON.stringify({ samples, rows }, null, 2)}\n`)
  await writeFile(join(args.out, 'ingest-results.md'), `${markdown}\n`)
  return { samples, rows, markdown }
}
