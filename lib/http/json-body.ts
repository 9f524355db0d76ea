import type { IncomingMessage } from 'node:http'
import { InvalidRequestError } from '../errors.js'

/** Request bodies of the model API are small JSON objects; anything far larger is refused unread. */
const MAX_BODY_BYTES = 64 * 1024

/** A request as Express hands it over, with whatever a body parser left in `body`. */
export type BodyRequest = IncomingMessage & { body?: unknown }

/**
 * The request's JSON body, whatever sits in front of the handler:
 * - `express.json()` (or any parser) already parsed it: that value;
 * - `express.urlencoded()` parsed JSON text sent with curl's default form content type
 *   (`curl -d '{"model":…}'`) into `{ '{"model":…}': '' }`: the JSON text is put back together;
 * - no parser, or one that left the stream unread (Express 4 leaves `{}` for other content types):
 *   read and parsed here, up to `maxBytes` (default 64 KiB; create takes more).
 */
export async function readJsonBody(req: BodyRequest, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  return withoutNullFields(await readBody(req, maxBytes))
}

/**
 * Like Ollama (Go's encoding/json decodes `null` as the zero value), a top-level field that is
 * `null` counts as not given, on every route; a wrong type is still refused by the route's schema.
 */
function withoutNullFields(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null))
}

async function readBody(req: BodyRequest, maxBytes: number): Promise<unknown> {
  const parsed = req.body
  const parserRan = parsed !== undefined && (req.readableEnded || !isEmptyObject(parsed))
  if (parserRan) return isFormContent(req) ? fromFormFields(parsed) : parsed
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > maxBytes) throw new InvalidRequestError('request body is too large', { status: 413 })
    chunks.push(chunk)
  }
  return parseJsonText(Buffer.concat(chunks).toString('utf8'))
}

function parseJsonText(raw: string): unknown {
  const text = raw.trim()
  if (text === '') throw new InvalidRequestError('missing request body')
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new InvalidRequestError('request body is not valid JSON')
  }
}

function isFormContent(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
}

/**
 * A form parser split the JSON text at `&` and `=` and decoded `+` and `%XX`; undo the split. Text
 * holding `&`, `=`, `+` or `%` may not survive the parser: then the result is not valid JSON and the
 * message says how to send the body instead.
 */
function fromFormFields(fields: unknown): unknown {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return fields
  const entries = Object.entries(fields)
  if (!entries.every(([, value]) => typeof value === 'string')) {
    throw new InvalidRequestError('request body was parsed as a form; send it as JSON (Content-Type: application/json)')
  }
  const text = entries.map(([key, value]) => (value === '' ? key : `${key}=${value as string}`)).join('&')
  try {
    return parseJsonText(text)
  } catch {
    throw new InvalidRequestError('request body is not valid JSON (it was sent as a form; send it with Content-Type: application/json)')
  }
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0
}
