import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidRequestError } from '../errors.js'
import { sendError } from './send-error.js'

/** What body-parser (behind `express.json()`, `express.urlencoded()`, …) passes to `next(error)`. */
interface BodyParserError {
  type: string
  status: number
}

function isBodyParserError(error: unknown): error is BodyParserError {
  if (error === null || typeof error !== 'object') return false
  const { type, status, expose } = error as Record<string, unknown>
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500 && expose === true
}

/** Our words for body-parser's error types (its own messages may quote the body). */
function messageFor(error: BodyParserError): string {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'request body is not valid JSON'
    case 'entity.too.large':
    case 'parameters.too.many':
      return 'request body is too large'
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return 'request body has an unsupported charset or content encoding'
    default:
      return 'request body could not be read'
  }
}

/**
 * An Express error middleware that answers a body parser's failure (`express.json()` meeting
 * malformed JSON, a body over its limit) with `{"error", "code": "INVALID_REQUEST"}` and the
 * parser's status, instead of Express's HTML error page. Other errors pass on untouched.
 *
 * `createPushRouter` installs it for its own paths; mount it yourself after `pushHandler` on a path
 * of your own: `app.use('/models', bodyParserErrorHandler)`.
 */
export function bodyParserErrorHandler(error: unknown, _req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
  if (!isBodyParserError(error) || res.headersSent) {
    next(error)
    return
  }
  sendError(res, new InvalidRequestError(messageFor(error), { status: error.status }))
}
