import type { ServerResponse } from 'node:http'
import { toModelPushError, type ErrorCode } from '../errors.js'

/**
 * The error body of every route: Ollama's `{"error": "..."}` (ollama-js reads `error`) plus the
 * stable `code` of docs/errors.md, so programs can branch without parsing the text. The same object
 * is the last NDJSON line when a stream fails after its first byte.
 */
export interface ErrorBody {
  error: string
  code: ErrorCode
}

export function errorBody(error: unknown): ErrorBody {
  const failure = toModelPushError(error)
  return { error: failure.message, code: failure.code }
}

/** A complete JSON response with a known length. */
export function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(text))
  res.end(text)
}

/**
 * Answer with the error's status and `{"error", "code"}`: for errors known before the first byte.
 * After the headers went out the status is spent; the response is just ended.
 */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end()
    return
  }
  sendJson(res, toModelPushError(error).status, errorBody(error))
}
