import type { ServerResponse } from 'node:http'
import { ModelPushError, UnsupportedError } from '../errors.js'
import { resolveOptions, type ModelRouterOptions, type ResolvedOptions } from '../options.js'
import { readRequestObject, requestName, stringField } from './model-request.js'
import { sendEmpty, sendFailure, type ModelRequestHandler } from './respond.js'

/** `POST /api/copy` on its own, for mounting on any path. */
export function copyHandler(options: ModelRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options, 'model')
  return (req, res) => handleCopy(resolved, req, res)
}

/**
 * `POST /api/copy` `{"source","destination"}`, as Ollama's `CopyHandler`: the source manifest's
 * bytes are written under the destination name (replacing it); 200 with an empty body, 404 when the
 * source is absent, 400 for an invalid name, 501 when the storage cannot write manifests.
 */
export async function handleCopy(options: ResolvedOptions, req: Parameters<ModelRequestHandler>[0], res: ServerResponse): Promise<void> {
  try {
    const body = await readRequestObject(req)
    const sourceText = stringField(body, 'source')
    const destinationText = stringField(body, 'destination')
    const source = requestName(sourceText, options, (q) => `source ${q} is invalid`)
    const destination = requestName(destinationText, options, (q) => `destination ${q} is invalid`)
    const { storage } = options
    if (typeof storage.writeManifest !== 'function') throw new UnsupportedError('this server\'s storage cannot write models (its adapter has no writeManifest)')
    const manifest = await storage.readManifest(source)
    if (manifest === undefined) throw new ModelPushError('MODEL_NOT_FOUND', `model "${sourceText}" not found`, 'storage')
    await storage.writeManifest(destination, manifest.bytes)
    sendEmpty(res, 200)
  } catch (error) {
    sendFailure(res, error, options.logger, 'copy')
  }
}
