import type { IncomingMessage, ServerResponse } from 'node:http'
import { ShuttingDownError, toModelPushError } from '../errors.js'
import { createModel } from '../create/create-model.js'
import { validateCreateBody } from '../create/create-request.js'
import type { PushProgress } from '../model/types.js'
import { resolveOptions, type PushRouterOptions, type ResolvedOptions } from '../options.js'
import { respondWithProgress } from './progress-response.js'
import { requestSignal, type RequestSignal } from './request-signal.js'
import { readJsonBody } from './push-request.js'
import { closeIfBodyUnread } from './unread-body.js'
import { sendFailure, type ModelRequestHandler } from './respond.js'

/** Create bodies carry license texts, templates and messages: far more than a push body, still small. */
export const MAX_CREATE_BODY_BYTES = 8 * 1024 * 1024

/**
 * The `POST /api/create` handler on its own, for mounting on any path. Options are validated here,
 * once. Works with or without `express.json()` in front of it.
 */
export function createHandler(options: PushRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options)
  return (req, res) => handleCreate(resolved, req, res)
}

/** Internal: the handler body, shared by `createHandler` and `createModelRouter`. */
export async function handleCreate(options: ResolvedOptions, req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
  let cancel: RequestSignal | undefined
  let events: AsyncGenerator<PushProgress, void, undefined> | undefined
  try {
    cancel = requestSignal(res, options.signal)
    const signal = cancel.signal
    const request = validateCreateBody(await readJsonBody(req, MAX_CREATE_BODY_BYTES), options.defaultRegistry)
    events = createModel(request, { storage: options.storage, defaultRegistry: options.defaultRegistry }, { signal })
    const shutdown = cancel
    await respondWithProgress(res, events, request.stream, (error) => (shutdown.shuttingDown() ? new ShuttingDownError() : toModelPushError(error)), options.clientStallTimeoutMs)
  } catch (error) {
    closeIfBodyUnread(req, res)
    sendFailure(res, cancel?.shuttingDown() ? new ShuttingDownError() : error, options.logger, 'create')
  } finally {
    cancel?.dispose()
    await events?.return()
  }
}
