import type { ServerResponse } from 'node:http'
import { ModelPushError, UnsupportedError } from '../errors.js'
import { manifestDigests, pruneBlobs } from '../model/prune.js'
import { resolveOptions, type ModelRouterOptions, type ResolvedOptions } from '../options.js'
import { readRequestObject, requestName, stringField } from './model-request.js'
import { describeError, sendEmpty, sendFailure, type ModelRequestHandler } from './respond.js'

/** `DELETE /api/delete` on its own, for mounting on any path. */
export function deleteHandler(options: ModelRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options, 'model')
  return (req, res) => handleDelete(resolved, req, res)
}

/**
 * `DELETE /api/delete` `{"model"}` (or `name`, as ollama-js sends it), as Ollama's `DeleteHandler`:
 * removes the manifest (pruning empty directories) and then the blobs no other model uses; 200 with
 * an empty body, 404 `model '<name>' not found`, 400 for an invalid name, 501 without `deleteModel`.
 */
export async function handleDelete(options: ResolvedOptions, req: Parameters<ModelRequestHandler>[0], res: ServerResponse): Promise<void> {
  try {
    const body = await readRequestObject(req)
    const given = stringField(body, 'model') || stringField(body, 'name')
    const name = requestName(given, options, (q) => `name ${q} is invalid`)
    const { storage } = options
    if (typeof storage.deleteModel !== 'function') throw new UnsupportedError('this server\'s storage cannot delete models (its adapter has no deleteModel)')
    const manifest = await storage.readManifest(name)
    const notFound = () => new ModelPushError('MODEL_NOT_FOUND', `model '${given}' not found`, 'storage')
    if (manifest === undefined || !(await storage.deleteModel(name))) throw notFound()
    try {
      await pruneBlobs(storage, manifestDigests(manifest))
    } catch (error) {
      // The model is gone, which is what was asked; a blob left over costs only space.
      options.logger?.warn?.('delete: could not remove unused blobs', { error: describeError(error) })
    }
    sendEmpty(res, 200)
  } catch (error) {
    sendFailure(res, error, options.logger, 'delete')
  }
}
