import type { ServerResponse } from 'node:http'
import { toModelPushError } from '../errors.js'
import type { PushProgress } from '../model/types.js'
import { NdjsonWriter } from './ndjson.js'
import { sendJson } from './respond.js'

/**
 * Answer a progress generator (`pushModel`, `createModel`) the way Ollama answers its streaming
 * endpoints. The generator runs its cheap checks before its first event, so the first `next()` is
 * awaited before anything is written: a failure there rejects (the caller answers a real status).
 * Then either NDJSON lines, with a later failure as a final `{"error"}` line, or (`stream: false`)
 * one `{"status":"success"}` once everything is done, a failure still rejecting for a real status.
 */
export async function respondWithProgress(
  res: ServerResponse,
  events: AsyncGenerator<PushProgress, void, undefined>,
  stream: boolean,
  clientStallTimeoutMs?: number,
): Promise<void> {
  const first = await events.next()
  if (!stream) {
    for (let step = first; !step.done; step = await events.next()) {
      // Non-streaming: only the outcome matters.
    }
    if (!res.headersSent) sendJson(res, 200, { status: 'success' })
    return
  }
  const writer = new NdjsonWriter(res, clientStallTimeoutMs)
  writer.start()
  try {
    for (let step = first; !step.done; step = await events.next()) {
      if (!(await writer.write(step.value))) return
    }
  } catch (error) {
    // After the first byte the status is spent: the error becomes the last line.
    const failure = toModelPushError(error)
    if (failure.code !== 'ABORTED') await writer.write({ error: failure.message })
  }
  writer.end()
}

/** An AbortController that fires when the client goes away before the response is finished. */
export function abortOnClose(res: ServerResponse): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController()
  const onClose = () => {
    if (!res.writableFinished) controller.abort()
  }
  res.on('close', onClose)
  return { signal: controller.signal, release: () => res.off('close', onClose) }
}
