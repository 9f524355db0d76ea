// Spawns the built standalone server (dist/server.js, plain node, as `npx express-model-push` runs
// it) and follows its log lines.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const BUILT_SERVER = path.join(PACKAGE_ROOT, 'dist/server.js')

export interface ServerProcess {
  readonly child: ChildProcess
  /** Everything written to stdout / stderr so far. */
  stdout(): string
  stderr(): string
  /** Resolves with the first stderr line matching `pattern` (already written or still to come). */
  waitForLine(pattern: RegExp): Promise<string>
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const live = new Set<ChildProcess>()

/** Kill every process spawned here that is still running (for `after` hooks: a timed-out test skips its own cleanup). */
export function killSpawned(): void {
  for (const child of live) child.kill('SIGKILL')
}

export function spawnProcess(command: string, args: readonly string[], env: Record<string, string>, cwd = PACKAGE_ROOT): ServerProcess {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  child.once('exit', () => live.delete(child))
  let out = ''
  let err = ''
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = []
  const check = () => {
    for (const waiter of [...waiters]) {
      const line = err.split('\n').find((l) => waiter.pattern.test(l))
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  }
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
    check()
  })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForLine: (pattern) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ pattern, resolve })
        check()
        void exited.then(() => reject(new Error(`process exited before a line matching ${pattern}; stderr:\n${err}`)))
      }),
    exited,
  }
}

/** The built server with `env` (PORT defaults to 0 here, never a fixed port). */
export function spawnServer(env: Record<string, string>, args: readonly string[] = []): ServerProcess {
  return spawnProcess(process.execPath, [BUILT_SERVER, ...args], { PORT: '0', ...env })
}

/** The URL from the server's `listening on …` line. */
export async function listeningUrl(server: ServerProcess): Promise<string> {
  const line = await server.waitForLine(/ info listening on http:\/\//)
  return /listening on (http:\/\/\S+)/.exec(line)![1]!
}
