import { Readable } from 'node:stream'
import { InvalidRequestError, ModelNotFoundError, ModelPushError, StorageError, UnsupportedError } from '../errors.js'
import { GgufError } from '../gguf/gguf-error.js'
import { readGguf, type GgufInfo } from '../gguf/read-gguf.js'
import { displayModelName } from '../model/name.js'
import { manifestDigests, pruneBlobs } from '../model/prune.js'
import type { ModelName, OperationOptions, PushProgress, StoredManifest } from '../model/types.js'
import type { StorageAdapter } from '../storage/adapter.js'
import { throwIfAborted } from '../storage/blob-verifier.js'
import { DOCKER_CONFIG_V1 } from '../storage/manifest.js'
import { readJsonObject } from '../storage/small-blob.js'
import type { CreateRequest } from './create-request.js'
import { applyOverrides, contentLayer, manifestBytes, MEDIA, type PlannedLayer } from './layers.js'
import { addModelLayer, configBytes, emptyConfig, inheritConfig, inheritSettings } from './model-config.js'

/** What `createModel` needs. */
export interface CreateDependencies {
  /** Where models live; needs the optional `writeBlob` and `writeManifest` (and, for pruning, `listModels` and `deleteBlob`). */
  storage: StorageAdapter
  /** Registry host of names without one, for display (`from` fields, messages). Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
}

/** One progress line of `/api/create`, as Ollama writes it (only `status` is ever set). */
export type CreateProgress = PushProgress

/**
 * Create (or re-create) model `request.name` from uploaded GGUF blobs (`files`, `adapters`) or a
 * local model (`from`), plus template, system, license, parameters and messages layers, exactly as
 * Ollama lays them out (docs/create.md). Framework-free: an async generator of progress events.
 *
 * Every check that can fail cheaply runs before the first event (so the router can still answer a
 * real status): storage capabilities, the parent model (404, never pulled), every blob present and
 * starting with the GGUF magic. Later failures reject the generator after some events.
 *
 * Nothing half-made is left: small blobs this create wrote are removed again (unless another
 * manifest uses them) when it fails or is aborted before the manifest is written. A re-created
 * name's old blobs that nothing uses any more are removed after the new manifest is in place.
 */
export async function* createModel(request: CreateRequest, deps: CreateDependencies, options: OperationOptions = {}): AsyncGenerator<CreateProgress, void, undefined> {
  const { storage } = deps
  const { signal } = options
  const display = (name: ModelName) => displayModelName(name, { defaultRegistry: deps.defaultRegistry })
  if (typeof storage.writeBlob !== 'function' || typeof storage.writeManifest !== 'function') {
    throw new UnsupportedError('this server cannot create models: its storage has no writeBlob/writeManifest')
  }
  throwIfAborted(signal)

  // Cheap checks first: their failures are still real HTTP statuses.
  let parent: StoredManifest | undefined
  if (request.from) {
    parent = await storage.readManifest(request.from, { signal })
    if (parent === undefined) throw new ModelNotFoundError(display(request.from))
    // A parent missing one of its blobs would hand the new model a dangling layer (Ollama stats each too).
    for (const layer of [parent.config, ...parent.layers]) {
      if ((await storage.statBlob(layer.digest, { signal })) === undefined) {
        throw new StorageError(`model "${display(request.from)}" is incomplete: its blob ${layer.digest} is missing from the store`)
      }
    }
  }
  const uploads = [...request.files.map((f) => ({ ...f, adapter: false })), ...request.adapters.map((f) => ({ ...f, adapter: true }))]
  const sizes = new Map<string, number>()
  for (const upload of uploads) {
    const stat = await storage.statBlob(upload.digest, { signal })
    if (stat === undefined) {
      throw new InvalidRequestError(`blob ${upload.digest} of file "${upload.file}" is not in the store: upload it first (POST /api/blobs/${upload.digest})`)
    }
    sizes.set(upload.digest, stat.size)
    if (!(await startsWithGgufMagic(storage, upload.digest, signal))) {
      throw new InvalidRequestError(
        upload.file.endsWith('.safetensors') ? 'only GGUF files are supported: safetensors need converting, which this server does not do' : `supplied file "${upload.file}" was not in GGUF format`,
      )
    }
  }
  const previous = await storage.readManifest(request.name, { signal })

  const config = emptyConfig()
  const layers: PlannedLayer[] = []
  let parentParameters: Record<string, unknown> = {}
  if (parent !== undefined && request.from !== undefined) {
    const from = display(request.from)
    const parentConfig = await readJsonObject(storage, parent.config.digest, { signal })
    inheritSettings(config, parentConfig)
    for (const layer of parent.layers) {
      layers.push({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size, from })
      if (layer.mediaType === MEDIA.model) {
        const info = await readLayerGguf(storage, layer.digest, layer.size, signal).catch((error: unknown) => {
          if (error instanceof GgufError) return undefined
          throw error
        })
        // A parent whose weights are not GGUF (another format, or a test fixture) hands its config down instead.
        if (info !== undefined) addModelLayer(config, info)
        else inheritConfig(config, parentConfig)
      } else if (layer.mediaType === MEDIA.params) {
        // Ollama merges every params layer, the first value of a key winning.
        parentParameters = { ...(await readJsonObject(storage, layer.digest, { signal })), ...parentParameters }
      }
    }
  }

  for (const upload of uploads) {
    yield { status: 'parsing GGUF' }
    let info: GgufInfo
    try {
      info = await readLayerGguf(storage, upload.digest, sizes.get(upload.digest), signal)
    } catch (error) {
      if (error instanceof GgufError) throw new InvalidRequestError(`file "${upload.file}" is not a usable GGUF file: ${error.message}`)
      throw error
    }
    const splits = info.metadata.get('split.count')
    if ((typeof splits === 'number' || typeof splits === 'bigint') && Number(splits) > 1) {
      throw new InvalidRequestError(`file "${upload.file}" is one part of a split GGUF model; merge the parts (llama-gguf-split --merge) and upload one file`)
    }
    const mediaType = upload.adapter ? MEDIA.adapter : ggufMediaType(info)
    if (mediaType === MEDIA.model) addModelLayer(config, info)
    // The uploaded blob itself is the layer: same digest, nothing rewritten. No `from`: a file name
    // is no model a registry could mount from, and a push would only spend a refused mount on it.
    layers.push({ mediaType, digest: upload.digest, size: sizes.get(upload.digest) ?? 0 })
  }

  const final = applyOverrides(layers, request, parentParameters)
  const configLayer = contentLayer(DOCKER_CONFIG_V1, configBytes(config, final.map((l) => l.digest)))
  const created: string[] = []
  let done = false
  try {
    const statuses: string[] = []
    for (const layer of [...final, configLayer]) {
      throwIfAborted(signal)
      let status = 'using existing layer'
      if (layer.content !== undefined && (await storage.statBlob(layer.digest, { signal })) === undefined) {
        await storage.writeBlob(layer.digest, Readable.from([layer.content]), { size: layer.size, signal })
        created.push(layer.digest)
        status = 'creating new layer'
      }
      if (layer !== configLayer) statuses.push(`${status} ${layer.digest}`)
    }
    for (const status of statuses) yield { status }
    yield { status: 'writing manifest' }
    throwIfAborted(signal)
    await storage.writeManifest(request.name, manifestBytes(configLayer, final), { signal })
    done = true
  } finally {
    // Failed or aborted before the manifest: take back the small blobs made for it.
    if (!done && created.length > 0) await pruneBlobs(storage, created).catch(() => undefined)
  }

  if (previous !== undefined) {
    const kept = new Set([configLayer.digest, ...final.map((l) => l.digest)])
    await pruneBlobs(storage, manifestDigests(previous).filter((d) => !kept.has(d)))
  }
  yield { status: 'success' }
}

/** Whether a blob starts with `GGUF`: read at most its first chunk, then let go. */
async function startsWithGgufMagic(storage: StorageAdapter, digest: string, signal: AbortSignal | undefined): Promise<boolean> {
  const stream = await storage.openBlob(digest, { signal })
  let head = Buffer.alloc(0)
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      head = Buffer.concat([head, chunk])
      if (head.length >= 4) break
    }
  } finally {
    stream.destroy()
  }
  return head.subarray(0, 4).toString('latin1') === 'GGUF'
}

async function readLayerGguf(storage: StorageAdapter, digest: string, size: number | undefined, signal: AbortSignal | undefined): Promise<GgufInfo> {
  const stream = await storage.openBlob(digest, { signal })
  try {
    // Only scalars are needed for the config: every array is skipped, not kept.
    return await readGguf(stream as AsyncIterable<Buffer>, { size, maxArrayLength: 0, signal })
  } catch (error) {
    if (error instanceof ModelPushError || error instanceof GgufError) throw error
    throwIfAborted(signal)
    throw error
  } finally {
    stream.destroy()
  }
}

/** Ollama's choice of media type for a GGUF from `files` (`ggufLayersWithMediaType`, `isProjectorGGUF`). */
function ggufMediaType(info: GgufInfo): string {
  const kv = info.metadata
  const kind = kv.get('general.type')
  if (kind === 'adapter') return MEDIA.adapter
  if (kind === 'projector' || kind === 'mmproj') return MEDIA.projector
  const architecture = typeof kv.get('general.architecture') === 'string' ? (kv.get('general.architecture') as string) : 'unknown'
  const number = (key: string) => {
    const value = kv.get(`${architecture}.${key}`)
    return typeof value === 'number' || typeof value === 'bigint' ? Number(value) : 0
  }
  const flag = (key: string) => kv.get(`${architecture}.${key}`) === true
  if (number('block_count') === 0 && number('vision.block_count') > 0) return MEDIA.projector
  if (architecture === 'clip' && number('block_count') === 0 && (flag('has_vision_encoder') || flag('has_audio_encoder'))) return MEDIA.projector
  return MEDIA.model
}
