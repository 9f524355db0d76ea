import type { ServerResponse } from 'node:http'
import { ShuttingDownError } from '../errors.js'

/** The cancellation of one request: its signal, and how to tell a shutdown from a client leaving. */
export interface RequestSignal {
  readonly signal: AbortSignal
  /** True when the router's `signal` (a server shutting down) cancelled the request. */
  readonly shuttingDown: () => boolean
  /** Stop listening; call when the handler is done. */
  readonly dispose: () => void
}

/**
 * A signal that fires when the client goes away before the response is finished, or when the
 * router's own `signal` fires (a shutdown). Throws `ShuttingDownError` (503) when that one has
 * already fired, so no new work starts during a shutdown.
 */
export function requestSignal(res: ServerResponse, shutdown: AbortSignal | undefined): RequestSignal {
  if (shutdown?.aborted) throw new ShuttingDownError()
  const controller = new AbortController()
  const onClose = () => {
    if (!res.writableFinished) controller.abort()
  }
  const onShutdown = () => controller.abort()
  res.on('close', onClose)
  shutdown?.addEventListener('abort', onShutdown, { once: true })
  return {
    signal: controller.signal,
    shuttingDown: () => shutdown?.aborted === true,
    dispose: () => {
      res.off('close', onClose)
      shutdown?.removeEventListener('abort', onShutdown)
    },
  }
}
