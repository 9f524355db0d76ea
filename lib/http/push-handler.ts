import type { ServerResponse } from 'node:http'
import { ShuttingDownError, toModelPushError } from '../errors.js'
import type { PushProgress } from '../model/types.js'
import { parseModelName } from '../model/name.js'
import { resolveOptions, type PushRouterOptions, type ResolvedOptions } from '../options.js'
import { pushModel } from '../push/push-model.js'
import { readJsonBody, type BodyRequest } from './json-body.js'
import { respondWithProgress } from './progress-response.js'
import { validatePushBody } from './push-request.js'
import { requestSignal, type RequestSignal } from './request-signal.js'
import { sendFailure } from './respond.js'
import { closeIfBodyUnread } from './unread-body.js'
import { assertRegistryAllowed } from '../policy/registry-allowed.js'
import { assertInsecureAllowed } from '../policy/insecure-allowed.js'
import { mayUseHostCredentials } from '../policy/host-credentials-allowed.js'

/** The shape of an Express (4 or 5) request handler, without depending on Express's types. */
export type PushRequestHandler = (req: BodyRequest, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>

/**
 * The `POST /api/push` handler on its own, for mounting on any path (`app.post('/x', pushHandler())`).
 * Options are validated here, once. Works with or without a body parser in front of it.
 */
export function pushHandler(options: PushRouterOptions = {}): PushRequestHandler {
  const resolved = resolveOptions(options)
  return (req, res) => handlePush(resolved, req, res)
}

/** Internal: the handler body, shared by `pushHandler` and `createPushRouter`. */
export async function handlePush(options: ResolvedOptions, req: BodyRequest, res: ServerResponse): Promise<void> {
  let cancel: RequestSignal | undefined
  let events: AsyncGenerator<PushProgress, void, undefined> | undefined
  // A cancelled push reports why: a shutdown is worth a line, a client that left is not.
  const outcome = (error: unknown) => (cancel?.shuttingDown() ? new ShuttingDownError() : toModelPushError(error))
  try {
    cancel = requestSignal(res, options.signal)
    let request
    let name
    try {
      request = validatePushBody(await readJsonBody(req), options.allowRequestCredentials)
      name = parseModelName(request.model, { defaultRegistry: options.defaultRegistry })
      // Policy first: a refused push must not reach the registry, nor the host's credentials callback.
      assertRegistryAllowed(name.host, options.allowedRegistries)
      assertInsecureAllowed(name.host, request.insecure, options.allowInsecure)
    } catch (error) {
      // pushModel logs what fails inside it; a refused request is logged here.
      const failure = toModelPushError(error)
      options.logger?.info?.('push refused', { code: failure.code, status: failure.status, reason: failure.message })
      throw failure
    }
    const credentials = request.credentials ?? (await hostCredentials(options, name.host, request.insecure))
    events = pushModel(name, options, {
      signal: cancel.signal,
      insecure: request.insecure,
      credentials,
      progressIntervalMs: options.progressIntervalMs,
      uploadConcurrency: options.uploadConcurrency,
    })
    // pushModel runs every cheap check before its first event: failures there are real statuses.
    await respondWithProgress(res, events, request.stream, outcome, options.clientStallTimeoutMs)
  } catch (error) {
    closeIfBodyUnread(req, res)
    sendFailure(res, outcome(error), options.logger, 'push')
  } finally {
    cancel?.dispose()
    await events?.return()
  }
}

/** The host app's credentials for `host`, unless policy keeps them off an insecure connection. */
async function hostCredentials(options: ResolvedOptions, host: string, insecure: boolean) {
  if (options.credentials === undefined) return undefined
  if (!mayUseHostCredentials(host, insecure, options.allowInsecure)) {
    options.logger?.warn?.('insecure push: configured credentials withheld (host not listed in allowInsecure)', { host })
    return undefined
  }
  return options.credentials(host)
}
