import Joi from 'joi'
import { InvalidRequestError } from '../errors.js'
import type { Credentials } from '../model/types.js'

/** The body of `POST /api/push`, as Ollama defines it. */
export interface PushRequestBody {
  model?: string | null | undefined
  /** Older name of `model`; the `ollama` npm client still sends it. */
  name?: string | null | undefined
  stream?: boolean | null | undefined
  insecure?: boolean | null | undefined
  username?: string | null | undefined
  password?: string | null | undefined
}

/** A validated request. */
export interface PushRequest {
  model: string
  stream: boolean
  insecure: boolean
  credentials: Credentials | undefined
}

// Like Ollama (Go's encoding/json): unknown fields are ignored, `null` is the field not given (Go
// leaves the zero value), and a known field of the wrong type is refused.
const schema = Joi.object<PushRequestBody>({
  model: Joi.string().allow('', null),
  name: Joi.string().allow('', null),
  stream: Joi.boolean().allow(null),
  insecure: Joi.boolean().allow(null),
  username: Joi.string().allow('', null),
  password: Joi.string().allow('', null),
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
  const hasUser = typeof value.username === 'string' && value.username !== ''
  const hasPassword = typeof value.password === 'string' && value.password !== ''
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

// The body reader is shared by every route; it lives in json-body.ts.
export { readJsonBody } from './json-body.js'
