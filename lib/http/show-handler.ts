import type { IncomingMessage, ServerResponse } from 'node:http'
import Joi from 'joi'
import { InvalidRequestError } from '../errors.js'
import { parseName } from '../create/create-request.js'
import { showModel } from '../model/show.js'
import { resolveOptions, type PushRouterOptions, type ResolvedOptions } from '../options.js'
import { requestSignal, type RequestSignal } from './request-signal.js'
import { readJsonBody } from './push-request.js'
import { closeIfBodyUnread } from './unread-body.js'
import { sendFailure, sendJson, type ModelRequestHandler } from './respond.js'

/** The body of `POST /api/show` (Ollama's `api.ShowRequest`, the fields this package reads). */
export interface ShowRequestBody {
  model?: string
  /** Older name of `model`; the `ollama` npm client spreads whatever it is given. */
  name?: string
  /** Keep long metadata arrays (tokenizer vocabularies) in `model_info`. Default false. */
  verbose?: boolean
  /** Shown instead of the model's own system prompt, as in Ollama. */
  system?: string
}

const schema = Joi.object<ShowRequestBody>({
  model: Joi.string().allow(''),
  name: Joi.string().allow(''),
  verbose: Joi.boolean(),
  system: Joi.string().allow(''),
}).unknown(true)

/** The `POST /api/show` handler on its own, for mounting on any path. Options are validated here, once. */
export function showHandler(options: PushRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options)
  return (req, res) => handleShow(resolved, req, res)
}

/** Internal: the handler body, shared by `showHandler` and `createModelRouter`. */
export async function handleShow(options: ResolvedOptions, req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<void> {
  let cancel: RequestSignal | undefined
  try {
    cancel = requestSignal(res, options.signal)
    const signal = cancel.signal
    const body = await readJsonBody(req)
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('request body must be a JSON object')
    const { error, value } = schema.validate(body, { abortEarly: false, convert: false, errors: { wrap: { label: false } } })
    if (error) throw new InvalidRequestError(error.details.map((d) => d.message).join('; '))
    const model = value.model || value.name
    if (!model) throw new InvalidRequestError('model is required')
    const response = await showModel(options.storage, parseName(model, options.defaultRegistry), { verbose: value.verbose ?? false, system: value.system, defaultRegistry: options.defaultRegistry, signal })
    sendJson(res, 200, response)
  } catch (error) {
    closeIfBodyUnread(req, res)
    sendFailure(res, error, options.logger, 'show')
  } finally {
    cancel?.dispose()
  }
}
