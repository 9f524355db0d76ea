/** A real Express app on 127.0.0.1:0 serving `createPushRouter`, with a capturing logger and an `ollama` client. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { Ollama } from 'ollama'
import { createPushRouter, type Logger, type PushRouterOptions } from '../../lib/index.js'

export interface App {
  url: string
  client: Ollama
  /** Every logger call, as `<level> <message> <fields JSON>`. */
  logs: string[]
  close(): Promise<void>
}

export async function startApp(options: PushRouterOptions): Promise<App> {
  const logs: string[] = []
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }
  const app = express()
  app.use(createPushRouter({ logger, ...options }))
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    client: new Ollama({ host: url }),
    logs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
