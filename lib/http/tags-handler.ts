import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { UnsupportedError } from '../errors.js'
import { readModelDetails, type ModelDetails } from '../model/details.js'
import { displayModelName } from '../model/name.js'
import type { ModelName, OperationOptions, StoredManifest } from '../model/types.js'
import { resolveOptions, type ModelRouterOptions, type ResolvedOptions } from '../options.js'
import type { StorageAdapter } from '../storage/adapter.js'
import { describeError, sendFailure, sendJson, type ModelRequestHandler } from './respond.js'

/** One entry of `GET /api/tags`, as Ollama's `api.ListModelResponse`. */
export interface ListedModel {
  /** Ollama's shortest display name, e.g. `llama3:latest` (relative to the server's default registry). */
  name: string
  /** The same as `name`. */
  model: string
  /** When the manifest was last written (RFC 3339); the Unix epoch when the storage cannot tell. */
  modified_at: string
  /** Bytes of the config and every layer. */
  size: number
  /** Hex sha256 of the manifest bytes, without `sha256:`. */
  digest: string
  details: ModelDetails
}

/** `GET /api/tags` (and `HEAD`) on its own, for mounting on any path. */
export function tagsHandler(options: ModelRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options, 'model')
  return (req, res) => handleTags(resolved, req, res)
}

/** `GET /api/tags`: `{"models": [...]}` newest first; 501 when the storage cannot list. */
export async function handleTags(options: ResolvedOptions, _req: Parameters<ModelRequestHandler>[0], res: ServerResponse): Promise<void> {
  try {
    sendJson(res, 200, { models: await listModels(options) })
  } catch (error) {
    sendFailure(res, error, options.logger, 'list')
  }
}

/** Every stored model as `/api/tags` lists it. A model whose manifest cannot be read is left out (and logged), as Ollama does. */
export async function listModels(options: ResolvedOptions, operation: OperationOptions = {}): Promise<ListedModel[]> {
  const { storage } = options
  if (typeof storage.listModels !== 'function') throw new UnsupportedError('this server\'s storage cannot list models (its adapter has no listModels)')
  const listed: Array<ListedModel & { time: number }> = []
  for (const name of await storage.listModels(operation)) {
    const entry = await describeModel(storage, name, options, operation).catch((error: unknown) => {
      if (operation.signal?.aborted) throw error
      options.logger?.warn?.('list: skipping a model that cannot be read', { model: displayModelName(name, options), error: describeError(error) })
      return undefined
    })
    if (entry !== undefined) listed.push(entry)
  }
  listed.sort((a, b) => b.time - a.time)
  return listed.map(({ time: _time, ...entry }) => entry)
}

async function describeModel(storage: StorageAdapter, name: ModelName, options: ResolvedOptions, operation: OperationOptions) {
  const manifest: StoredManifest | undefined = await storage.readManifest(name, operation)
  if (manifest === undefined) return undefined
  const display = displayModelName(name, { defaultRegistry: options.defaultRegistry })
  const modified = manifest.modifiedAt ?? new Date(0)
  return {
    name: display,
    model: display,
    modified_at: modified.toISOString(),
    size: manifest.layers.reduce((sum, layer) => sum + layer.size, manifest.config.size),
    digest: createHash('sha256').update(manifest.bytes).digest('hex'),
    details: await readModelDetails(storage, manifest, operation),
    time: modified.getTime(),
  }
}
