import { AbortError, ModelNotFoundError, ModelPushError, StorageError } from '../errors.js'
import { displayModelName, formatModelName, parseModelName, repositoryOf } from '../model/name.js'
import type { Credentials, Descriptor, Logger, ModelName, PushProgress, StoredManifest } from '../model/types.js'
import type { RegistryPush, RegistryTarget, RegistryUploader } from '../registry/uploader.js'
import type { StorageAdapter } from '../storage/adapter.js'
import { READ_HINT, type HintedOptions, type ReadHint } from '../storage/read-hint.js'
import { blobProgress, ticker } from './progress.js'
import { UploadQueue } from './upload-queue.js'

/** What a push reads from and writes to. */
export interface PushDependencies {
  /** Where the local model lives. */
  storage: StorageAdapter
  /** How blobs and the manifest reach the registry. */
  uploader: RegistryUploader
  /** Receives one line per push start/finish/failure. Never receives credentials. */
  logger?: Logger | undefined
}

/** Per-push options. */
export interface PushOptions {
  /** Cancels the push: the upload in flight stops and the generator throws an `AbortError`. */
  signal?: AbortSignal | undefined
  /** Docker's insecure-registry behaviour for this push (https without verification, http fallback). Default `false`. */
  insecure?: boolean | undefined
  /** Credentials for the model's registry host. */
  credentials?: Credentials | undefined
  /** Registry host used when the name has none. Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
  /** Least time between two byte-progress events for one blob, in ms. Default 50. */
  progressIntervalMs?: number | undefined
  /**
   * How many blobs of one push upload at once (1–8). Progress lines keep Ollama's order either
   * way. Default 2: the small layers go up while the big one streams.
   */
  uploadConcurrency?: number | undefined
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 50
export const DEFAULT_UPLOAD_CONCURRENCY = 2

/**
 * Push the local model `ref` to its registry, yielding Ollama's progress events.
 *
 * Every check that can fail cheaply runs before the first event: the name, the local manifest,
 * the local blobs' presence and sizes, and `uploader.open` (registry reachability, auth, push
 * permission); the session it opens is closed when the push ends, whatever the outcome. So an error thrown before the first event means nothing was sent, and an HTTP
 * layer can still answer it with a real status. The last event is always `{status: 'success'}`.
 *
 * Blobs are reported in manifest order, then the config, each skipped when the registry already
 * has it (all are asked about at once); missing ones upload `uploadConcurrency` at a time, started
 * in that order. Then the manifest's stored bytes are put unchanged under the name's tag.
 */
export async function* pushModel(
  ref: string | ModelName,
  deps: PushDependencies,
  options: PushOptions = {},
): AsyncGenerator<PushProgress, void, undefined> {
  const { storage, uploader, logger } = deps
  // A signal of our own, so that a consumer that stops iterating (return()) also stops the upload.
  const inner = new AbortController()
  const signal = options.signal === undefined ? inner.signal : AbortSignal.any([options.signal, inner.signal])
  const interval = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS
  const name = typeof ref === 'string' ? parseModelName(ref, { defaultRegistry: options.defaultRegistry }) : ref
  const target: RegistryTarget = {
    host: name.host,
    repository: repositoryOf(name),
    insecure: options.insecure === true,
    credentials: options.credentials,
  }
  const started = Date.now()
  const fields = { model: formatModelName(name) }
  let session: RegistryPush | undefined
  let ended = false
  try {
    throwIfAborted(signal)
    const manifest = await fromStorage(() => storage.readManifest(name, { signal }), 'read the manifest')
    if (manifest === undefined) throw new ModelNotFoundError(displayModelName(name))
    const blobs = uniqueBlobs(manifest)
    await checkLocalBlobs(storage, blobs, signal)
    session = await uploader.open(target, { signal })
    const push = session
    logger?.debug?.('push started', { ...fields, blobs: blobs.length })

    yield { status: 'retrieving manifest' }

    // Ask about every blob at once; then upload the missing ones a few at a time.
    const present = await Promise.all(blobs.map((blob) => push.hasBlob(blob, { signal })))
    const queue = new UploadQueue(
      options.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY,
      (blob, counter) =>
        push.uploadBlob(blob, opener(storage, blob.digest, signal), { signal, onBytes: counter.add, mountFrom: mountSources(blob, options.defaultRegistry) }),
      () => inner.abort(),
    )
    queue.add(blobs.filter((_, i) => !present[i]))
    for (const [i, blob] of blobs.entries()) {
      if (present[i]) yield blobProgress(blob, blob.size)
      else yield* followUpload(queue, blob, interval)
    }

    throwIfAborted(signal)
    yield { status: 'pushing manifest' }
    await push.putManifest(name.tag, { mediaType: manifest.mediaType, bytes: manifest.bytes }, { signal })
    ended = true
    logger?.info?.('push finished', { ...fields, ms: Date.now() - started })
    yield { status: 'success' }
  } catch (error) {
    ended = true
    const code = error instanceof ModelPushError ? error.code : 'INTERNAL'
    logger?.warn?.('push failed', { ...fields, code, ms: Date.now() - started })
    throw error
  } finally {
    // Stopped by its consumer (`return()`, e.g. the client went away) before either outcome.
    if (!ended) logger?.warn?.('push failed', { ...fields, code: 'ABORTED', ms: Date.now() - started })
    inner.abort()
    await session?.close().catch(() => undefined)
  }
}

/** Layers in manifest order, then the config; a digest listed twice is pushed once. */
function uniqueBlobs(manifest: StoredManifest): Descriptor[] {
  const seen = new Set<string>()
  const out: Descriptor[] = []
  for (const blob of [...manifest.layers, manifest.config]) {
    if (seen.has(blob.digest)) continue
    seen.add(blob.digest)
    out.push(blob)
  }
  return out
}

/** A model whose blobs are missing or truncated locally is refused before anything is sent. */
async function checkLocalBlobs(storage: StorageAdapter, blobs: Descriptor[], signal: AbortSignal | undefined) {
  for (const blob of blobs) {
    const stat = await fromStorage(() => storage.statBlob(blob.digest, { signal }), 'check a blob')
    if (stat === undefined) throw new StorageError(`blob ${blob.digest} is missing from local storage`)
    if (stat.size !== blob.size) {
      throw new StorageError(
        `blob ${blob.digest} is ${stat.size} bytes in local storage but the manifest says ${blob.size}`,
        { code: 'BLOB_INVALID' },
      )
    }
  }
}

/** Progress of one queued upload: a first line, samples while bytes flow, a closing line. */
async function* followUpload(queue: UploadQueue, blob: Descriptor, interval: number): AsyncGenerator<PushProgress, void, undefined> {
  const job = queue.get(blob.digest)
  // The upload runs on its own; this only samples its counter, so a slow reader of the progress
  // never slows the upload.
  const tick = ticker(interval, Promise.race([job.done, queue.failed]))
  let reported = -1
  if (!job.settled) {
    reported = job.counter.takeChange() ?? job.counter.completed
    yield blobProgress(blob, reported)
  }
  while (!job.settled && queue.failure === undefined) {
    await tick()
    const completed = job.settled ? undefined : job.counter.takeChange()
    if (completed === undefined) continue
    reported = completed
    yield blobProgress(blob, completed)
  }
  const failure = queue.failure
  if (failure !== undefined) throw failure.error
  // The closing line, unless the last sample already said the same.
  if (reported !== blob.size) yield blobProgress(blob, blob.size)
}

/**
 * Storage reads for a blob, with storage failures labelled as such. The hidden second argument is
 * the internal read hint between the shipped uploader and storage (storage/read-hint.ts), passed on
 * untouched.
 */
function opener(storage: StorageAdapter, digest: string, signal: AbortSignal) {
  return (start: number, hint?: ReadHint) => {
    const options: HintedOptions & { start: number; signal: AbortSignal } = { start, signal }
    if (hint !== undefined) options[READ_HINT] = hint
    return fromStorage(() => storage.openBlob(digest, options), 'open a blob')
  }
}

/** Where a layer taken from a parent model can be mounted from: the parent's `<namespace>/<model>` (its host ignored, as Ollama does). */
function mountSources(blob: Descriptor, defaultRegistry: string | undefined): string[] | undefined {
  if (blob.from === undefined) return undefined
  try {
    return [repositoryOf(parseModelName(blob.from, { defaultRegistry }))]
  } catch {
    return undefined
  }
}

async function fromStorage<T>(operation: () => Promise<T>, what: string): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (error instanceof ModelPushError) throw error
    if (error instanceof Error && error.name === 'AbortError') throw new AbortError()
    throw new StorageError(`local storage failed to ${what}`, { cause: error })
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError()
}
