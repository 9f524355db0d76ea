/**
 * `OciRegistryUploader`: the default `RegistryUploader`, speaking the OCI distribution API
 * (distribution-spec "Push") as named steps:
 *
 *     hasBlob      HEAD  /v2/<repo>/blobs/<digest>                      200 / 404
 *     startUpload  POST  /v2/<repo>/blobs/uploads/                       202 + Location
 *     patchBlob    PATCH <location>   (the whole blob, one streamed body) 202 + new Location
 *     commitBlob   PUT   <location>&digest=<digest>                      201
 *     putManifest  PUT   /v2/<repo>/manifests/<tag>                      201
 *
 * Facts about distribution 2.8 (Debian's docker-registry) this relies on, measured:
 * - every PATCH answers with a new `Location` whose `_state` carries the offset; the old one is
 *   refused (404 BLOB_UPLOAD_INVALID), so the newest is always used;
 * - a PATCH cut off mid-body leaves the session unusable ("upload resumed at wrong offset"), so
 *   a failed blob restarts from POST with a fresh stream, never resumes;
 * - `POST ?digest=` with a body is not a monolithic upload there (it opens a session), so the
 *   upload is always POST → PATCH → PUT;
 * - `Content-Range` on PATCH is ignored by 2.8 but required by the OCI spec for chunks; it is sent.
 */
import { createHash } from 'node:crypto'
import { AbortError, InvalidNameError, RegistryError, StorageError } from '../errors.js'
import type { Descriptor, Logger, OperationOptions } from '../model/types.js'
import { RegistryAuth } from './auth.js'
import { EndpointResolver, assertUrlAllowed } from './endpoint.js'
import { HttpTransport, type RegistryResponse } from './http-client.js'
import { ollamaTokenSelector } from './ollama/select.js'
import { resolveUploaderOptions, type OciRegistryUploaderOptions, type ResolvedUploaderOptions } from './options.js'
import { BodyStreamError, RegistryClient } from './registry-client.js'
import { registryErrorFromResponse } from './registry-error.js'
import { backoffMs, isAborted, parseRetryAfter, sleep } from './retry.js'
import type { BlobOpener, ManifestPayload, RegistryTarget, RegistryUploader, UploadBlobOptions } from './uploader.js'
import { appendQueryParam } from './url.js'

export type { OciRegistryUploaderOptions } from './options.js'

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
const REPOSITORY_SEGMENT = /^[A-Za-z0-9]+(?:[._-]+[A-Za-z0-9]+)*$/
const OCTET_STREAM = 'application/octet-stream'

/** A 401 on a streamed body: the stream is spent; the upload restarts from POST (once) with the learnt auth. */
class StreamUnauthorizedError extends Error {
  constructor(readonly refusal: RegistryError) {
    super(refusal.message)
    this.name = 'StreamUnauthorizedError'
  }
}

export class OciRegistryUploader implements RegistryUploader {
  readonly #options: ResolvedUploaderOptions
  readonly #logger: Logger | undefined
  readonly #transport: HttpTransport
  readonly #client: RegistryClient
  /** Upload sessions opened by `prepare`, by target object, until a blob uses them or `release` cancels them. */
  readonly #prepared = new WeakMap<RegistryTarget, string>()
  /** `Retry-After` of errors made from answers, for the backoff. */
  readonly #retryAfter = new WeakMap<RegistryError, number>()

  constructor(options?: OciRegistryUploaderOptions) {
    this.#options = resolveUploaderOptions(options)
    this.#logger = this.#options.logger
    this.#transport = new HttpTransport({ ca: this.#options.ca, userAgent: this.#options.userAgent, maxSockets: this.#options.maxSockets })
    const endpoints = new EndpointResolver(this.#logger)
    const tokenSourceFor = ollamaTokenSelector({
      key: this.#options.ollamaKey,
      hosts: this.#options.ollamaHosts,
      transport: this.#transport,
      timeoutMs: this.#options.timeoutMs,
      logger: this.#logger,
    })
    const auth = new RegistryAuth({ transport: this.#transport, logger: this.#logger, timeoutMs: this.#options.timeoutMs, tokenSourceFor })
    this.#client = new RegistryClient({ transport: this.#transport, auth, endpoints, logger: this.#logger, timeoutMs: this.#options.timeoutMs })
  }

  /**
   * Prove reachability, authentication and push permission by opening the first upload session
   * (a pull-only token is refused here with 401/403). The session is kept for this target and
   * used by the first `uploadBlob`, or cancelled by `release`.
   */
  async prepare(target: RegistryTarget, options: OperationOptions = {}): Promise<void> {
    const repository = checkRepository(target)
    const previous = this.#prepared.get(target)
    if (previous !== undefined) {
      this.#prepared.delete(target)
      await this.#cancelUpload(target, previous)
    }
    const location = await this.#retrying(`open an upload session in ${repository}`, options.signal, () =>
      this.#startUpload(target, repository, options.signal),
    )
    this.#prepared.set(target, location)
  }

  /** Cancel the session `prepare` opened if no blob used it. Best-effort: failures are ignored. */
  async release(target: RegistryTarget): Promise<void> {
    const location = this.#prepared.get(target)
    if (location === undefined) return
    this.#prepared.delete(target)
    await this.#cancelUpload(target, location)
  }

  async hasBlob(target: RegistryTarget, descriptor: Descriptor, options: OperationOptions = {}): Promise<boolean> {
    const repository = checkRepository(target)
    const digest = checkDigest(descriptor.digest)
    const action = `check blob ${digest}`
    return this.#retrying(action, options.signal, async () => {
      const url = this.#client.url(target, `/v2/${repository}/blobs/${digest}`)
      const response = await this.#client.request(target, { method: 'HEAD', url, action, signal: options.signal, followRedirects: true })
      if (response.status === 404) return false
      if (response.status !== 200) throw this.#fail(response, action)
      const length = response.headers['content-length']
      if (length !== undefined && /^\d+$/.test(length) && Number(length) !== descriptor.size) {
        // Content-addressed: the registry's blob cannot differ; the local descriptor is wrong.
        this.#logger?.warn?.('registry blob size differs from the manifest; uploading', { digest, registrySize: Number(length), size: descriptor.size })
        return false
      }
      return true
    })
  }

  /**
   * Stream the blob as one PATCH and commit it. On a retryable failure the blob restarts from POST
   * with a fresh `open(0)`; the bytes reported for the failed attempt are taken back first with one
   * negative `onBytes` call, so the sum of all deltas is always what the current attempt has sent.
   */
  async uploadBlob(target: RegistryTarget, descriptor: Descriptor, open: BlobOpener, options: UploadBlobOptions = {}): Promise<void> {
    const repository = checkRepository(target)
    const digest = checkDigest(descriptor.digest)
    if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
      throw new StorageError(`blob ${digest} has an invalid size ${String(descriptor.size)}`, { code: 'BLOB_INVALID' })
    }
    const { signal, onBytes } = options
    const action = `upload blob ${digest}`
    if (isAborted(signal)) throw new AbortError()
    let retries = 0
    let authRestarted = false
    for (;;) {
      let location = this.#takePrepared(target)
      let sent = 0
      const count = (bytes: number) => {
        sent += bytes
        onBytes?.(bytes)
      }
      try {
        location ??= await this.#startUpload(target, repository, signal)
        if (descriptor.size > 0) location = await this.#patchBlob(target, location, descriptor, open, count, signal)
        await this.#commitBlob(target, location, descriptor, signal)
        return
      } catch (caught) {
        let error = caught
        if (location !== undefined) void this.#cancelUpload(target, location)
        if (isAborted(signal)) throw new AbortError()
        if (error instanceof BodyStreamError) {
          throw new StorageError(`blob ${digest}: ${error.message}`, { cause: error.cause, code: error.kind === 'size' ? 'BLOB_INVALID' : 'STORAGE_FAILED' })
        }
        let restart = false
        if (error instanceof StreamUnauthorizedError) {
          // The token expired or was revoked mid-push: the POST of a restart re-authenticates.
          restart = !authRestarted
          authRestarted = true
          error = error.refusal
        } else if (error instanceof RegistryError && error.retryable && retries < this.#options.retries) {
          restart = true
          retries++
        }
        if (!restart) throw error
        if (sent !== 0) onBytes?.(-sent)
        const wait = error instanceof RegistryError ? backoffMs(retries - 1, this.#options.retryDelayMs, this.#retryAfter.get(error)) : 0
        this.#logger?.warn?.('blob upload failed, restarting from the beginning', {
          digest,
          attempt: retries,
          sent,
          reason: error instanceof Error ? error.message : 'unknown',
          delayMs: wait,
        })
        await sleep(wait, signal)
      }
    }
  }

  async putManifest(target: RegistryTarget, reference: string, manifest: ManifestPayload, options: OperationOptions = {}): Promise<void> {
    const repository = checkRepository(target)
    if (!TAG.test(reference)) throw new InvalidNameError('tag', `tag ${JSON.stringify(reference)} is not a valid registry tag`)
    const action = `push manifest ${repository}:${reference}`
    const bytes = manifest.bytes
    await this.#retrying(action, options.signal, async () => {
      const url = this.#client.url(target, `/v2/${repository}/manifests/${reference}`)
      const response = await this.#client.request(target, {
        method: 'PUT',
        url,
        action,
        body: bytes,
        headers: { 'Content-Type': manifest.mediaType, 'Content-Length': String(bytes.length) },
        signal: options.signal,
      })
      if (response.status !== 201 && response.status !== 200 && response.status !== 204) throw this.#fail(response, action)
      const stored = response.headers['docker-content-digest']
      if (stored?.startsWith('sha256:') === true) {
        const sent = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
        if (stored !== sent) {
          throw new RegistryError('REGISTRY_FAILED', `${action}: registry stored the manifest as ${stored}, not ${sent}`, { registryStatus: response.status })
        }
      }
    })
  }

  /** Close idle keep-alive connections. The uploader must not be used afterwards. */
  close(): void {
    this.#transport.close()
  }

  // --- steps -------------------------------------------------------------------------------------

  async #startUpload(target: RegistryTarget, repository: string, signal: AbortSignal | undefined): Promise<string> {
    const action = `open an upload session in ${repository}`
    const url = this.#client.url(target, `/v2/${repository}/blobs/uploads/`)
    const response = await this.#client.request(target, {
      method: 'POST',
      url,
      action,
      headers: { 'Content-Type': OCTET_STREAM, 'Content-Length': '0' },
      signal,
    })
    if (response.status !== 202) throw this.#fail(response, action)
    return this.#location(target, response, action)
  }

  async #patchBlob(
    target: RegistryTarget,
    location: string,
    descriptor: Descriptor,
    open: BlobOpener,
    onBytes: (bytes: number) => void,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const action = `upload blob ${descriptor.digest}`
    // The body is piped straight into the request socket (RegistryClient.stream: no Transform, no
    // buffering) and each 1 MiB chunk waits for 'drain': the storage may reuse its read buffers.
    const body = await open(0, { reuseBuffers: true })
    if (isAborted(signal)) {
      body.destroy()
      throw new AbortError()
    }
    const response = await this.#client.stream(target, {
      method: 'PATCH',
      url: location,
      action,
      headers: {
        'Content-Type': OCTET_STREAM,
        'Content-Length': String(descriptor.size),
        'Content-Range': `0-${descriptor.size - 1}`,
      },
      body,
      size: descriptor.size,
      onBytes,
      signal,
    })
    if (response.status === 401) throw new StreamUnauthorizedError(this.#client.auth.refused(target, response, action))
    if (response.status !== 202 && response.status !== 204) throw this.#fail(response, action)
    // Range "0-<last>" says what the session holds; anything short means bytes were lost.
    const range = /^(?:bytes=)?0-(\d+)$/.exec(response.headers.range?.trim() ?? '')
    if (range?.[1] !== undefined && Number(range[1]) + 1 !== descriptor.size) {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry holds ${Number(range[1]) + 1} of ${descriptor.size} bytes after the upload`, {
        registryStatus: response.status,
        retryable: true,
      })
    }
    return response.headers.location === undefined ? location : this.#location(target, response, action)
  }

  async #commitBlob(target: RegistryTarget, location: string, descriptor: Descriptor, signal: AbortSignal | undefined): Promise<void> {
    const action = `commit blob ${descriptor.digest}`
    const url = appendQueryParam(location, 'digest', descriptor.digest)
    const response = await this.#client.request(target, {
      method: 'PUT',
      url,
      action,
      headers: { 'Content-Type': OCTET_STREAM, 'Content-Length': '0' },
      signal,
    })
    if (response.status !== 201 && response.status !== 200 && response.status !== 204) throw this.#fail(response, action)
    const stored = response.headers['docker-content-digest']
    if (stored !== undefined && stored !== descriptor.digest) {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry committed the blob as ${stored}`, { registryStatus: response.status })
    }
  }

  /** Best-effort DELETE of an upload session; never throws, never re-authenticates. */
  async #cancelUpload(target: RegistryTarget, location: string): Promise<void> {
    try {
      await this.#client.request(target, {
        method: 'DELETE',
        url: location,
        action: 'cancel an upload session',
        authenticate: false,
        timeoutMs: Math.min(this.#options.timeoutMs, 10_000),
      })
    } catch {
      // the registry purges abandoned sessions itself
    }
  }

  // --- helpers -----------------------------------------------------------------------------------

  #takePrepared(target: RegistryTarget): string | undefined {
    const location = this.#prepared.get(target)
    if (location !== undefined) this.#prepared.delete(target)
    return location
  }

  /** The answer's `Location`, resolved against the request URL (it may be relative) and checked. */
  #location(target: RegistryTarget, response: RegistryResponse, action: string): string {
    const location = response.headers.location
    if (location === undefined || location === '') {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry answered ${response.status} without a Location`, { registryStatus: response.status, retryable: true })
    }
    return assertUrlAllowed(target, new URL(location, response.url).toString(), action).toString()
  }

  #fail(response: RegistryResponse, action: string): RegistryError {
    const error = registryErrorFromResponse(response, { action, url: response.url })
    const retryAfter = parseRetryAfter(response.headers['retry-after'])
    if (retryAfter !== undefined) this.#retryAfter.set(error, retryAfter)
    return error
  }

  /** Run a replayable step, retrying retryable registry failures with backoff. */
  async #retrying<T>(action: string, signal: AbortSignal | undefined, step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (isAborted(signal)) throw new AbortError()
      try {
        return await step()
      } catch (error) {
        if (isAborted(signal)) throw new AbortError()
        if (!(error instanceof RegistryError) || !error.retryable || attempt >= this.#options.retries) throw error
        const wait = backoffMs(attempt, this.#options.retryDelayMs, this.#retryAfter.get(error))
        this.#logger?.warn?.('registry request failed, retrying', { action, attempt: attempt + 1, reason: error.message, delayMs: wait })
        await sleep(wait, signal)
      }
    }
  }
}

function checkRepository(target: RegistryTarget): string {
  const segments = target.repository.split('/')
  if (segments.length === 0 || !segments.every((segment) => REPOSITORY_SEGMENT.test(segment))) {
    throw new InvalidNameError('name', `repository ${JSON.stringify(target.repository)} is not a valid registry repository`)
  }
  return target.repository
}

function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw new StorageError(`${JSON.stringify(digest)} is not a valid digest`, { code: 'BLOB_INVALID' })
  return digest
}
