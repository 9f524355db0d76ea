/**
 * A real Express app on 127.0.0.1:0 serving `createPushRouter` (or another router factory, e.g.
 * `createModelRouter`), with a capturing logger and an `ollama` client.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { Ollama } from 'ollama'
import { createPushRouter, type Logger, type ModelRouterOptions } from '../../lib/index.js'

export interface App {
  url: string
  client: Ollama
  /** Every logger call, as `<level> <message> <fields JSON>`. */
  logs: string[]
  /** Resolves with the first log line (past or future) matching `pattern`. */
  waitForLog(pattern: RegExp): Promise<string>
  close(): Promise<void>
}

export async function startApp<O extends ModelRouterOptions>(options: O, router: (options: O) => express.Handler = createPushRouter): Promise<App> {
  const logs: string[] = []
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = []
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const line = `${level} ${message} ${JSON.stringify(fields ?? {})}`
    logs.push(line)
    for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  }
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }
  const waitForLog = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const seen = logs.find((line) => pattern.test(line))
      if (seen !== undefined) return resolve(seen)
      waiters.push({ pattern, resolve })
    })
  const app = express()
  app.use(router({ logger, ...options }))
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    client: new Ollama({ host: url }),
    logs,
    waitForLog,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
