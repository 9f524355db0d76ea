import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** Timeouts for a standalone server in front of the routers. All in ms. */
export interface ServerTimeouts {
  /** Time a client has to send its complete request headers (slowloris). Default 20 000. */
  headersTimeoutMs?: number
  /**
   * Longest silence while a request body is being received (a slow-body attack); reset by every
   * byte, cleared once the body is complete, so a long upload that keeps sending is never cut.
   * Default 60 000.
   */
  bodyIdleTimeoutMs?: number
  /** How long an idle keep-alive connection stays open between requests. Default 5 000. */
  keepAliveTimeoutMs?: number
}

/**
 * Apply slowloris protection to `server` without a whole-request deadline: Node's `requestTimeout`
 * (300 s by default) would cut a multi-gigabyte blob upload, so it is turned off and replaced by
 * a body *idle* timeout. Pushes answer with a long response, not a long request, so they are
 * unaffected. Node checks `headersTimeout` every `connectionsCheckingInterval` (30 s by default, a
 * `createServer` option): a stalled header section is shed within `headersTimeoutMs` plus that.
 */
export function applyServerTimeouts(server: Server, timeouts: ServerTimeouts = {}): Server {
  const headersTimeoutMs = timeouts.headersTimeoutMs ?? 20_000
  const bodyIdleTimeoutMs = timeouts.bodyIdleTimeoutMs ?? 60_000
  for (const [name, value] of Object.entries({ headersTimeoutMs, bodyIdleTimeoutMs, keepAliveTimeoutMs: timeouts.keepAliveTimeoutMs ?? 5_000 })) {
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`applyServerTimeouts: ${name} must be a positive integer`)
  }
  server.requestTimeout = 0
  server.headersTimeout = headersTimeoutMs
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs ?? 5_000
  // Node answers an expired header section with a 408 and waits for the client to close, which a
  // slowloris client never does: destroy the socket instead. Other client errors keep Node's
  // default answer (400 and close) when nobody else listens for them.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return void socket.destroy()
    if (server.listenerCount('clientError') > 1) return
    if (!socket.writable) return void socket.destroy()
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n', () => socket.destroy())
  })
  server.on('request', (req) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
    if (!hasBody || req.complete) return
    const socket: Socket = req.socket
    const onIdle = () => socket.destroy()
    socket.setTimeout(bodyIdleTimeoutMs, onIdle)
    const clear = () => {
      socket.setTimeout(0)
      socket.off('timeout', onIdle)
    }
    req.once('end', clear)
    req.once('close', clear)
  })
  return server
}
