/**
 * One registry request, with everything around it: the scheme (insecure → http fallback), the
 * `Authorization` header (learnt from 401 challenges, one retry), redirects for GET/HEAD (never
 * carrying credentials to another host), network errors mapped to `RegistryError`, and a debug
 * line per request with the URL redacted.
 *
 * Streamed bodies (`stream`) are sent once: no replay after a 401 or a redirect. The caller
 * restarts the whole upload instead (the POST meets the challenge; the PATCH carries the token).
 */
import type { Readable } from 'node:stream'
import { AbortError, RegistryError } from '../errors.js'
import type { Logger } from '../model/types.js'
import type { RegistryAuth } from './auth.js'
import { assertUrlAllowed, verifiesTls, type EndpointResolver } from './endpoint.js'
import type { HttpMethod, HttpTransport, RegistryResponse } from './http-client.js'
import { redactUrl } from './redact.js'
import { registryErrorFromNetwork } from './registry-error.js'
import { isAborted, throwIfAborted } from './retry.js'
import type { RegistryTarget } from './uploader.js'

export interface ClientRequest {
  method: HttpMethod
  /** Absolute URL (see `RegistryClient.url`). */
  url: string
  /** Words for error messages, e.g. `check blob sha256:…`. */
  action: string
  headers?: Record<string, string>
  /** A replayable body. */
  body?: Buffer
  signal?: AbortSignal | undefined
  /** Follow 301/302/303/307/308 (GET and HEAD only). Default false. */
  followRedirects?: boolean
  /** On 401: learn the challenge and retry once. Default true. When false a 401 is returned as is. */
  authenticate?: boolean
  /** Override the client's timeout, ms. */
  timeoutMs?: number
  /** Token auth: access this request needs beyond the push scope, e.g. pull on a mount's source (`pullScope`). */
  extraScopes?: readonly string[]
}

export interface StreamRequest {
  method: 'PATCH' | 'PUT'
  url: string
  action: string
  headers: Record<string, string>
  body: Readable
  /** The exact number of bytes the body must deliver. */
  size: number
  /** Called with each chunk's length as it is handed to the socket. */
  onBytes: (bytes: number) => void
  /** Sees each chunk as it is handed to the socket, synchronously (e.g. to hash it). */
  onChunk?: ((chunk: Buffer) => void) | undefined
  signal?: AbortSignal | undefined
}

/** The blob stream failed or delivered the wrong number of bytes: a local problem, not the registry's. */
export class BodyStreamError extends Error {
  constructor(
    message: string,
    readonly kind: 'read' | 'size',
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'BodyStreamError'
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** How long a cancelled upload whose body is all sent still waits for the registry's answer, ms. */
const ANSWER_GRACE_MS = 2_000
const MAX_REDIRECTS = 5

export interface RegistryClientOptions {
  transport: HttpTransport
  auth: RegistryAuth
  endpoints: EndpointResolver
  logger: Logger | undefined
  timeoutMs: number
}

export class RegistryClient {
  readonly #transport: HttpTransport
  readonly #auth: RegistryAuth
  readonly #endpoints: EndpointResolver
  readonly #logger: Logger | undefined
  readonly #timeoutMs: number

  constructor(options: RegistryClientOptions) {
    this.#transport = options.transport
    this.#auth = options.auth
    this.#endpoints = options.endpoints
    this.#logger = options.logger
    this.#timeoutMs = options.timeoutMs
  }

  get auth(): RegistryAuth {
    return this.#auth
  }

  /** The absolute URL of `path` (`/v2/...`) on the target's registry, with the scheme decided so far. */
  url(target: RegistryTarget, path: string): string {
    return `${this.#endpoints.origin(target)}${path}`
  }

  /** Send a request with a replayable (or no) body; any status comes back, except a 401 that authentication cannot fix. */
  async request(target: RegistryTarget, request: ClientRequest): Promise<RegistryResponse> {
    const { action, signal } = request
    let url = assertUrlAllowed(target, request.url, action).toString()
    let authRetried = false
    let redirects = 0
    for (;;) {
      const authorization = this.#ownOrigin(target, url) ? await this.#auth.authorization(target, url, signal, request.extraScopes) : undefined
      const headers = { ...request.headers }
      if (authorization !== undefined) headers.Authorization = authorization.value
      let response: RegistryResponse
      const started = Date.now()
      try {
        response = await this.#transport.send({
          method: request.method,
          url,
          headers,
          body: request.body,
          signal,
          timeoutMs: request.timeoutMs ?? this.#timeoutMs,
          verifyTls: verifiesTls(target),
        })
      } catch (error) {
        if (isAborted(signal)) throw new AbortError()
        const plain = this.#endpoints.fallBackToHttp(target, url, error)
        if (plain !== undefined) {
          url = plain
          continue
        }
        this.#log(request.method, url, undefined, started)
        throw registryErrorFromNetwork(error, { action, url, host: target.host, insecure: target.insecure })
      }
      this.#log(request.method, url, response.status, started)

      if (response.status === 401 && !this.#ownOrigin(target, url)) throw foreignChallenge(target, response, action)
      if (response.status === 401 && request.authenticate !== false) {
        if (authRetried) throw this.#auth.refused(target, response, action)
        this.#auth.challenged(target, response, authorization, action)
        authRetried = true
        continue
      }
      const location = response.headers.location
      if (request.followRedirects === true && REDIRECTS.has(response.status) && location !== undefined && (request.method === 'GET' || request.method === 'HEAD')) {
        if (++redirects > MAX_REDIRECTS) {
          throw new RegistryError('REGISTRY_FAILED', `${action}: too many redirects`, { registryStatus: response.status, url: redactUrl(url) })
        }
        // Credentials follow only to the registry's own host: RegistryAuth checks each URL.
        url = assertUrlAllowed(target, new URL(location, url).toString(), action).toString()
        continue
      }
      return response
    }
  }

  /**
   * Send a streamed body once. The body is piped straight into the socket (no copies, no buffering);
   * `onBytes` sees each chunk's length. A watchdog aborts when nothing moves (no bytes sent, no
   * answer) for the timeout. A 401 is learnt from and returned, for the caller to restart.
   */
  async stream(target: RegistryTarget, request: StreamRequest): Promise<RegistryResponse> {
    const { action, signal, body, size } = request
    const url = assertUrlAllowed(target, request.url, action).toString()
    const own = this.#ownOrigin(target, url)
    const authorization = own ? await this.#auth.authorization(target, url, signal) : undefined
    const headers = { ...request.headers }
    if (authorization !== undefined) headers.Authorization = authorization.value

    throwIfAborted(signal)
    // Stopped by the caller's signal, a body failure or the watchdog, whichever comes first. A
    // cancel that comes once the whole body is out waits a moment for the answer instead: the
    // answer's Location is the only one the registry still accepts for this session (distribution
    // refuses a stale `_state`), so with it the caller can DELETE the session rather than leave it.
    const controller = new AbortController()
    let graceTimer: NodeJS.Timeout | undefined
    const onCancel = () => {
      if (sent !== size) return controller.abort()
      graceTimer = setTimeout(() => controller.abort(), Math.min(ANSWER_GRACE_MS, this.#timeoutMs))
      graceTimer.unref()
    }

    let sent = 0
    let bodyError: BodyStreamError | undefined
    const fail = (error: BodyStreamError) => {
      bodyError ??= error
      controller.abort()
    }
    const onData = (chunk: Buffer) => {
      sent += chunk.length
      if (sent > size) fail(new BodyStreamError(`blob stream delivered more than the expected ${size} bytes`, 'size'))
      request.onChunk?.(chunk)
      request.onBytes(chunk.length)
    }
    const onEnd = () => {
      if (sent !== size) fail(new BodyStreamError(`blob stream ended after ${sent} of ${size} bytes`, 'size'))
    }
    const onError = (error: unknown) => fail(new BodyStreamError('reading the blob failed', 'read', { cause: error }))
    signal?.addEventListener('abort', onCancel, { once: true })
    // Paused first: adding a 'data' listener must not start the flow before axios pipes the body.
    body.pause()
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)

    // Progress watchdog: checks a counter a few times per timeout; no per-chunk timer work. It runs
    // from the moment the request has a socket: queued behind busy pooled connections, nothing can
    // move, and that is not the registry's fault.
    const timeoutMs = this.#timeoutMs
    let stalled = false
    let lastSent = -1
    let lastChange = Date.now()
    let flowing = false
    const onSocket = () => {
      flowing = true
      lastChange = Date.now()
    }
    const watchdog = setInterval(
      () => {
        const now = Date.now()
        if (!flowing) return
        if (sent !== lastSent) {
          lastSent = sent
          lastChange = now
        } else if (now - lastChange >= timeoutMs) {
          stalled = true
          controller.abort()
        }
      },
      Math.max(20, Math.min(1_000, Math.floor(timeoutMs / 4))),
    )
    watchdog.unref()

    const started = Date.now()
    try {
      const response = await this.#transport.send({
        method: request.method,
        url,
        headers,
        body,
        signal: controller.signal,
        timeoutMs: 0,
        onSocket,
        verifyTls: verifiesTls(target),
      })
      this.#log(request.method, url, response.status, started, sent)
      if (bodyError !== undefined) throw bodyError
      // Learn from a 401 (and drop a refused token) without judging it: the upload restarts once from
      // POST, and that replayable request decides whether the credentials are really refused.
      if (response.status === 401 && !own) throw foreignChallenge(target, response, action)
      if (response.status === 401) this.#auth.learn(target, response, authorization)
      return response
    } catch (error) {
      if (isAborted(signal)) throw new AbortError()
      if (bodyError !== undefined) throw bodyError
      if (error instanceof RegistryError || error instanceof BodyStreamError) throw error
      this.#log(request.method, url, undefined, started, sent)
      if (stalled) {
        throw new RegistryError('REGISTRY_UNREACHABLE', `${action}: ${target.host} stopped responding (nothing moved for ${timeoutMs} ms)`, {
          url: redactUrl(url),
          retryable: true,
        })
      }
      throw registryErrorFromNetwork(error, { action, url, host: target.host, insecure: target.insecure })
    } finally {
      clearInterval(watchdog)
      clearTimeout(graceTimer)
      signal?.removeEventListener('abort', onCancel)
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
      // A late error from a destroyed stream must not go unhandled.
      body.on('error', () => undefined)
      if (!body.destroyed) body.destroy()
    }
  }

  /**
   * Whether `url` is on the registry's own origin (scheme, host, port). Only there are credentials
   * sent and 401 challenges learnt: a redirect target or an upload location elsewhere gets neither.
   */
  #ownOrigin(target: RegistryTarget, url: string): boolean {
    return new URL(url).origin === new URL(this.#endpoints.origin(target)).origin
  }

  #log(method: string, url: string, status: number | undefined, started: number, bytes?: number): void {
    this.#logger?.debug?.('registry request', {
      method,
      url: redactUrl(url),
      status: status ?? 'no answer',
      ms: Date.now() - started,
      ...(bytes === undefined ? {} : { bytes }),
    })
  }
}

/** A 401 from somewhere that is not the registry: fail that request, learn nothing, send nothing. */
function foreignChallenge(target: RegistryTarget, response: RegistryResponse, action: string): RegistryError {
  return new RegistryError(
    'REGISTRY_UNAUTHORIZED',
    `${action}: ${safeHost(response.url)} (not the registry ${target.host}) asked for authentication; credentials are only sent to the registry itself`,
    { registryStatus: 401, url: redactUrl(response.url) },
  )
}

function safeHost(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'another host'
  }
}
