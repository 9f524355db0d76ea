/**
 * `npm run bench`: the push benchmark (issue #3). See docs/performance.md for the method, what each
 * row means and the targets; `npm run bench -- --help` for the options.
 *
 * One invocation measures every scenario against one fresh Debian `docker-registry`, interleaving
 * the scenarios round by round (their order rotated each round), so that the ratios between them
 * hold on a noisy machine. The pushing side always runs in a child process of its own (plain `node`
 * on `dist/`, or curl/skopeo under GNU time) so its peak RSS is clean.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { makeOllamaStore, MEDIA_TYPES, goJson, type BlobInfo, type LayerSpec, type ModelSpec, type OllamaStore, type StoredModel } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { formatSize, parseBenchArgs, USAGE, type BenchArgs, type Scenario } from './bench-args.js'
import { runIngestBench } from './ingest-bench.js'
import { curlPush } from './curl-push.js'
import { httpPush } from './http-push.js'
import { rawNodePush, startDiscardRegistry, Worker, type DiscardRegistry } from './processes.js'
import {
  machineInfo,
  markdownMachine,
  markdownTable,
  markdownTargets,
  rewriteDocsSection,
  summarize,
  textTable,
  textTargets,
  writeResults,
  type Row,
  type RowSummary,
  type Sample,
  type Target,
} from './report.js'
import { makeOciLayout, skopeoPush, skopeoVersion, type OciLayout } from './skopeo.js'

/** Linux USER_HZ, the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const benchStarted = performance.now()

function log(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(1).padStart(6)} s] ${message}\n`)
}

/** The workers run `dist/`: refuse a build older than the sources. */
async function checkBuild(): Promise<void> {
  const dist = join(ROOT, 'dist', 'index.js')
  const built = await stat(dist).then((s) => s.mtimeMs, () => undefined)
  if (built === undefined) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)')
  const newest = await newestMtime(join(ROOT, 'lib'))
  if (newest > built) throw new Error('dist/ is older than lib/: run `npm run build` first (npm run bench does)')
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs)
  }
  return newest
}

/** Five small layers around the model blob, each distinct per `seed`, like a real Ollama model. */
function modelLayers(seed: string, size: number): LayerSpec[] {
  return [
    { mediaType: MEDIA_TYPES.model, size, seed: `${seed}:model` },
    { mediaType: MEDIA_TYPES.template, content: `{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}<|user|>\n{{ .Prompt }}<|end|>\n<|assistant|>\n{{/* ${seed} */}}\n` },
    { mediaType: MEDIA_TYPES.system, content: `You are a helpful assistant (${seed}).\n` },
    { mediaType: MEDIA_TYPES.params, content: goJson({ stop: ['<|end|>', '<|user|>'], temperature: 0.7, seed }) },
    { mediaType: MEDIA_TYPES.license, content: `Benchmark license for ${seed}.\nFor measuring express-model-push only.\n` },
  ]
}

/** Another name for `model` in the store (same manifest bytes, same blobs), so each run pushes to a fresh repository. */
async function alias(store: OllamaStore, model: StoredModel, host: string, repository: string): Promise<string> {
  const [namespace, name] = repository.split('/') as [string, string]
  const path = join(store.manifestsDir, host, namespace, name, 'latest')
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, model.manifestBytes)
  return `${host}/${repository}:latest`
}

/** What one library/HTTP run pushes, where, and which rows it fills. */
interface RunSpec {
  host: string
  rowId: string
  model: StoredModel
  /** Row for the warm re-pushes measured after the run. */
  repushRow?: string | undefined
  /** HTTP: row for the warm-up push (the first push of a fresh server). */
  coldRow?: string | undefined
  /** HTTP: row for a re-push as the first request of another fresh server. */
  repushColdRow?: string | undefined
  /** Package build to load (default: --dist or dist/). */
  dist?: string | undefined
}

/** The docker-registry process itself (not its watchdog shell), for its CPU time. */
function registryPid(registry: StartedRegistry): number | undefined {
  const config = join(dirname(registry.storageDir), 'config.yml')
  const found = spawnSync('pgrep', ['-f', `^\\S*docker-registry serve ${config}$`], { encoding: 'utf8' }).stdout.trim().split('\n')[0]
  return found ? Number(found) : undefined
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length
  return items.map((_, i) => items[(i + by) % n]!)
}

class Bench {
  readonly rows = new Map<string, Row>()
  readonly verified = new Set<string>()

  constructor(
    readonly args: BenchArgs,
    readonly registry: StartedRegistry,
    readonly discard: DiscardRegistry | undefined,
    readonly store: OllamaStore,
    readonly main: StoredModel,
    /** A tiny model (same structure, 4 KiB model layer) pushed first by every worker, to a repository of its own. */
    readonly warm: StoredModel,
    readonly big: StoredModel | undefined,
    readonly concurrentModels: readonly StoredModel[],
    readonly layout: OciLayout | undefined,
    readonly profileDir: string | undefined,
    readonly registryPid: number | undefined,
  ) {}

  get bigBlob(): BlobInfo {
    return this.main.layers[0]!
  }

  row(id: string, label: string, bytes: number, ratioTo?: string, note?: string): Row {
    let row = this.rows.get(id)
    if (row === undefined) this.rows.set(id, (row = { id, label, bytes, ratioTo, samples: [], note }))
    return row
  }

  add(id: string, sample: Sample): void {
    this.rows.get(id)!.samples.push(sample)
  }

  /** CPU time (ms) the registry behind `host` has used so far: the real one from /proc, the discarding one from itself. */
  async sinkCpuNow(host: string): Promise<number | undefined> {
    if (this.discard !== undefined && host === this.discard.host) return (await this.discard.stats()).cpuMs
    if (host !== this.registry.host || this.registryPid === undefined) return undefined
    try {
      const fields = (await readFile(`/proc/${this.registryPid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
      return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS)
    } catch {
      return undefined
    }
  }

  /** Run `push` (one measured push to `host`) and return its result with the registry's CPU time for it. */
  async measured<T>(host: string, push: () => Promise<T>): Promise<T & { sinkCpuMs: number | undefined }> {
    const before = await this.sinkCpuNow(host)
    const result = await push()
    const after = await this.sinkCpuNow(host)
    return { ...result, sinkCpuMs: before === undefined || after === undefined ? undefined : after - before }
  }

  /** The registry holds `model` under `repository:latest` byte-identical; full blob digests once per `config`. */
  async verifyOurs(config: string, repository: string, model: StoredModel, full = !this.verified.has(config)): Promise<void> {
    const manifest = await this.registry.getManifest(repository, 'latest')
    if (manifest.status !== 200 || !manifest.bytes.equals(model.manifestBytes)) {
      throw new Error(`${config}: the registry's manifest of ${repository} differs from the stored bytes (status ${manifest.status})`)
    }
    await this.verifyBlobs(config, repository, model.blobs, full)
  }

  /** Every blob is in `repository` (HEAD), or, when `full`, reads back with its digest. */
  async verifyBlobs(config: string, repository: string, blobs: readonly BlobInfo[], full = !this.verified.has(config)): Promise<void> {
    for (const blob of blobs) {
      if (full) {
        const digest = await this.registry.blobDigest(repository, blob.digest)
        if (digest !== blob.digest) throw new Error(`${config}: blob ${blob.digest} in ${repository} reads back as ${digest}`)
      } else if (!(await this.registry.hasBlob(repository, blob.digest))) {
        throw new Error(`${config}: blob ${blob.digest} is missing from ${repository}`)
      }
    }
    this.verified.add(config)
  }

  async verifyDiscarded(config: string, repository: string, blobs: readonly BlobInfo[]): Promise<void> {
    const stats = await this.discard!.stats()
    for (const blob of blobs) {
      const got = stats.blobs[repository]?.[blob.digest]
      if (got !== blob.size) throw new Error(`${config}: the discarding registry received ${got} bytes of ${blob.digest} (expected ${blob.size})`)
    }
  }

  // --- against the real registry -----------------------------------------------------------------

  async baseline(round: number): Promise<void> {
    const repository = `bench/curl-${round}`
    const result = await this.measured(this.registry.host, () => curlPush(this.registry.url, repository, this.bigBlob.path, this.bigBlob.digest))
    this.add('baseline', { ms: result.ms, rssKiB: result.maxRssKiB, cpuMs: result.cpuMs, sinkCpuMs: result.sinkCpuMs })
    await this.verifyBlobs('baseline', repository, [this.bigBlob])
    log(`baseline (curl) round ${round}: ${result.ms.toFixed(0)} ms`)
  }

  async nodeRaw(round: number): Promise<void> {
    const repository = `bench/noderaw-${round}`
    const result = await this.measured(this.registry.host, () => rawNodePush(this.registry.url, repository, this.bigBlob.path, this.bigBlob.digest, this.bigBlob.size))
    this.add('node-raw', { ms: result.ms, rssKiB: result.hwmKiB, cpuMs: result.cpuMs, sinkCpuMs: result.sinkCpuMs })
    await this.verifyBlobs('node-raw', repository, [this.bigBlob])
    log(`raw Node client round ${round}: ${result.ms.toFixed(0)} ms`)
  }

  /** One push by `pushModel` in a fresh worker (after a warm-up push), then optional warm re-pushes. */
  async library(round: number, run: RunSpec): Promise<void> {
    const { host, rowId, model } = run
    const repository = `bench/${rowId}-${round}`
    const name = await alias(this.store, model, host, repository)
    const worker = await Worker.start('library', this.store.root, { profileDir: this.profileDir, dist: run.dist ?? this.args.dist })
    try {
      // Steady state, as in a long-running server: JIT warm, scheme of the registry known, a pooled connection.
      await worker.push(await alias(this.store, this.warm, host, `bench/warm-${rowId}-${round}`))
      await worker.mark()
      const result = await this.measured(host, () => worker.push(name))
      const stats = await worker.stats()
      this.add(rowId, { ms: result.ms, rssKiB: stats.hwmKiB, cpuMs: stats.cpuUserMs + stats.cpuSystemMs, loopMaxMs: stats.loopDelayMaxMs, sinkCpuMs: result.sinkCpuMs })
      if (run.repushRow !== undefined) for (let i = 0; i < this.args.repush; i++) this.add(run.repushRow, { ms: (await worker.push(name)).ms })
      log(`${rowId} round ${round}: ${result.ms.toFixed(0)} ms, peak RSS ${(stats.hwmKiB / 1024).toFixed(1)} MiB`)
    } finally {
      await worker.stop()
    }
    await this.verifyRun(rowId, host, repository, model)
  }

  /** One `POST /api/push` to a fresh Express server worker (after a warm-up push), then optional warm re-pushes. */
  async http(round: number, run: RunSpec): Promise<void> {
    const { host, rowId, model } = run
    const dist = run.dist ?? this.args.dist
    const repository = `bench/${rowId}-${round}`
    const name = await alias(this.store, model, host, repository)
    const worker = await Worker.start('server', this.store.root, { profileDir: this.profileDir, dist })
    try {
      // Steady state, as in a long-running server; the cold first push is recorded on its own.
      const first = await httpPush(worker.port!, await alias(this.store, this.warm, host, `bench/warm-${rowId}-${round}`))
      if (run.coldRow !== undefined) this.add(run.coldRow, { ms: first.ms })
      await worker.mark()
      const result = await this.measured(host, () => httpPush(worker.port!, name))
      const stats = await worker.stats()
      this.add(rowId, { ms: result.ms, rssKiB: stats.hwmKiB, cpuMs: stats.cpuUserMs + stats.cpuSystemMs, loopMaxMs: stats.loopDelayMaxMs, sinkCpuMs: result.sinkCpuMs })
      if (run.repushRow !== undefined) for (let i = 0; i < this.args.repush; i++) this.add(run.repushRow, { ms: (await httpPush(worker.port!, name)).ms })
      log(`${rowId} round ${round}: ${result.ms.toFixed(0)} ms, peak RSS ${(stats.hwmKiB / 1024).toFixed(1)} MiB, ${result.lines} lines`)
    } finally {
      await worker.stop()
    }
    if (run.repushColdRow !== undefined && this.args.repush > 0) {
      // The first request a freshly started server answers: cold JIT, no pooled connection.
      const cold = await Worker.start('server', this.store.root, { dist })
      try {
        this.add(run.repushColdRow, { ms: (await httpPush(cold.port!, name)).ms })
      } finally {
        await cold.stop()
      }
    }
    await this.verifyRun(rowId, host, repository, model)
  }

  async verifyRun(rowId: string, host: string, repository: string, model: StoredModel): Promise<void> {
    if (host === this.registry.host) await this.verifyOurs(rowId, repository, model)
    else await this.verifyDiscarded(rowId, repository, model.blobs)
  }

  async skopeo(round: number): Promise<void> {
    const layout = this.layout!
    const repository = `bench/skopeo-${round}`
    const result = await this.measured(this.registry.host, () => skopeoPush(layout, this.registry.host, repository, this.main))
    this.add('skopeo', { ms: result.ms, rssKiB: result.maxRssKiB, cpuMs: result.cpuMs, sinkCpuMs: result.sinkCpuMs })
    const manifest = await this.registry.getManifest(repository, layout.tag)
    if (manifest.status !== 200 || !manifest.bytes.equals(layout.manifestBytes)) throw new Error(`skopeo: the registry's manifest of ${repository} differs from the OCI layout's`)
    await this.verifyBlobs('skopeo', repository, this.main.blobs)
    log(`skopeo round ${round}: ${result.ms.toFixed(0)} ms`)
  }

  // --- against the discarding registry -----------------------------------------------------------

  async discardCurl(round: number): Promise<void> {
    const repository = `bench/dcurl-${round}`
    const result = await this.measured(this.discard!.host, () => curlPush(this.discard!.url, repository, this.bigBlob.path, this.bigBlob.digest))
    this.add('discard-curl', { ms: result.ms, rssKiB: result.maxRssKiB, cpuMs: result.cpuMs, sinkCpuMs: result.sinkCpuMs })
    await this.verifyDiscarded('discard-curl', repository, [this.bigBlob])
    log(`curl → discard round ${round}: ${result.ms.toFixed(0)} ms`)
  }

  async discardNodeRaw(round: number): Promise<void> {
    const repository = `bench/dnoderaw-${round}`
    const result = await this.measured(this.discard!.host, () => rawNodePush(this.discard!.url, repository, this.bigBlob.path, this.bigBlob.digest, this.bigBlob.size))
    this.add('discard-node-raw', { ms: result.ms, rssKiB: result.hwmKiB, cpuMs: result.cpuMs, sinkCpuMs: result.sinkCpuMs })
    await this.verifyDiscarded('discard-node-raw', repository, [this.bigBlob])
    log(`raw Node → discard round ${round}: ${result.ms.toFixed(0)} ms`)
  }

  // --- concurrency ---------------------------------------------------------------------------------

  async concurrent(round: number): Promise<void> {
    const names = await Promise.all(this.concurrentModels.map((model, i) => alias(this.store, model, this.registry.host, `bench/c${i + 1}-r${round}`)))
    const worker = await Worker.start('server', this.store.root, { profileDir: this.profileDir, dist: this.args.dist })
    try {
      await worker.resetPeak()
      await worker.mark()
      const started = performance.now()
      const results = await Promise.allSettled(names.map((name) => httpPush(worker.port!, name)))
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed.length > 0) throw new Error(`${failed.length} of ${names.length} concurrent pushes failed; first: ${String(failed[0]!.reason)}`)
      const ms = performance.now() - started
      const each = results.map((r) => (r as PromiseFulfilledResult<{ ms: number }>).value.ms)
      const stats = await worker.stats()
      this.add('concurrent', { ms, rssKiB: stats.hwmKiB, cpuMs: stats.cpuUserMs + stats.cpuSystemMs, loopMaxMs: stats.loopDelayMaxMs })
      log(`${names.length} concurrent pushes round ${round}: ${ms.toFixed(0)} ms, each ${Math.min(...each).toFixed(0)}–${Math.max(...each).toFixed(0)} ms, peak RSS ${(stats.hwmKiB / 1024).toFixed(1)} MiB`)
    } finally {
      await worker.stop()
    }
    // Every model's blobs are distinct: read each one back.
    for (const [i, model] of this.concurrentModels.entries()) await this.verifyOurs('concurrent', `bench/c${i + 1}-r${round}`, model, true)
  }
}

async function main(): Promise<void> {
  let args: BenchArgs
  try {
    args = parseBenchArgs(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  if (args.dist === undefined) await checkBuild()
  else log(`pushing with the package build in ${args.dist}`)
  const want = (scenario: Scenario) => args.only.has(scenario)
  if (want('ingest')) {
    const ingest = await runIngestBench(args, join(args.dist ?? join(ROOT, 'dist'), 'index.js'), log)
    process.stdout.write(`\n## Ingest\n\n${ingest.markdown}\n`)
    if (args.only.size === 1) return
  }
  const skopeo = want('skopeo') ? skopeoVersion() : undefined
  if (want('skopeo') && skopeo === undefined) log('skopeo is not installed (apt-get install -y skopeo): its row is skipped')
  const machine = machineInfo(skopeo)
  const profileDir = args.profile ? resolve(args.out, 'profiles') : undefined
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true })

  log(`model blob ${formatSize(args.size)}, ${args.runs} runs; big ${args.big > 0 ? formatSize(args.big) : 'skipped'}; ${args.concurrent} concurrent × ${formatSize(args.concurrentSize)}`)
  const registry = await startRegistry({ logLevel: 'error' })
  const discard = want('discard') ? await startDiscardRegistry() : undefined
  let store: OllamaStore | undefined
  let layout: OciLayout | undefined
  try {
    const specs: ModelSpec[] = [
      { name: `${registry.host}/bench/model:latest`, layers: modelLayers('model', args.size) },
      { name: `${registry.host}/bench/warm:latest`, layers: modelLayers('warm', 4096) },
    ]
    const useBig = want('memory') && args.big > 0
    if (useBig) specs.push({ name: `${registry.host}/bench/big:latest`, layers: modelLayers('big', args.big) })
    const concurrentCount = want('concurrent') ? args.concurrent : 0
    for (let i = 1; i <= concurrentCount; i++) specs.push({ name: `${registry.host}/bench/c${i}:latest`, layers: modelLayers(`c${i}`, args.concurrentSize) })
    const generating = performance.now()
    store = await makeOllamaStore(specs)
    const main = store.model(`${registry.host}/bench/model:latest`)
    const warm = store.model(`${registry.host}/bench/warm:latest`)
    const big = useBig ? store.model(`${registry.host}/bench/big:latest`) : undefined
    const concurrentModels = Array.from({ length: concurrentCount }, (_, i) => store!.model(`${registry.host}/bench/c${i + 1}:latest`))
    if (skopeo !== undefined) layout = await makeOciLayout(main)
    // Flush the freshly written blobs so that writeback does not land in the middle of a measurement.
    spawnSync('sync')
    log(`store ready in ${((performance.now() - generating) / 1000).toFixed(1)} s at ${store.root}; registry ${registry.host}${discard ? `, discarding registry ${discard.host}` : ''}`)

    const cmpLabel = args.compare === undefined ? '' : relative(process.cwd(), args.compare) || args.compare
    const bench = new Bench(args, registry, discard, store, main, warm, big, concurrentModels, layout, profileDir, registryPid(registry))
    const size = main.blobs.reduce((sum, blob) => sum + blob.size, 0)
    const blob = main.layers[0]!.size
    bench.row('baseline', 'baseline: curl, raw POST/PATCH/PUT', blob)
    bench.row('node-raw', 'raw Node client, POST/PATCH/PUT', blob, 'baseline')
    bench.row('library', 'ours, library (pushModel)', size, 'baseline')
    bench.row('http', 'ours, HTTP (POST /api/push)', size, 'baseline')
    bench.row('skopeo', 'skopeo copy oci: → docker://', size, 'baseline')
    if (args.compare !== undefined) {
      bench.row('library-cmp', `library, build ${cmpLabel}`, size, 'baseline')
      bench.row('http-cmp', `HTTP, build ${cmpLabel}`, size, 'baseline')
    }
    bench.row('discard-curl', 'curl → discarding registry', blob)
    bench.row('discard-node-raw', 'raw Node → discarding registry', blob, 'discard-curl')
    bench.row('discard-library', 'ours, library → discarding registry', size, 'discard-curl')
    bench.row('discard-http', 'ours, HTTP → discarding registry', size, 'discard-curl')
    if (args.compare !== undefined) {
      bench.row('discard-library-cmp', `library → discarding, build ${cmpLabel}`, size, 'discard-curl')
      bench.row('discard-http-cmp', `HTTP → discarding, build ${cmpLabel}`, size, 'discard-curl')
    }
    bench.row('repush-library', 're-push, all blobs present (library, warm)', 0)
    bench.row('repush-http', 're-push, all blobs present (HTTP, warm)', 0)
    bench.row('repush-http-cold', 're-push, first request of a fresh server', 0)
    bench.row('tiny-cold-http', 'tiny model (4 KiB layer), first push of a fresh server', 0)
    if (big) {
      const bigSize = big.blobs.reduce((sum, b) => sum + b.size, 0)
      bench.row('memory-library', `ours, library, ${formatSize(args.big)} model`, bigSize)
      bench.row('memory-http', `ours, HTTP, ${formatSize(args.big)} model`, bigSize)
      if (args.compare !== undefined) {
        bench.row('memory-library-cmp', `library, ${formatSize(args.big)} model, build ${cmpLabel}`, bigSize)
        bench.row('memory-http-cmp', `HTTP, ${formatSize(args.big)} model, build ${cmpLabel}`, bigSize)
      }
    }
    if (concurrentCount > 0) {
      bench.row('concurrent', `${concurrentCount} concurrent HTTP pushes × ${formatSize(args.concurrentSize)}`, concurrentModels.reduce((sum, m) => sum + m.blobs.reduce((s, b) => s + b.size, 0), 0))
    }

    // Against the real registry: one round runs each scenario once, in an order rotated per round.
    const cmp = args.compare
    const registrySteps: Array<[Scenario, (round: number) => Promise<void>]> = [
      ['baseline', (r) => bench.baseline(r)],
      ['library', (r) => bench.library(r, { host: registry.host, rowId: 'library', model: main, repushRow: want('repush') ? 'repush-library' : undefined })],
      ['http', (r) => bench.http(r, { host: registry.host, rowId: 'http', model: main, repushRow: want('repush') ? 'repush-http' : undefined, coldRow: 'tiny-cold-http', repushColdRow: want('repush') ? 'repush-http-cold' : undefined })],
      ['skopeo', (r) => bench.skopeo(r)],
      ['node-raw', (r) => bench.nodeRaw(r)],
    ]
    if (cmp !== undefined) {
      registrySteps.push(['library', (r) => bench.library(r, { host: registry.host, rowId: 'library-cmp', model: main, dist: cmp })])
      registrySteps.push(['http', (r) => bench.http(r, { host: registry.host, rowId: 'http-cmp', model: main, dist: cmp })])
    }
    const active = registrySteps.filter(([scenario]) => want(scenario) && (scenario !== 'skopeo' || layout !== undefined))
    for (let round = 1; round <= args.runs; round++) {
      for (const [, step] of rotate(active, round - 1)) {
        spawnSync('sync') // start each push with no writeback of an earlier one pending
        await step(round)
      }
    }

    if (discard) {
      const discardSteps: Array<(round: number) => Promise<void>> = [
        (r) => bench.discardCurl(r),
        (r) => bench.library(r, { host: discard.host, rowId: 'discard-library', model: main }),
        (r) => bench.http(r, { host: discard.host, rowId: 'discard-http', model: main }),
        (r) => bench.discardNodeRaw(r),
      ]
      if (cmp !== undefined) {
        discardSteps.push((r) => bench.library(r, { host: discard.host, rowId: 'discard-library-cmp', model: main, dist: cmp }))
        discardSteps.push((r) => bench.http(r, { host: discard.host, rowId: 'discard-http-cmp', model: main, dist: cmp }))
      }
      for (let round = 1; round <= args.runs; round++) for (const step of rotate(discardSteps, round - 1)) await step(round)
    }

    if (big) {
      for (let round = 1; round <= args.bigRuns; round++) {
        const steps = [
          () => bench.library(round, { host: registry.host, rowId: 'memory-library', model: big }),
          () => bench.http(round, { host: registry.host, rowId: 'memory-http', model: big }),
        ]
        if (cmp !== undefined) {
          steps.push(() => bench.library(round, { host: registry.host, rowId: 'memory-library-cmp', model: big, dist: cmp }))
          steps.push(() => bench.http(round, { host: registry.host, rowId: 'memory-http-cmp', model: big, dist: cmp }))
        }
        for (const step of rotate(steps, round - 1)) {
          // A multi-GiB push leaves GiBs of dirty pages in the registry's storage: write them out
          // first, so the next push is not throttled by the previous one's writeback.
          spawnSync('sync')
          await step()
        }
      }
    }

    for (let round = 1; round <= (concurrentCount > 0 ? args.bigRuns : 0); round++) await bench.concurrent(round)

    // --- report ------------------------------------------------------------------------------------
    machine.load.end = loadavg()[0]
    const summaries = summarize([...bench.rows.values()])
    const targets = evaluateTargets(summaries, args, concurrentCount)
    const totalSeconds = (performance.now() - benchStarted) / 1000
    const title = `a ${formatSize(size)} model in ${main.blobs.length} blobs (${formatSize(blob)} model layer, ${main.layers.length - 1} small layers, config); ${args.runs} runs each`
    process.stdout.write(`\n${title}\n\n${textTable(summaries)}\n\n${textTargets(targets)}\n\nbench took ${totalSeconds.toFixed(0)} s\n`)

    const markdown = [
      `Model: ${title}.${big ? ` Memory comparison: ${formatSize(args.big)} model layer.` : ''}${concurrentCount > 0 ? ` Concurrency: ${concurrentCount} models × ${formatSize(args.concurrentSize)} model layer, distinct blobs.` : ''}`,
      '',
      markdownMachine(machine),
      '',
      markdownTable(summaries),
      '',
      markdownTargets(targets),
      '',
      `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`; it took ${totalSeconds.toFixed(0)} s (store generation included).`,
    ].join('\n')
    const outDir = resolve(args.out)
    await writeResults(outDir, { machine, args: { ...args, only: [...args.only] }, totalSeconds, rows: [...bench.rows.values()], summaries, targets }, markdown)
    log(`wrote ${relative(process.cwd(), join(outDir, 'results.json'))} and results.md`)
    if (args.docs) {
      const docs = join(ROOT, 'docs', 'performance.md')
      if (await rewriteDocsSection(docs, markdown)) log(`rewrote the results section of ${relative(process.cwd(), docs)}`)
      else log(`docs/performance.md has no results markers; not rewritten`)
    }
  } finally {
    await discard?.stop()
    if (args.keep) log(`kept ${store?.root} and ${registry.storageDir}`)
    else {
      await layout?.remove()
      await store?.removeStore()
    }
    if (!args.keep) await registry.stop()
  }
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)}`
}

function evaluateTargets(rows: readonly RowSummary[], args: BenchArgs, concurrentCount: number): Target[] {
  const row = (id: string) => rows.find((r) => r.id === id)
  const targets: Target[] = []
  const http = row('http')
  const base = row('baseline')
  const skopeo = row('skopeo')
  targets.push(
    http && base
      ? { target: 'HTTP push ≤ 1.05× the raw baseline (median time)', measured: `${(http.medianMs / base.medianMs).toFixed(3)}× (${(http.medianMs / 1000).toFixed(2)} s vs ${(base.medianMs / 1000).toFixed(2)} s)`, pass: http.medianMs <= 1.05 * base.medianMs }
      : { target: 'HTTP push ≤ 1.05× the raw baseline (median time)', measured: '—', pass: undefined },
  )
  targets.push(
    http && skopeo
      ? { target: 'HTTP push ≤ 0.95× skopeo (median time)', measured: `${(http.medianMs / skopeo.medianMs).toFixed(3)}× (${(http.medianMs / 1000).toFixed(2)} s vs ${(skopeo.medianMs / 1000).toFixed(2)} s)`, pass: http.medianMs <= 0.95 * skopeo.medianMs }
      : { target: 'HTTP push ≤ 0.95× skopeo (median time)', measured: '—', pass: undefined },
  )
  for (const id of ['discard-http', 'discard-library']) {
    const r = row(id)
    targets.push({ target: `≥ 1400 MiB/s into the discarding registry (${id === 'discard-http' ? 'HTTP' : 'library'})`, measured: r?.mibPerSecond === undefined ? '—' : `${r.mibPerSecond.toFixed(0)} MiB/s`, pass: r?.mibPerSecond === undefined ? undefined : r.mibPerSecond >= 1400 })
  }
  const single = rows.filter((r) => ['library', 'http', 'discard-library', 'discard-http', 'memory-library', 'memory-http'].includes(r.id) && r.rssMaxMiB !== undefined)
  const worst = single.reduce<RowSummary | undefined>((w, r) => (w === undefined || r.rssMaxMiB! > w.rssMaxMiB! ? r : w), undefined)
  targets.push({ target: 'peak RSS of a pushing process ≤ 100 MiB', measured: worst ? `${worst.rssMaxMiB!.toFixed(1)} MiB (worst: ${worst.label})` : '—', pass: worst ? worst.rssMaxMiB! <= 100 : undefined })
  for (const [bigId, smallId, what] of [['memory-library', 'library', 'library'], ['memory-http', 'http', 'HTTP']] as const) {
    const bigRow = row(bigId)
    const smallRow = row(smallId)
    const ok = bigRow?.rssMaxMiB !== undefined && smallRow?.rssMedianMiB !== undefined
    targets.push({
      target: `${formatSize(args.big)} push ≤ 10 MiB above the ${formatSize(args.size)} push (peak RSS, ${what})`,
      measured: ok ? `${signed(bigRow.rssMaxMiB! - smallRow.rssMedianMiB!)} MiB (${bigRow.rssMaxMiB!.toFixed(1)} vs ${smallRow.rssMedianMiB!.toFixed(1)} MiB)` : '—',
      pass: ok ? bigRow.rssMaxMiB! - smallRow.rssMedianMiB! <= 10 : undefined,
    })
  }
  for (const id of ['repush-http', 'repush-library']) {
    const r = row(id)
    targets.push({ target: `re-push of an already-present model (5 layers + config) ≤ 50 ms (${id === 'repush-http' ? 'HTTP' : 'library'}, warm, median)`, measured: r ? `${r.medianMs.toFixed(1)} ms (max ${r.maxMs.toFixed(1)} ms)` : '—', pass: r ? r.medianMs <= 50 : undefined })
  }
  const conc = row('concurrent')
  targets.push({
    target: `${concurrentCount || 20} concurrent pushes through one server all succeed, peak RSS ≤ 300 MiB`,
    measured: conc?.rssMaxMiB !== undefined ? `all succeeded; ${conc.rssMaxMiB.toFixed(1)} MiB` : '—',
    pass: conc?.rssMaxMiB !== undefined ? conc.rssMaxMiB <= 300 : undefined,
  })
  return targets
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
