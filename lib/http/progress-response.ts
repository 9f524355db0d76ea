import type { ServerResponse } from 'node:http'
import { toModelPushError, type ModelPushError } from '../errors.js'
import type { PushProgress } from '../model/types.js'
import { NdjsonWriter } from './ndjson.js'
import { errorBody, sendJson } from './send-error.js'

/**
 * Answer a progress generator (`pushModel`, `createModel`) the way Ollama answers its streaming
 * endpoints. The generator runs its cheap checks before its first event, so the first `next()` is
 * awaited before anything is written: a failure there rejects (the caller answers a real status).
 * Then either NDJSON lines, with a later failure as a final `{"error", "code"}` line, or (`stream:
 * false`) one `{"status":"success"}` once everything is done, a failure still rejecting for a real
 * status. `outcome` turns a failure into the error to report (a shutdown says so).
 */
export async function respondWithProgress(
  res: ServerResponse,
  events: AsyncGenerator<PushProgress, void, undefined>,
  stream: boolean,
  outcome: (error: unknown) => ModelPushError = toModelPushError,
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
    const failure = outcome(error)
    if (failure.code !== 'ABORTED') await writer.write(errorBody(failure))
  }
  writer.end()
}
