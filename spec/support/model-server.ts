/**
 * Start `model-server.mjs` as a child process and talk to it: its port, and its peak and current
 * RSS on demand. The child dies with its stdin (when we end it, or when we die).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const MODEL_SERVER = join(here, 'model-server.mjs')

export interface ServerMemory {
  hwmKiB: number
  rssKiB: number
}

export interface ModelServerProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Peak (VmHWM) and current (VmRSS) resident memory of the server process. */
  memory(): Promise<ServerMemory>
  stop(): Promise<void>
}

/** `entry`: `lib/index.ts` (the child then runs under tsx) or a built `dist/index.js`. */
export async function startModelServer(entry: string, root: string): Promise<ModelServerProcess> {
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : []
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, [...loader, MODEL_SERVER, entry, root], { stdio: ['pipe', 'pipe', 'pipe'], env })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192)
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const next = async (): Promise<Record<string, number>> => {
    const line = await lines.next()
    if (line.done) throw new Error(`model server exited: ${stderr}`)
    return JSON.parse(line.value) as Record<string, number>
  }
  const { port } = await next()
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async memory() {
      child.stdin!.write('memory\n')
      const { hwmKiB, rssKiB } = await next()
      return { hwmKiB: hwmKiB!, rssKiB: rssKiB! }
    },
    async stop() {
      child.stdin!.end()
      await exited
    },
  }
}
