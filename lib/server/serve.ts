import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { ShuttingDownError } from '../errors.js'
import { createModelRouter } from '../http/model-router.js'
import { applyServerTimeouts } from '../http/server-timeouts.js'
import { sendError } from '../http/send-error.js'
import type { Logger } from '../model/types.js'
import { routerOptionsFrom, type ServerConfig } from './config.js'

/** A listening standalone server. */
export interface RunningServer {
  readonly url: string
  /**
   * Stop accepting, give running requests `shutdownGraceMs` to finish, then cancel them (the push's
   * signal closes its upload sessions) and resolve once every connection is closed.
   */
  shutdown(reason: string): Promise<void>
}

/** Why the server could not start, in words that name the variable to change. */
export class ServerStartError extends Error {}

export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const cancel = new AbortController()
  const running = new Set<unknown>()
  let stopping = false
  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    // During a shutdown, requests on connections that were already open are refused.
    if (stopping) {
      res.setHeader('Connection', 'close')
      sendError(res, new ShuttingDownError())
      return
    }
    running.add(res)
    res.on('close', () => {
      running.delete(res)
      // A finished response leaves its keep-alive connection idle: close it now, not at its timeout.
      if (stopping) setImmediate(() => server.closeIdleConnections())
    })
    next()
  })
  // The one line that names the router (Ollama's model API, `GET /` included); everything else
  // comes from the environment.
  app.use(createModelRouter(routerOptionsFrom(config, { logger, signal: cancel.signal })))

  // Slowloris: headers within 20 s (checked every 5 s), a body never silent for 60 s; long uploads
  // that keep sending and long push responses are never cut.
  const server: Server = applyServerTimeouts(createServer({ connectionsCheckingInterval: 5_000 }, app))
  await listen(server, config)
  const { address, port } = server.address() as AddressInfo
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`

  let closed: Promise<void> | undefined
  const shutdown = (reason: string): Promise<void> => {
    if (closed) return closed
    stopping = true
    logger.info?.('shutting down', { reason, running: running.size, graceMs: config.shutdownGraceMs })
    const done = once(server, 'close').then(() => undefined)
    server.close()
    const grace = setTimeout(() => {
      if (running.size > 0) logger.info?.('grace period over, cancelling running requests', { running: running.size })
      cancel.abort()
    }, config.shutdownGraceMs)
    grace.unref()
    closed = done.finally(() => clearTimeout(grace))
    return closed
  }
  return { url, shutdown }
}

async function listen(server: Server, config: ServerConfig): Promise<void> {
  const listening = once(server, 'listening')
  server.listen(config.port, config.host)
  try {
    await listening
  } catch (error) {
    throw new ServerStartError(startProblem(error, config), { cause: error })
  }
}

function startProblem(error: unknown, { port, host }: ServerConfig): string {
  const code = error instanceof Error && 'code' in error ? String(error.code) : ''
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use (is Ollama running?); set PORT to another port`
    case 'EACCES':
      return `not allowed to listen on port ${port}; set PORT to a port above 1023`
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: not an address of this machine; set HOST (e.g. 127.0.0.1 or 0.0.0.0)`
    default:
      return `cannot listen on ${host}:${port} (${code || 'unknown error'}); check HOST and PORT`
  }
}
