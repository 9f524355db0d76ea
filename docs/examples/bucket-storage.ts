import type { Readable } from 'node:stream'
import {
  InvalidNameError,
  StorageError,
  isSha256Digest,
  parseStoredManifest,
  partProblem,
  type ModelName,
  type OpenBlobOptions,
  type StorageAdapter,
  type StoredManifest,
} from 'express-model-push'

/** The object store client this sketch assumes: gets, heads, ranged reads. */
export interface Bucket {
  get(key: string, options: { range?: string; signal?: AbortSignal | undefined }): Promise<BucketObject | undefined>
  head(key: string, options: { signal?: AbortSignal | undefined }): Promise<{ contentLength: number } | undefined>
}
export interface BucketObject {
  bytes(): Promise<Buffer>
  stream(): Readable
}

export class BucketStorage implements StorageAdapter {
  constructor(
    private readonly bucket: Bucket,
    private readonly prefix = 'models/',
  ) {}

  #manifestKey(name: ModelName): string {
    for (const part of ['host', 'namespace', 'model', 'tag'] as const) {
      const problem = partProblem(part, name[part])
      if (problem) throw new InvalidNameError(part, problem)
    }
    return `${this.prefix}manifests/${[name.host, name.namespace, name.model, name.tag].join('/').toLowerCase()}`
  }

  #blobKey(digest: string): string {
    if (!isSha256Digest(digest)) throw new StorageError('bad digest', { code: 'BLOB_INVALID' })
    return `${this.prefix}blobs/sha256-${digest.slice(7)}`
  }

  async readManifest(name: ModelName, { signal }: { signal?: AbortSignal | undefined } = {}): Promise<StoredManifest | undefined> {
    const object = await this.bucket.get(this.#manifestKey(name), { signal }) // undefined on 404
    return object && parseStoredManifest(await object.bytes(), `manifest of ${name.model}:${name.tag}`)
  }

  async statBlob(digest: string, { signal }: { signal?: AbortSignal | undefined } = {}): Promise<{ size: number } | undefined> {
    const head = await this.bucket.head(this.#blobKey(digest), { signal }) // undefined on 404
    return head && { size: head.contentLength }
  }

  async openBlob(digest: string, { start = 0, signal }: OpenBlobOptions = {}): Promise<Readable> {
    const object = await this.bucket.get(this.#blobKey(digest), { range: `bytes=${start}-`, signal })
    if (!object) throw new StorageError(`blob ${digest} is not in local storage`)
    return object.stream() // a fresh stream per call
  }
}
