import { addAbortSignal, Readable } from 'node:stream'
import { InvalidNameError, StorageError } from '../errors.js'
import { formatModelName, modelNameKey, parseModelName, partProblem } from '../model/name.js'
import type { Descriptor, ModelName, OperationOptions, StoredManifest } from '../model/types.js'
import type { OpenBlobOptions, StorageAdapter, WriteBlobOptions } from './adapter.js'
import { BlobVerifier, checkBlobSize, throwIfAborted, writeFailure } from './blob-verifier.js'
import { checkSha256Digest, sha256Digest } from '../model/digest.js'
import { DOCKER_CONFIG_V1, parseStoredManifest, serializeManifest } from './manifest.js'

/** Options of `MemoryStorage`. */
export interface MemoryStorageOptions {
  /** Size of the chunks `openBlob` streams deliver, in bytes. Default 65536 (Node's file-stream default). */
  chunkSize?: number | undefined
  /** Registry host that `addModel` fills in for names without one. Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
}

/** A blob for `MemoryStorage.addModel`: its bytes and media type. */
export interface MemoryBlob {
  mediaType: string
  data: Buffer
}

/** A model for `MemoryStorage.addModel`. A bare Buffer config gets Ollama's config media type. */
export interface MemoryModel {
  config: Buffer | MemoryBlob
  layers: MemoryBlob[]
}

/**
 * A `StorageAdapter` that keeps everything in memory, with every optional capability. Meant for
 * tests of host apps and adapters (it follows the same contract as `FilesystemStorage`, checked by
 * the same suite). Blobs are held as Buffers and handed out as fresh streams; manifests keep their
 * exact bytes. Names are matched ignoring ASCII case, and a case variant of a stored name rewrites
 * the stored model (keeping the first spelling), as on disk.
 */
export class MemoryStorage implements StorageAdapter {
  readonly #blobs = new Map<string, Buffer>()
  readonly #manifests = new Map<string, { name: ModelName; bytes: Buffer; modifiedAt: Date }>()
  readonly #chunkSize: number
  readonly #defaultRegistry: string | undefined

  constructor(options: MemoryStorageOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('MemoryStorage: options must be an object')
    const unknown = Object.keys(options).filter((key) => key !== 'chunkSize' && key !== 'defaultRegistry')
    if (unknown.length > 0) throw new TypeError(`MemoryStorage: unknown option ${unknown.map((k) => `"${k}"`).join(', ')} (known options: chunkSize, defaultRegistry)`)
    const chunkSize = options.chunkSize ?? 64 * 1024
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new TypeError('MemoryStorage: "chunkSize" must be a positive integer')
    this.#chunkSize = chunkSize
    this.#defaultRegistry = options.defaultRegistry
  }

  async readManifest(name: ModelName, options: OperationOptions = {}): Promise<StoredManifest | undefined> {
    throwIfAborted(options.signal)
    const stored = this.#manifests.get(key(name))
    if (stored === undefined) return undefined
    return Object.freeze({ ...parseStoredManifest(Buffer.from(stored.bytes), `the manifest of ${formatModelName(name)}`), modifiedAt: new Date(stored.modifiedAt) })
  }

  async statBlob(digest: string, options: OperationOptions = {}): Promise<{ size: number } | undefined> {
    throwIfAborted(options.signal)
    const blob = this.#blobs.get(checkDigest(digest))
    return blob === undefined ? undefined : { size: blob.length }
  }

  async openBlob(digest: string, options: OpenBlobOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal)
    const blob = this.#blobs.get(checkDigest(digest))
    if (blob === undefined) throw new StorageError(`blob ${digest} is not in local storage`)
    const start = checkBlobSize(options.start, 'openBlob start') ?? 0
    if (start > blob.length) throw new StorageError(`openBlob start ${start} is past the end of blob ${digest} (${blob.length} bytes)`)
    const stream = bufferStream(blob, start, this.#chunkSize)
    if (options.signal) addAbortSignal(options.signal, stream)
    return stream
  }

  async writeBlob(digest: string, content: Readable, options: WriteBlobOptions = {}): Promise<{ size: number }> {
    const { signal } = options
    const verifier = new BlobVerifier(checkDigest(digest), checkBlobSize(options.size, 'writeBlob size'))
    const chunks: Buffer[] = []
    const onAbort = () => content.destroy()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      throwIfAborted(signal)
      for await (const chunk of content) {
        throwIfAborted(signal)
        chunks.push(verifier.update(chunk))
      }
      throwIfAborted(signal)
      verifier.finish()
    } catch (error) {
      content.destroy()
      throw writeFailure(error, signal, `write blob ${digest}`)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    this.#blobs.set(digest, Buffer.concat(chunks))
    return { size: verifier.size }
  }

  async writeManifest(name: ModelName, bytes: Buffer, options: OperationOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    const k = key(name)
    parseStoredManifest(bytes, `the manifest for ${formatModelName(name)}`)
    const existing = this.#manifests.get(k)
    this.#manifests.set(k, { name: existing?.name ?? Object.freeze({ ...name }), bytes: Buffer.from(bytes), modifiedAt: new Date() })
  }

  async deleteModel(name: ModelName, options: OperationOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    return this.#manifests.delete(key(name))
  }

  async listModels(options: OperationOptions = {}): Promise<ModelName[]> {
    throwIfAborted(options.signal)
    return [...this.#manifests.values()].map((m) => m.name).sort((a, b) => (formatModelName(a) < formatModelName(b) ? -1 : 1))
  }

  /** Remove a blob; resolves `false` when absent. (Tests also use it to make a model incomplete.) */
  async deleteBlob(digest: string, options: OperationOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    return this.#blobs.delete(checkDigest(digest))
  }

  /**
   * Store a model in one call: its blobs, and a manifest written the way Ollama writes one
   * (`serializeManifest`). Returns the manifest bytes. `name` strings are parsed with Ollama's rules
   * and this storage's `defaultRegistry`.
   */
  addModel(name: string | ModelName, model: MemoryModel): Buffer {
    const parsed = typeof name === 'string' ? parseModelName(name, { defaultRegistry: this.#defaultRegistry }) : name
    const k = key(parsed)
    const config = Buffer.isBuffer(model.config) ? { mediaType: DOCKER_CONFIG_V1, data: model.config } : model.config
    const store = (blob: MemoryBlob): Descriptor => {
      const digest = sha256Digest(blob.data)
      this.#blobs.set(digest, Buffer.from(blob.data))
      return { mediaType: blob.mediaType, digest, size: blob.data.length }
    }
    const bytes = serializeManifest(store(config), model.layers.map(store))
    parseStoredManifest(bytes, `the manifest for ${formatModelName(parsed)}`)
    const existing = this.#manifests.get(k)
    this.#manifests.set(k, { name: existing?.name ?? Object.freeze({ ...parsed }), bytes: Buffer.from(bytes), modifiedAt: new Date() })
    return bytes
  }
}

/** The map key of a name, after checking its parts the way every adapter must. */
function key(name: ModelName): string {
  if (name === null || typeof name !== 'object') throw new InvalidNameError('name', 'model name must be a ModelName object')
  for (const part of ['host', 'namespace', 'model', 'tag'] as const) {
    const problem = partProblem(part, name[part])
    if (problem !== undefined) throw new InvalidNameError(part, problem)
  }
  return modelNameKey(name)
}

function checkDigest(digest: string): string {
  checkSha256Digest(digest)
  return digest
}

/** A stream over `buffer` from `start`, in chunks of `chunkSize` bytes. */
function bufferStream(buffer: Buffer, start: number, chunkSize: number): Readable {
  let offset = start
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (offset >= buffer.length) {
        this.push(null)
        return
      }
      const end = Math.min(offset + chunkSize, buffer.length)
      // A copy, so a consumer that scribbles on its chunks cannot change the stored blob.
      const chunk = Buffer.from(buffer.subarray(offset, end))
      offset = end
      this.push(chunk)
    },
  })
}
