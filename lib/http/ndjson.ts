import type { ServerResponse } from 'node:http'
import { once } from 'node:events'

/**
 * Writes one JSON object per line, honouring backpressure: a client that reads slowly makes the
 * writer wait instead of piling lines up in memory. Resolves `false` once the client has gone.
 */
export class NdjsonWriter {
  constructor(private readonly res: ServerResponse) {}

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
    try {
      await Promise.race([once(this.res, 'drain', { signal: cleanup.signal }), once(this.res, 'close', { signal: cleanup.signal })])
    } finally {
      cleanup.abort()
    }
    return this.open
  }

  end(): void {
    if (this.open) this.res.end()
  }
}
