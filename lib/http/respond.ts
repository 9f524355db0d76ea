import type { IncomingMessage, ServerResponse } from 'node:http'
import { ModelPushError, toModelPushError } from '../errors.js'
import type { Logger } from '../model/types.js'
import { sendError, sendJson } from './send-error.js'

/**
 * The one way every handler answers with a single JSON body or an error, so the wire format of
 * answers (and of `{"error", "code"}` bodies, see send-error.ts) is decided in one place.
 */
export { sendJson }

/** The shape of an Express (4 or 5) request handler, without depending on Express's types. */
export type ModelRequestHandler = (req: IncomingMessage & { body?: unknown; params?: Record<string, string> }, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>

/** Answer `status` with no body (Ollama's copy, delete and blob uploads). */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.statusCode = status
  res.setHeader('Content-Length', 0)
  res.end()
}

/**
 * Answer a failure known before the first byte: `{"error", "code"}` with the error's status. An
 * abort (client gone) is not answered; an unexpected error is logged by class and code only and
 * answered as `internal error`.
 */
export function sendFailure(res: ServerResponse, error: unknown, logger: Logger | undefined, what: string): void {
  const failure = toModelPushError(error)
  if (failure.code === 'ABORTED' || res.destroyed) return
  if (failure.code === 'INTERNAL') logger?.error?.(`${what} failed unexpectedly`, { error: describeError(failure.cause) })
  sendError(res, failure)
}

/** Only the error class name and code of an unexpected error: its message might hold anything. */
export function describeError(error: unknown): string {
  if (error instanceof ModelPushError) return error.code
  if (error instanceof Error) return `${error.name}${'code' in error ? ` ${String(error.code)}` : ''}`
  return typeof error
}
