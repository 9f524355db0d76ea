import type { IncomingMessage, ServerResponse } from 'node:http'
import { PACKAGE_VERSION } from '../registry/version.js'
import { sendJson } from './respond.js'

/** `GET /api/version` on its own: `{"version": "<this package's version>"}`. */
export function versionHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => sendJson(res, 200, { version: PACKAGE_VERSION })
}

/** `GET /` and `HEAD /` on their own: `Ollama is running` as text/plain, the answer Ollama's clients probe for. */
export function rootHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const text = 'Ollama is running'
    res.statusCode = 200
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(text))
    res.end(text)
  }
}
