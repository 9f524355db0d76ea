import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolveOptions, type PushRouterOptions, type ResolvedOptions } from '../options.js'
import { ollamaWhoami } from '../registry/ollama/account.js'
import type { PushRequestHandler } from './push-handler.js'

/**
 * `POST /api/me` on its own, as Ollama serves it: who the Ollama key belongs to at ollama.com
 * (`ollamaAccountUrl`). The Go CLI asks this before pushing to ollama.com; 401 with a `signin_url`
 * when the key is not linked to an account. Any request body is ignored.
 */
export function whoamiHandler(options: PushRouterOptions = {}): PushRequestHandler {
  const resolved = resolveOptions(options)
  return (req, res) => handleWhoami(resolved, req, res)
}

/** Internal: shared by `whoamiHandler` and `createPushRouter`. */
export async function handleWhoami(options: ResolvedOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController()
  const onClose = () => {
    if (!res.writableFinished) controller.abort()
  }
  res.on('close', onClose)
  req.resume()
  try {
    const answer = await ollamaWhoami({ key: options.ollamaKey, accountUrl: options.ollamaAccountUrl, signal: controller.signal, logger: options.logger })
    const text = JSON.stringify(answer.body)
    res.statusCode = answer.status
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(text))
    res.end(text)
  } catch {
    // Only a cancelled request gets here: the client is gone.
    if (!res.headersSent) res.destroy()
  } finally {
    res.off('close', onClose)
  }
}
