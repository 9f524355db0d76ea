import type { IncomingMessage } from 'node:http'
import Joi from 'joi'
import { InvalidRequestError } from '../errors.js'
import type { Credentials } from '../model/types.js'

/** The body of `POST /api/push`, as Ollama defines it. */
export interface PushRequestBody {
  model?: string
  /** Older name of `model`; the `ollama` npm client still sends it. */
  name?: string
  stream?: boolean
  insecure?: boolean
  username?: string
  password?: string
}

/** A validated request. */
export interface PushRequest {
  model: string
  stream: boolean
  insecure: boolean
  credentials: Credentials | undefined
}

/** Bodies are a few hundred bytes; anything far larger is refused unread. */
const MAX_BODY_BYTES = 64 * 1024

// Like Ollama (Go's encoding/json), unknown fields are ignored; known ones must have the right type.
const schema = Joi.object<PushRequestBody>({
  model: Joi.string().allow(''),
  name: Joi.string().allow(''),
  stream: Joi.boolean(),
  insecure: Joi.boolean(),
  username: Joi.string().allow(''),
  password: Joi.string().allow(''),
}).unknown(true)

/**
 * Validate a parsed body. Messages name the field and what it must be, never the value (it may be
 * a password).
 */
export function validatePushBody(body: unknown, allowRequestCredentials: boolean): PushRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('request body must be a JSON object')
  }
  const { error, value } = schema.validate(body, { abortEarly: false, convert: false, errors: { wrap: { label: false } } })
  if (error) throw new InvalidRequestError(error.details.map((d) => d.message).join('; '))
  const model = value.model || value.name
  if (!model) throw new InvalidRequestError('model is required')
  const hasUser = value.username !== undefined && value.username !== ''
  const hasPassword = value.password !== undefined && value.password !== ''
  if (hasUser !== hasPassword) throw new InvalidRequestError('username and password must be given together')
  if (hasUser && !allowRequestCredentials) {
    throw new InvalidRequestError('this server does not accept registry credentials in the request')
  }
  return {
    model,
    stream: value.stream ?? true,
    insecure: value.insecure ?? false,
    credentials: hasUser ? { username: value.username as string, password: value.password as string } : undefined,
  }
}

/**
 * The request's JSON body: the one a body parser already made, or read here (the handler is
 * mountable without `express.json()`), refusing more than `maxBytes` (default 64 KiB).
 */
export async function readJsonBody(req: IncomingMessage & { body?: unknown }, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  // A parser ran when it consumed the stream. Express 4's express.json() leaves `{}` and the stream
  // unread for other content types: then read it here.
  const parsed = req.body
  const parserRan = parsed !== undefined && (req.readableEnded || !isEmptyObject(parsed))
  if (parserRan) return parsed
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > maxBytes) throw new InvalidRequestError('request body is too large')
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') throw new InvalidRequestError('missing request body')
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new InvalidRequestError('request body is not valid JSON')
  }
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0
}
