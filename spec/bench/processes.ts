/**
 * The benchmark's child processes: the pushing worker (library or Express server mode), the
 * discarding registry, the raw Node pusher, and external tools (curl, skopeo) run under GNU time
 * for their peak RSS. Every child is plain `node` (no tsx loader) or a native tool; every child's
 * stdin is a pipe from us, so it dies with us.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const WORKER = join(here, 'push-worker.mjs')
export const DISCARD_REGISTRY = join(here, 'discard-registry.mjs')
export const RAW_PUSH = join(here, 'raw-push.mjs')

/** Environment for children: no loader flags inherited from tsx, no proxies. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || /^(https?|no|all)_proxy$/i.test(name)) continue
    env[name] = value
  }
  return { ...env, ...extra }
}

export interface WorkerStats {
  hwmKiB: number
  rssKiB: number
  cpuUserMs: number
  cpuSystemMs: number
  loopDelayMaxMs: number
  loopDelayP99Ms: number
}

export interface LibraryPushResult {
  ms: number
  events: number
  firstEventMs: number
}

/** A pushing worker process and its JSON-lines conversation. */
export class Worker {
  readonly child: ChildProcess
  readonly port: number | undefined
  readonly #pending: Array<(message: Record<string, unknown>) => void> = []
  #stderr = ''
  #exited: Promise<void>

  private constructor(child: ChildProcess, port: number | undefined, lines: AsyncIterableIterator<string>) {
    this.child = child
    this.port = port
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-16_384)
    })
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    void (async () => {
      for await (const line of lines) {
        if (line.trim() === '') continue
        this.#pending.shift()?.(JSON.parse(line) as Record<string, unknown>)
      }
      for (const waiter of this.#pending.splice(0)) waiter({ ok: false, error: `worker exited: ${this.#stderr.trim().slice(-2000)}` })
    })()
  }

  /** Start a worker on the models directory `root`; server mode resolves once it listens. */
  static async start(mode: 'library' | 'server', root: string, options: { profileDir?: string | undefined; dist?: string | undefined } = {}): Promise<Worker> {
    const flags = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${mode}-${Date.now()}-${process.pid}.cpuprofile`]
    const env = childEnv(options.dist === undefined ? {} : { EMP_BENCH_DIST: options.dist })
    const child = spawn(process.execPath, [...flags, WORKER, mode, root], { stdio: ['pipe', 'pipe', 'pipe'], env })
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
    let port: number | undefined
    if (mode === 'server') {
      const first = await lines.next()
      if (first.done) throw new Error(`server worker did not start: ${await collect(child.stderr)}`)
      const ready = JSON.parse(first.value) as { ready?: boolean; port?: number }
      if (ready.ready !== true || typeof ready.port !== 'number') throw new Error(`server worker: unexpected ${first.value}`)
      port = ready.port
    }
    return new Worker(child, port, lines)
  }

  /** Send a command, wait for its one answer; throws when the answer is `ok: false`. */
  async command<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T> {
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#pending.push(resolve))
    this.child.stdin!.write(`${JSON.stringify(command)}\n`)
    const message = await answer
    if (message.ok !== true) throw new Error(`worker ${String(command.cmd)}: ${String(message.error)}`)
    return message as T
  }

  push(name: string): Promise<LibraryPushResult> {
    return this.command<LibraryPushResult>({ cmd: 'push', name })
  }

  stats(): Promise<WorkerStats> {
    return this.command<WorkerStats>({ cmd: 'stats' })
  }

  /** CPU time and event-loop delay are counted from here. */
  mark(): Promise<unknown> {
    return this.command({ cmd: 'mark' })
  }

  resetPeak(): Promise<unknown> {
    return this.command({ cmd: 'reset-peak' })
  }

  /** Ask it to exit (profiles are written then) and wait. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end(`${JSON.stringify({ cmd: 'exit' })}\n`)
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
      await this.#exited
      clearTimeout(timer)
    }
  }
}

/** The discarding registry, in its own process. */
export interface DiscardRegistry {
  host: string
  url: string
  stats(): Promise<{ commits: number; blobBytes: number; manifests: number; cpuMs: number; blobs: Record<string, Record<string, number>> }>
  stop(): Promise<void>
}

export async function startDiscardRegistry(): Promise<DiscardRegistry> {
  const child = spawn(process.execPath, [DISCARD_REGISTRY], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const first = await lines.next()
  if (first.done) throw new Error('discarding registry did not start')
  const { port } = JSON.parse(first.value) as { port: number }
  const host = `127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    host,
    url: `http://${host}`,
    async stats() {
      const response = await fetch(`http://${host}/_stats`)
      return (await response.json()) as Awaited<ReturnType<DiscardRegistry['stats']>>
    },
    async stop() {
      child.stdin!.end()
      await exited
    },
  }
}

export interface TimedRun {
  /** What the tool printed on stdout. */
  stdout: string
  stderr: string
  code: number | null
  /** GNU time: peak RSS, KiB. */
  maxRssKiB: number
  /** GNU time: elapsed wall clock, ms (includes process start). */
  wallMs: number
  cpuUserMs: number
  cpuSystemMs: number
}

/** Run a command under `/usr/bin/time` to learn its peak RSS and CPU time. */
export async function runTimed(command: string, args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<TimedRun> {
  const dir = await mkdtemp(join(tmpdir(), 'emp-bench-time-'))
  const report = join(dir, 'time.txt')
  try {
    const child = spawn('/usr/bin/time', ['-f', '%M %e %U %S', '-o', report, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(options.env),
    })
    const [stdout, stderr, code] = await Promise.all([
      collect(child.stdout),
      collect(child.stderr),
      new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode))),
    ])
    const text = (await readFile(report, 'utf8')).trim().split('\n').at(-1) ?? ''
    const [rss, elapsed, user, system] = text.split(' ').map(Number)
    return {
      stdout,
      stderr,
      code,
      maxRssKiB: rss ?? NaN,
      wallMs: (elapsed ?? NaN) * 1000,
      cpuUserMs: (user ?? NaN) * 1000,
      cpuSystemMs: (system ?? NaN) * 1000,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Run the raw Node pusher (one blob: POST, streamed PATCH, PUT). */
export async function rawNodePush(registryUrl: string, repository: string, file: string, digest: string, size: number): Promise<{ ms: number; hwmKiB: number; cpuMs: number }> {
  const run = await runTimed(process.execPath, [RAW_PUSH, registryUrl, repository, file, digest, String(size)])
  if (run.code !== 0) throw new Error(`raw-push failed (${run.code}): ${run.stderr.trim().slice(-2000)}`)
  // CPU from GNU time includes Node's start-up (~40 ms): a small overstatement.
  return { ...(JSON.parse(run.stdout.trim()) as { ms: number; hwmKiB: number }), cpuMs: run.cpuUserMs + run.cpuSystemMs }
}

async function collect(stream: NodeJS.ReadableStream | null | undefined): Promise<string> {
  if (!stream) return ''
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
