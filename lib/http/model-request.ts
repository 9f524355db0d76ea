import { InvalidRequestError } from '../errors.js'
import { parseModelName } from '../model/name.js'
import type { ModelName } from '../model/types.js'
import type { ResolvedOptions } from '../options.js'
import { readJsonBody } from './push-request.js'

/** Longest name quoted back in an error message. */
const QUOTE_LIMIT = 120

/** The JSON body of a model-management request, as an object (read here when no parser ran). */
export async function readRequestObject(req: Parameters<typeof readJsonBody>[0]): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req)
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('request body must be a JSON object')
  return body as Record<string, unknown>
}

/** A string field: `''` when absent or null (as Go decodes them); any other type is refused. */
export function stringField(body: Record<string, unknown>, key: string): string {
  const value = body[key]
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw new InvalidRequestError(`"${key}" must be a string`)
  return value
}

/**
 * Parse a name from a request with Ollama's rules and the server's default registry; an invalid one
 * (path tricks included) is a 400 with `message(quoted)`, Ollama's wording for the endpoint.
 */
export function requestName(value: string, options: ResolvedOptions, message: (quoted: string) => string): ModelName {
  try {
    return parseModelName(value, { defaultRegistry: options.defaultRegistry })
  } catch {
    throw new InvalidRequestError(message(quote(value)))
  }
}

/** Go's `%q`, near enough: JSON string quoting, cut to a readable length. */
export function quote(value: string): string {
  return JSON.stringify(value.length > QUOTE_LIMIT ? `${value.slice(0, QUOTE_LIMIT)}...` : value)
}
