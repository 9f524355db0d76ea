import type { ServerResponse } from 'node:http'
import { once } from 'node:events'

/** How long a write may wait for a client that stopped reading, by default (ms). */
export const DEFAULT_CLIENT_STALL_TIMEOUT_MS = 120_000

/**
 * Writes one JSON object per line, honouring backpressure: a client that reads slowly makes the
 * writer wait instead of piling lines up in memory. Resolves `false` once the client has gone.
 * A client that keeps the connection open but stops reading is not waited for forever: after
 * `stallTimeoutMs` without a drain the response is destroyed, which cancels the work behind it.
 */
export class NdjsonWriter {
  constructor(
    private readonly res: ServerResponse,
    private readonly stallTimeoutMs: number = DEFAULT_CLIENT_STALL_TIMEOUT_MS,
  ) {}

  start(): void {
    this.res.statusCode = 200
    this.res.setHeader('Content-Type', 'application/x-ndjson')
    this.res.setHeader('Cache-Control', 'no-store')
    this.res.setHeader('X-Content-Type-Options', 'nosniff')
    this.res.flushHeaders()
  }

  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded
  }

  async write(line: object): Promise<boolean> {
    if (!this.open) return false
    if (this.res.write(`${JSON.stringify(line)}\n`)) return true
    // Wait for drain, or for the connection to close under us.
    const cleanup = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.res.destroy()
        resolve()
      }, this.stallTimeoutMs)
    })
    try {
      await Promise.race([once(this.res, 'drain', { signal: cleanup.signal }), once(this.res, 'close', { signal: cleanup.signal }), stalled])
    } finally {
      clearTimeout(timer)
      cleanup.abort()
    }
    return this.open
  }

  end(): void {
    if (this.open) this.res.end()
  }
}
