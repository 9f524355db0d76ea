import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PushProgress } from '../model/types.js'
import { parseModelName } from '../model/name.js'
import { resolveOptions, type PushRouterOptions, type ResolvedOptions } from '../options.js'
import { pushModel } from '../push/push-model.js'
import { abortOnClose, respondWithProgress } from './progress-response.js'
import { readJsonBody, validatePushBody } from './push-request.js'
import { closeIfBodyUnread } from './unread-body.js'
import { sendFailure } from './respond.js'
import { assertRegistryAllowed } from '../policy/registry-allowed.js'
import { assertInsecureAllowed } from '../policy/insecure-allowed.js'
import { mayUseHostCredentials } from '../policy/host-credentials-allowed.js'

/** The shape of an Express (4 or 5) request handler, without depending on Express's types. */
export type PushRequestHandler = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>

/**
 * The `POST /api/push` handler on its own, for mounting on any path (`app.post('/x', pushHandler())`).
 * Options are validated here, once. Works with or without `express.json()` in front of it.
 */
export function pushHandler(options: PushRouterOptions = {}): PushRequestHandler {
  const resolved = resolveOptions(options)
  return (req, res) => handlePush(resolved, req, res)
}

/** Internal: the handler body, shared by `pushHandler` and `createPushRouter`. */
export async function handlePush(options: ResolvedOptions, req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
  // Cancel the push when the client goes away before the response is finished.
  const { signal, release } = abortOnClose(res)
  let events: AsyncGenerator<PushProgress, void, undefined> | undefined
  try {
    const request = validatePushBody(await readJsonBody(req), options.allowRequestCredentials)
    const name = parseModelName(request.model, { defaultRegistry: options.defaultRegistry })
    // Policy first: a refused push must not reach the registry, nor the host's credentials callback.
    assertRegistryAllowed(name.host, options.allowedRegistries)
    assertInsecureAllowed(name.host, request.insecure, options.allowInsecure)
    const credentials = request.credentials ?? (await hostCredentials(options, name.host, request.insecure))
    events = pushModel(name, options, {
      signal,
      insecure: request.insecure,
      credentials,
      progressIntervalMs: options.progressIntervalMs,
      uploadConcurrency: options.uploadConcurrency,
    })
    // pushModel runs every cheap check before its first event: failures there are real statuses.
    await respondWithProgress(res, events, request.stream, options.clientStallTimeoutMs)
  } catch (error) {
    closeIfBodyUnread(req, res)
    sendFailure(res, error, options.logger, 'push')
  } finally {
    release()
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
