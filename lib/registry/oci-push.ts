/**
 * One push to one repository over the OCI distribution API (distribution-spec "Push"), as named steps:
 *
 *     hasBlob      HEAD  /v2/<repo>/blobs/<digest>                            200 / 404
 *     mount        POST  /v2/<repo>/blobs/uploads/?mount=<digest>&from=<repo>  201 mounted / 202 session
 *     startUpload  POST  /v2/<repo>/blobs/uploads/                             202 + Location
 *     patchPart    PATCH <location>  one part, Content-Range: <start>-<end>    202 + new Location
 *     commitBlob   PUT   <location>&digest=<digest>                            201
 *     putManifest  PUT   /v2/<repo>/manifests/<tag>                            201
 *
 * Facts about distribution 2.8 (Debian's docker-registry) this relies on, measured:
 * - every PATCH answers with a new `Location` whose `_state` carries the offset; the old one is
 *   refused (404 BLOB_UPLOAD_INVALID), so the newest is always used; parts go one after another;
 * - a PATCH cut off mid-body leaves the session unusable ("upload resumed at wrong offset"), so a
 *   failed part restarts the blob from POST with fresh streams, never resumes;
 * - `POST ?digest=` with a body is not a monolithic upload there (it opens a session);
 * - a refused mount answers 202 with an ordinary session (source unknown or without the blob), or
 *   401 insufficient_scope under token auth when the token does not cover pulling the source.
 */
import { createHash, type Hash } from 'node:crypto'
import { AbortError, InvalidNameError, RegistryError, StorageError } from '../errors.js'
import { sha256Digest } from '../model/digest.js'
import type { Descriptor, Logger, OperationOptions } from '../model/types.js'
import { isBounded, type ReadHint } from '../storage/read-hint.js'
import { blobParts, takeBytes, type BlobPart } from './blob-parts.js'
import { pullScope } from './auth.js'
import { assertUrlAllowed } from './endpoint.js'
import type { RegistryResponse } from './http-client.js'
import { BodyStreamError, RegistryClient } from './registry-client.js'
import { isAborted, isRetryable, retry, throwIfAborted, type RetryPolicy } from './retry.js'
import { networkErrorCode } from './registry-error.js'
import type { BlobSightings, SharedUploads } from './shared-uploads.js'
import { expectStatus, rejectRetryable } from './transport/expect-status.js'
import type { BlobOpener, ManifestPayload, RegistryPush, RegistryTarget, UploadBlobOptions } from './uploader.js'
import { appendQueryParam } from './url.js'

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/
const REPOSITORY_SEGMENT = /^[A-Za-z0-9]+(?:[._-]+[A-Za-z0-9]+)*$/
const OCTET_STREAM = 'application/octet-stream'
/** Most mount sources tried per blob before uploading it. */
const MOUNT_ATTEMPTS = 2
/** Redirected parts in flight at once (the next part's PATCH starts while earlier parts go to the object store). */
const PARTS_IN_FLIGHT = 4
/** How long `close` waits for settling uploads and session DELETEs before leaving them to the background. */
const CLOSE_WAIT_MS = 10_000
/** Retries of a refused connection (whatever `retries` says): a wrong address fails within a few seconds. */
const REFUSED_RETRIES = 3

/** The opener `pushModel` hands over also takes the internal read hint (storage/read-hint.ts). */
type HintedOpener = (start: number, hint?: ReadHint) => ReturnType<BlobOpener>

/** A 401 on a streamed body: the stream is spent; the blob restarts from POST (once) with the learnt auth. */
class StreamUnauthorizedError extends Error {
  constructor(readonly refusal: RegistryError) {
    super(refusal.message)
    this.name = 'StreamUnauthorizedError'
  }
}

/** What a push session shares with its uploader. */
export interface OciPushContext {
  readonly client: RegistryClient
  readonly logger: Logger | undefined
  readonly retries: number
  readonly retryDelayMs: number
  readonly timeoutMs: number
  readonly minPartSize: number
  readonly maxPartSize: number
  readonly uploads: SharedUploads
  readonly sightings: BlobSightings
  /** Registry hosts found to answer PATCHes with 307 (redirected uploads): their parts are hashed from the start. */
  readonly redirectHosts: Set<string>
}

export class OciPush implements RegistryPush {
  readonly #context: OciPushContext
  readonly #target: RegistryTarget
  readonly #repository: string
  /** The pre-flight upload session, until a blob uses it or `close` cancels it. */
  #prepared: string | undefined
  #closed = false
  /** Uploads still settling and DELETEs of abandoned sessions (a restart, a refused mount, a cancel) still running: `close` waits for them. */
  readonly #background = new Set<Promise<void>>()

  private constructor(context: OciPushContext, target: RegistryTarget) {
    this.#context = context
    this.#target = target
    this.#repository = checkRepository(target)
  }

  /** The pre-flight: open the first upload session (a pull-only token is refused here with 401/403). */
  static async open(context: OciPushContext, target: RegistryTarget, options: OperationOptions = {}): Promise<OciPush> {
    const push = new OciPush(context, target)
    push.#prepared = await retry(() => push.#startUpload(options.signal), push.#policy(`open an upload session in ${push.#repository}`, options.signal))
    return push
  }

  async hasBlob(descriptor: Descriptor, options: OperationOptions = {}): Promise<boolean> {
    const digest = checkDigest(descriptor.digest)
    const action = `check blob ${digest}`
    const found = await retry(async () => {
      const url = this.#url(`/v2/${this.#repository}/blobs/${digest}`)
      const response = await this.#client.request(this.#target, { method: 'HEAD', url, action, signal: options.signal, followRedirects: true })
      if (expectStatus(response, action, 200, 404).status === 404) return false
      const length = response.headers['content-length']
      if (length !== undefined && /^\d+$/.test(length) && Number(length) !== descriptor.size) {
        // Content-addressed: the registry's blob cannot differ; the local descriptor is wrong.
        this.#context.logger?.warn?.('registry blob size differs from the manifest; uploading', { digest, registrySize: Number(length), size: descriptor.size })
        return false
      }
      return true
    }, this.#policy(action, options.signal))
    if (found) this.#seen(digest)
    return found
  }

  /**
   * Mount it from a repository that has it, else stream it in parts and commit it. Concurrent
   * pushes of this uploader needing the same blob in the same repository upload it once.
   */
  async uploadBlob(descriptor: Descriptor, open: BlobOpener, options: UploadBlobOptions = {}): Promise<void> {
    const digest = checkDigest(descriptor.digest)
    if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
      throw new StorageError(`blob ${digest} has an invalid size ${String(descriptor.size)}`, { code: 'BLOB_INVALID' })
    }
    const { signal } = options
    throwIfAborted(signal)
    const key = [this.#target.host.toLowerCase(), this.#repository, digest].join('\n')
    await this.#context.uploads.run(key, options.onBytes, signal, async (onBytes) => {
      if (await this.#mount(descriptor, options.mountFrom ?? [], signal)) onBytes(descriptor.size)
      else await this.#whileOpen(this.#upload(descriptor, open as HintedOpener, onBytes, signal))
      this.#seen(digest)
    })
  }

  async putManifest(reference: string, manifest: ManifestPayload, options: OperationOptions = {}): Promise<void> {
    if (!TAG.test(reference)) throw new InvalidNameError('tag', `tag ${JSON.stringify(reference)} is not a valid registry tag`)
    const action = `push manifest ${this.#repository}:${reference}`
    const bytes = manifest.bytes
    await retry(async () => {
      const response = await this.#client.request(this.#target, {
        method: 'PUT',
        url: this.#url(`/v2/${this.#repository}/manifests/${reference}`),
        action,
        body: bytes,
        headers: { 'Content-Type': manifest.mediaType, 'Content-Length': String(bytes.length) },
        signal: options.signal,
      })
      expectStatus(response, action, 201, 200, 204)
      const stored = response.headers['docker-content-digest']
      if (stored?.startsWith('sha256:') === true && stored !== sha256Digest(bytes)) {
        throw new RegistryError('REGISTRY_FAILED', `${action}: registry stored the manifest as ${stored}, not ${sha256Digest(bytes)}`, { registryStatus: response.status })
      }
    }, this.#policy(action, options.signal))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const prepared = this.#takePrepared()
    if (prepared !== undefined) this.#cancelInBackground(prepared)
    // An upload stopped by the push's end may still be settling (a cancelled PATCH waits briefly
    // for its answer) and then abandoning its session: wait for both, but not for ever (a registry
    // answering every DELETE with 503 would hold a shutdown for the whole retry budget); what is
    // still running then goes on in the background.
    const deadline = Date.now() + CLOSE_WAIT_MS
    while (this.#background.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined
      const timeUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))
      await Promise.race([Promise.all(this.#background), timeUp])
      clearTimeout(timer)
    }
  }

  // --- steps -------------------------------------------------------------------------------------

  /** Offer a cross-repository mount from where the blob probably is; true when the registry mounted it. */
  async #mount(descriptor: Descriptor, hinted: readonly string[], signal: AbortSignal | undefined): Promise<boolean> {
    const seen = this.#context.sightings.repositories(this.#target.host, descriptor.digest)
    const sources = [...new Set([...hinted, ...seen])].filter((source) => source !== this.#repository && isRepository(source)).slice(0, MOUNT_ATTEMPTS)
    for (const from of sources) {
      const action = `mount blob ${descriptor.digest} from ${from}`
      const url = new URL(this.#url(`/v2/${this.#repository}/blobs/uploads/`))
      url.searchParams.set('mount', descriptor.digest)
      url.searchParams.set('from', from)
      // Under token auth this request's token also asks pull on `from` (its own cache entry, see
      // auth.ts). A registry refuses the mount (401, or 202 with a plain session) when the account
      // may not read `from` or `from` lacks the blob; any refusal, or a failed token request for
      // this wider scope, only means "upload it instead": no re-authentication, no error. A 5xx,
      // 429 or network fault is retried like any step first: giving up on a cheap POST would cost
      // a whole upload.
      let response: RegistryResponse
      try {
        response = await retry(async () => {
          const answer = await this.#client.request(this.#target, {
            method: 'POST',
            url: url.toString(),
            action,
            headers: { 'Content-Type': OCTET_STREAM, 'Content-Length': '0' },
            signal,
            authenticate: false,
            extraScopes: [pullScope(from)],
          })
          return rejectRetryable(answer, action)
        }, this.#policy(action, signal))
      } catch (error) {
        if (isAborted(signal) || !(error instanceof RegistryError)) throw error
        this.#context.logger?.debug?.('mount refused, uploading', { digest: descriptor.digest, from, reason: error.message })
        continue
      }
      if (response.status === 201) {
        this.#context.logger?.debug?.('blob mounted', { digest: descriptor.digest, from })
        return true
      }
      // 202: the registry opened an ordinary session instead; nothing to keep it for.
      if (response.status === 202 && response.headers.location !== undefined) this.#cancelInBackground(this.#location(response, action))
      this.#context.logger?.debug?.('mount refused, uploading', { digest: descriptor.digest, from, status: response.status })
    }
    return false
  }

  /**
   * Stream the blob part by part into one session and commit it. A failed part restarts the blob
   * from a new session (distribution cannot resume a cut-off PATCH): the bytes reported so far are
   * taken back first with one negative `onBytes`, so the running sum never exceeds what is sent.
   */
  async #upload(descriptor: Descriptor, open: HintedOpener, onBytes: (bytes: number) => void, signal: AbortSignal | undefined): Promise<void> {
    const digest = descriptor.digest
    const tally = new Tally(onBytes)
    let authRestarted = false
    await retry(
      async () => {
        let location = this.#takePrepared()
        // One read ring for the parts of this attempt (storage/read-hint.ts): a part is opened only
        // after the previous one was answered. A restart, and every part after a 307 (whose PATCH
        // body was cut off), takes a new ring: a dead stream's read may still land in the old one.
        let ring: Buffer[] = []
        const redirect = new RedirectedParts(this.#context.redirectHosts.has(this.#target.host.toLowerCase()))
        try {
          // Each idempotent step is retried on its own, with one `retries` budget per step; a step
          // that uses it up fails the blob (a restart would only square its budget). A failed PATCH,
          // or a session the registry lost, restarts the blob: a cut-off PATCH leaves it unusable.
          location ??= await this.#blobStep(() => this.#startUpload(signal), `open an upload session in ${this.#repository}`, signal)
          for (const [index, part] of blobParts(descriptor.size, this.#context.minPartSize, this.#context.maxPartSize).entries()) {
            const answer = await this.#patchPart(location, descriptor, part, () => open(part.start, { end: part.end, reuseBuffers: true, ring }), tally.add, signal, redirect.md5(index))
            location = answer.next
            if (answer.store === undefined) {
              redirect.accepted(index, descriptor.digest)
              continue
            }
            ring = []
            if (!redirect.active && index === 0) {
              this.#context.redirectHosts.add(this.#target.host.toLowerCase())
              redirect.activate()
            }
            if (!redirect.active) {
              // Redirect mode shows only now: earlier parts went without their MD5. Remember the
              // host and restart the blob; this time every part is hashed from the start.
              this.#context.redirectHosts.add(this.#target.host.toLowerCase())
              throw new RegistryError('REGISTRY_FAILED', `upload blob ${digest}: the registry switched to redirected uploads`, { retryable: true })
            }
            const store = answer.store
            await redirect.launch(index, () => this.#putPart(store, descriptor, part, () => open(part.start, { end: part.end }), tally.add, signal))
          }
          const etag = await redirect.etag()
          const committing = location
          await this.#blobStep(() => this.#commitBlob(committing, descriptor, signal, etag), `commit blob ${digest}`, signal)
        } catch (error) {
          redirect.abandon()
          if (location !== undefined) this.#cancelInBackground(location)
          if (error instanceof BodyStreamError) {
            throw new StorageError(`blob ${digest}: ${error.message}`, { cause: error.cause, code: error.kind === 'size' ? 'BLOB_INVALID' : 'STORAGE_FAILED' })
          }
          throw error
        }
      },
      {
        ...this.#policy(`upload blob ${digest}`, signal),
        classify: (error) => {
          // The token expired or was revoked mid-stream: the restart's POST re-authenticates, once.
          if (error instanceof StreamUnauthorizedError) {
            if (authRestarted) throw error.refusal
            authRestarted = true
            return { outcome: 'restart', free: true }
          }
          return error instanceof RegistryError && error.retryable && !stepFailed.has(error) ? 'restart' : 'fail'
        },
        onRetry: ({ attempt, error, delayMs }) => {
          this.#context.logger?.warn?.('blob upload failed, restarting from the beginning', {
            digest,
            attempt,
            sent: tally.sent,
            reason: error instanceof Error ? error.message : 'unknown',
            delayMs,
          })
          tally.takeBack()
        },
      },
    )
  }

  /**
   * A step inside a blob's upload attempt (POST, commit PUT), retried with its own budget. When it
   * fails for good, the error is final for the blob too, except a lost session
   * (`BLOB_UPLOAD_UNKNOWN`/`_INVALID`), which is handed over at once for a restart from POST.
   */
  async #blobStep<T>(run: () => Promise<T>, action: string, signal: AbortSignal | undefined): Promise<T> {
    const policy = this.#policy(action, signal)
    try {
      return await retry(run, { ...policy, classify: (error, attempt) => (isSessionLost(error) ? 'fail' : policy.classify?.(error, attempt) ?? 'fail') })
    } catch (error) {
      if (error instanceof RegistryError && !isSessionLost(error)) stepFailed.add(error)
      throw error
    }
  }

  /**
   * Open an upload session. The POST itself is not aborted: a registry that received it opens the
   * session whether or not the answer is read, and only the answer says where to DELETE it. A
   * cancel stops the wait at once (AbortError); the answer, when it comes, closes that session.
   */
  async #startUpload(signal: AbortSignal | undefined): Promise<string> {
    const action = `open an upload session in ${this.#repository}`
    throwIfAborted(signal)
    const opened = this.#client
      .request(this.#target, {
        method: 'POST',
        url: this.#url(`/v2/${this.#repository}/blobs/uploads/`),
        action,
        headers: { 'Content-Type': OCTET_STREAM, 'Content-Length': '0' },
      })
      .then((response) => this.#location(expectStatus(response, action, 202), action))
    if (signal === undefined) return await opened
    return await new Promise<string>((resolve, reject) => {
      const onAbort = () => {
        reject(new AbortError())
        this.#inBackground(opened.then((location) => this.#cancelUpload(location), () => undefined))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      opened.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  /**
   * One part as one streamed PATCH (Ollama's headers). 202: the registry took it; `next` is the
   * session's next location. 307 (ollama.com): the part goes to the object store at `store`
   * instead; this PATCH's bytes are taken back from the progress, and `next` (from
   * `Docker-Upload-Location`, else `Location`) lets the next part start at once.
   */
  async #patchPart(
    location: string,
    descriptor: Descriptor,
    part: BlobPart,
    open: () => ReturnType<BlobOpener>,
    onBytes: (bytes: number) => void,
    signal: AbortSignal | undefined,
    md5: Hash | undefined,
  ): Promise<{ next: string; store?: string }> {
    const action = `upload blob ${descriptor.digest}`
    const length = part.end - part.start
    const tally = new Tally(onBytes)
    const headers = {
      'Content-Type': OCTET_STREAM,
      'Content-Length': String(length),
      'Content-Range': `${part.start}-${part.end - 1}`,
      'X-Redirect-Uploads': '1',
    }
    const response = await this.#sendPart({ method: 'PATCH', url: location, action, headers, signal }, descriptor, part, open, tally, md5)
    if (response.status === 401) throw new StreamUnauthorizedError(this.#client.auth.refused(this.#target, response, action))
    if (response.status === 307) {
      tally.takeBack()
      const store = response.headers.location
      const next = response.headers['docker-upload-location'] ?? store
      if (store === undefined || next === undefined) throw new RegistryError('REGISTRY_FAILED', `${action}: registry redirected the upload without a Location`, { registryStatus: 307, retryable: true })
      return {
        next: this.#location({ ...response, headers: { location: next } }, action),
        store: assertUrlAllowed(this.#target, new URL(store, response.url).toString(), action).toString(),
      }
    }
    expectStatus(response, action, 202, 204)
    // Range "0-<last>" says what the session holds; anything else means bytes were lost.
    const range = /^(?:bytes=)?0-(\d+)$/.exec(response.headers.range?.trim() ?? '')
    if (range?.[1] !== undefined && Number(range[1]) + 1 !== part.end) {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry holds ${Number(range[1]) + 1} bytes after the part ending at ${part.end}`, {
        registryStatus: response.status,
        retryable: true,
      })
    }
    return { next: response.headers.location === undefined ? location : this.#location(response, action) }
  }

  /**
   * A redirected part: PUT the same bytes to the object store's pre-signed URL, with no
   * Authorization and no registry headers (RegistryClient sends credentials only to the registry's
   * own origin). Retried in place with the step's `retries` budget, its progress taken back before each try; returns
   * the part's MD5. When the tries run out the blob restarts from a new session.
   */
  async #putPart(
    url: string,
    descriptor: Descriptor,
    part: BlobPart,
    open: () => ReturnType<BlobOpener>,
    onBytes: (bytes: number) => void,
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    const action = `upload part ${part.start}-${part.end - 1} of blob ${descriptor.digest}`
    const headers = { 'Content-Length': String(part.end - part.start) }
    const tally = new Tally(onBytes)
    return retry(
      async () => {
        const md5 = createHash('md5')
        const response = await this.#sendPart({ method: 'PUT', url, action, headers, signal }, descriptor, part, open, tally, md5)
        expectStatus(response, action, 200, 201, 204)
        const digest = md5.digest()
        const etag = response.headers.etag?.replace(/^(?:W\/)?"|"$/g, '')
        if (etag !== undefined && /^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== digest.toString('hex')) {
          throw new RegistryError('REGISTRY_FAILED', `${action}: the object store stored other bytes (ETag ${etag})`, { registryStatus: response.status, retryable: true })
        }
        return digest
      },
      {
        // The step's own budget (`retries`), like every idempotent step: a part the store keeps
        // failing is tried in place that often before the blob restarts from a new session.
        ...this.#policy(action, signal),
        onRetry: ({ attempt, error, delayMs }) => {
          this.#context.logger?.warn?.('part upload failed, retrying it', { action, attempt, reason: error instanceof Error ? error.message : 'unknown', delayMs })
          tally.takeBack()
        },
      },
    )
  }

  /**
   * Stream one part: a fresh stream from storage, ended at the part's end (by the storage, or cut
   * here), piped straight into the request socket (RegistryClient.stream: no Transform, no
   * buffering; each chunk waits for 'drain', so the shipped storage may reuse its read buffers).
   */
  async #sendPart(
    request: { method: 'PATCH' | 'PUT'; url: string; action: string; headers: Record<string, string>; signal: AbortSignal | undefined },
    descriptor: Descriptor,
    part: BlobPart,
    open: () => ReturnType<BlobOpener>,
    tally: Tally,
    md5: Hash | undefined,
  ): Promise<RegistryResponse> {
    const length = part.end - part.start
    const opened = await open()
    const body = part.end === descriptor.size || isBounded(opened) ? opened : takeBytes(opened, length)
    if (request.signal?.aborted === true) {
      body.destroy()
      throw new AbortError()
    }
    return this.#client.stream(this.#target, {
      ...request,
      body,
      size: length,
      onBytes: tally.add,
      onChunk: md5 === undefined ? undefined : (chunk) => void md5.update(chunk),
    })
  }

  async #commitBlob(location: string, descriptor: Descriptor, signal: AbortSignal | undefined, etag: string | undefined): Promise<void> {
    const action = `commit blob ${descriptor.digest}`
    const committed = appendQueryParam(location, 'digest', descriptor.digest)
    const response = await this.#client.request(this.#target, {
      method: 'PUT',
      url: etag === undefined ? committed : appendQueryParam(committed, 'etag', etag),
      action,
      headers: { 'Content-Type': OCTET_STREAM, 'Content-Length': '0' },
      signal,
    })
    expectStatus(response, action, 201, 200, 204)
    const stored = response.headers['docker-content-digest']
    if (stored !== undefined && stored !== descriptor.digest) {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry committed the blob as ${stored}`, { registryStatus: response.status })
    }
  }

  /**
   * Best-effort DELETE of an upload session; never throws, never re-authenticates. A 5xx/429 or a
   * network fault is retried like any other request, so a flaky registry is not left with open
   * sessions; any other answer (204, or 404 for a session already gone) ends it.
   */
  async #cancelUpload(location: string): Promise<void> {
    const action = 'cancel an upload session'
    try {
      await retry(async () => {
        const response = await this.#client.request(this.#target, {
          method: 'DELETE',
          url: location,
          action,
          authenticate: false,
          timeoutMs: Math.min(this.#context.timeoutMs, 10_000),
        })
        rejectRetryable(response, action)
      }, this.#policy(action, undefined))
    } catch {
      // the registry purges abandoned sessions itself
    }
  }

  /** Cancel a session without waiting here; `close` waits for it, so a finished push leaves none open. */
  #cancelInBackground(location: string): void {
    this.#inBackground(this.#cancelUpload(location))
  }

  /** Clean-up work (never rejecting) that `close` waits for. */
  #inBackground(work: Promise<void>): void {
    const tracked = work.finally(() => this.#background.delete(tracked))
    this.#background.add(tracked)
  }

  /** `upload`, which `close` also waits for until it has settled (its outcome stays the caller's). */
  #whileOpen(upload: Promise<void>): Promise<void> {
    this.#inBackground(upload.catch(() => undefined))
    return upload
  }

  // --- helpers -----------------------------------------------------------------------------------

  get #client(): RegistryClient {
    return this.#context.client
  }

  #url(path: string): string {
    return this.#client.url(this.#target, path)
  }

  #policy(action: string, signal: AbortSignal | undefined): RetryPolicy {
    return {
      retries: this.#context.retries,
      baseDelayMs: this.#context.retryDelayMs,
      signal,
      // A refused connection is almost always a wrong address: give up after a few tries, so a
      // typo never looks like a hang (the budget is for a flaky registry, not a missing one).
      classify: (error, attempt) => (!isRetryable(error) || (isConnectionRefused(error) && attempt >= REFUSED_RETRIES) ? 'fail' : 'retry'),
      onRetry: ({ attempt, error, delayMs }) =>
        this.#context.logger?.warn?.('registry request failed, retrying', { action, attempt, reason: error instanceof Error ? error.message : 'unknown', delayMs }),
    }
  }

  #seen(digest: string): void {
    this.#context.sightings.remember(this.#target.host, digest, this.#repository)
  }

  #takePrepared(): string | undefined {
    const location = this.#prepared
    this.#prepared = undefined
    return location
  }

  /** The answer's `Location`, resolved against the request URL (it may be relative) and checked. */
  #location(response: RegistryResponse, action: string): string {
    const location = response.headers.location
    if (location === undefined || location === '') {
      throw new RegistryError('REGISTRY_FAILED', `${action}: registry answered ${response.status} without a Location`, { registryStatus: response.status, retryable: true })
    }
    return assertUrlAllowed(this.#target, new URL(location, response.url).toString(), action).toString()
  }
}

/** A step's error after its own retries ran out: final for its blob too (see `#blobStep`). */
const stepFailed = new WeakSet<RegistryError>()

/** The registry no longer knows the upload session: only a new one (a restart from POST) can help. */
function isSessionLost(error: unknown): boolean {
  return error instanceof RegistryError && error.registryCodes.some((code) => code === 'BLOB_UPLOAD_UNKNOWN' || code === 'BLOB_UPLOAD_INVALID')
}

function isConnectionRefused(error: unknown): boolean {
  return error instanceof RegistryError && networkErrorCode(error.cause) === 'ECONNREFUSED'
}

function isRepository(repository: string): boolean {
  const segments = repository.split('/')
  return segments.length > 0 && segments.every((segment) => REPOSITORY_SEGMENT.test(segment))
}

function checkRepository(target: RegistryTarget): string {
  if (!isRepository(target.repository)) {
    throw new InvalidNameError('name', `repository ${JSON.stringify(target.repository)} is not a valid registry repository`)
  }
  return target.repository
}

function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw new StorageError(`${JSON.stringify(digest)} is not a valid digest`, { code: 'BLOB_INVALID' })
  return digest
}

/**
 * The redirected parts of one upload attempt (ollama.com's mode): a few PUTs to the object store
 * in flight at once, each part's MD5, and the commit's `etag` — the hex MD5 of the concatenated
 * binary part MD5s, a dash, the number of parts (S3 multipart style; zero parts: MD5 of nothing,
 * `-0`). `active` from the start when the host is known to redirect, so parts sent through the
 * registry (a 202 among 307s) are hashed too.
 */
class RedirectedParts {
  readonly #md5s: Array<Promise<Buffer> | Hash> = []
  readonly #running = new Set<Promise<unknown>>()
  #failed: unknown

  constructor(active: boolean) {
    this.#active = active
  }

  #active: boolean

  get active(): boolean {
    return this.#active
  }

  /** Redirect mode showed on the first part: nothing went unhashed. */
  activate(): void {
    this.#active = true
  }

  /** A hash for part `index` sent through the registry, when in redirect mode. */
  md5(index: number): Hash | undefined {
    if (!this.#active) return undefined
    const hash = createHash('md5')
    this.#md5s[index] = hash
    return hash
  }

  /** Part `index` went through the registry after all. */
  accepted(index: number, digest: string): void {
    if (this.active && this.#md5s[index] === undefined) throw new RegistryError('REGISTRY_FAILED', `upload blob ${digest}: a part went unhashed`, { retryable: true })
  }

  /** Start a redirected part; waits while `PARTS_IN_FLIGHT` are running; rethrows a failure of any. */
  async launch(index: number, put: () => Promise<Buffer>): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed
    const running = put()
    this.#md5s[index] = running
    const tracked = running.then(
      () => void this.#running.delete(tracked),
      (error: unknown) => {
        this.#running.delete(tracked)
        this.#failed ??= error
      },
    )
    this.#running.add(tracked)
    while (this.#running.size >= PARTS_IN_FLIGHT) await Promise.race(this.#running)
    if (this.#failed !== undefined) throw this.#failed
  }

  /** Wait for every part; the commit's etag, or undefined outside redirect mode. */
  async etag(): Promise<string | undefined> {
    if (!this.active) return undefined
    await Promise.all(this.#running)
    if (this.#failed !== undefined) throw this.#failed
    const md5s = await Promise.all(this.#md5s.map((entry) => (entry instanceof Promise ? entry : entry.digest())))
    return `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}`
  }

  /** The attempt failed: settle the parts still running without unhandled rejections. */
  abandon(): void {
    for (const entry of this.#md5s) if (entry instanceof Promise) entry.catch(() => undefined)
  }
}

/** Bytes reported for one part, so a failed try can take exactly those back. */
class Tally {
  #sent = 0

  constructor(readonly report: (bytes: number) => void) {}

  get sent(): number {
    return this.#sent
  }

  readonly add = (bytes: number): void => {
    this.#sent += bytes
    this.report(bytes)
  }

  takeBack(): void {
    if (this.#sent !== 0) this.report(-this.#sent)
    this.#sent = 0
  }
}
