/**
 * The HTTP layer under the registry client: one axios instance, keep-alive agents, explicit status
 * checks. It sends exactly one request and reports exactly one answer (or throws the raw error);
 * auth, schemes, retries and error mapping live above it.
 *
 * axios settings, and why:
 * - `maxRedirects: 0`: axios then uses Node's own http/https instead of follow-redirects, which
 *   would buffer a streamed body (up to `maxBodyLength`) to replay it on a redirect. Redirects are
 *   followed by the client layer, for GET/HEAD only, without credentials across hosts.
 * - `maxBodyLength: -1` (axios's "unlimited"), not `Infinity`: since axios 1.13 any limit > -1,
 *   Infinity included, inserts a byte-counting Transform between a streamed body and the socket
 *   (an extra stream hop and callback per chunk). -1 pipes the body straight into the request.
 * - no `onUploadProgress`/`maxRate`: either inserts AxiosTransformStream. Progress is counted on the
 *   source stream by the uploader instead.
 * - `transformRequest`/`transformResponse` identity, `responseType: 'arraybuffer'`: bytes in,
 *   bytes out; JSON is parsed where it is expected, with `maxContentLength` bounding it.
 * - `validateStatus: () => true`: every status is checked by the caller.
 * - `proxy: false`: axios's own proxy support forwards https without a CONNECT tunnel; proxies
 *   (environment or the `proxy` option) go through tunnelling agents instead (transport/proxy.ts).
 * - `timeout: 0` and `transport`: axios's own timeout starts when the request is created, so a request
 *   queued behind busy pooled sockets (`maxSockets`) would time out while the registry is fine. The
 *   request goes through Node's http/https via a thin `transport` that reports the moment the
 *   request gets its socket; `timeoutMs` (for small requests) counts from there. Streamed uploads
 *   have no wall-clock limit (a multi-GiB upload would never fit one); the client runs a progress
 *   watchdog for them, started by the same `onSocket` report.
 */
import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import tls from 'node:tls'
import type { AxiosInstance, AxiosResponse, CreateAxiosDefaults } from 'axios'
import { ProxyAgents, type ProxySetting } from './transport/proxy.js'

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

export interface SendOptions {
  method: HttpMethod
  /** Absolute URL. */
  url: string
  headers: Record<string, string>
  /** A Buffer (replayable) or a stream (sent once, never buffered). */
  body?: Buffer | Readable | undefined
  signal?: AbortSignal | undefined
  /**
   * Limit for the whole exchange (connect, send, answer), ms, counted from the moment the request
   * has a socket: time spent queued for a pooled socket does not count. 0 for none.
   */
  timeoutMs: number
  /** Told once, when the request gets its socket (from the pool or a new connection): bytes can flow from now on. */
  onSocket?: (() => void) | undefined
  /** Verify the server certificate (https). False only for insecure targets. */
  verifyTls: boolean
}

/** One answer: status, lower-cased headers, the (bounded) body. */
export interface RegistryResponse {
  status: number
  headers: Readonly<Record<string, string | undefined>>
  body: Buffer
  /** The URL the request went to. */
  url: string
}

export interface HttpTransportOptions {
  ca?: ReadonlyArray<string | Buffer> | undefined
  userAgent: string
  maxSockets: number
  /** A proxy URL, `false` for none, undefined for the environment's. */
  proxy?: ProxySetting
}

/** Registry answers other than blobs are small JSON documents; anything bigger is refused. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

/** Node's root store (bundled Mozilla CAs, plus system/extra ones where this Node exposes them) and `extra`. */
function trustedCas(extra: ReadonlyArray<string | Buffer>): Array<string | Buffer> {
  // tls.getCACertificates('default') (Node ≥ 22.15) includes --use-system-ca and NODE_EXTRA_CA_CERTS;
  // older Nodes only expose the bundled store, so those sources must then be passed in `ca` too.
  const getter = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates
  const base = typeof getter === 'function' ? getter('default') : tls.rootCertificates
  return [...base, ...extra]
}

export class HttpTransport {
  readonly #defaults: CreateAxiosDefaults
  /** axios is loaded on the first request: a server that only ingests or lists never pays its ~25 MiB. */
  #axios: Promise<AxiosInstance> | undefined
  readonly #httpAgent: http.Agent
  readonly #httpsAgent: https.Agent
  readonly #insecureAgent: https.Agent
  readonly #proxies: ProxyAgents

  constructor(options: HttpTransportOptions) {
    const pool = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets: options.maxSockets, maxFreeSockets: 8, scheduling: 'lifo' as const }
    this.#httpAgent = new http.Agent(pool)
    this.#httpsAgent = new https.Agent(options.ca === undefined || options.ca.length === 0 ? pool : { ...pool, ca: trustedCas(options.ca) })
    this.#insecureAgent = new https.Agent({ ...pool, rejectUnauthorized: false })
    this.#proxies = new ProxyAgents(options.proxy, { ca: options.ca === undefined || options.ca.length === 0 ? undefined : trustedCas(options.ca), maxSockets: options.maxSockets })
    this.#defaults = {
      maxRedirects: 0,
      maxBodyLength: -1,
      maxContentLength: MAX_RESPONSE_BYTES,
      validateStatus: () => true,
      responseType: 'arraybuffer',
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      proxy: false,
      decompress: true,
      headers: { 'User-Agent': options.userAgent, Accept: 'application/json' },
    }
  }

  async send(options: SendOptions): Promise<RegistryResponse> {
    this.#axios ??= import('axios').then(({ default: axios }) => axios.create(this.#defaults))
    const client = await this.#axios
    const clock = new SocketClock(options.timeoutMs, options.onSocket)
    let response: AxiosResponse<unknown>
    try {
      response = await client.request({
        method: options.method,
        url: options.url,
        headers: options.headers,
        data: options.body,
        signal: options.signal === undefined ? clock.signal : AbortSignal.any([options.signal, clock.signal]),
        timeout: 0,
        transport: clock.transport(options.url.startsWith('https:') ? https : http),
        ...this.#agents(options.url, options.verifyTls),
      })
    } catch (error) {
      if (clock.expired && options.signal?.aborted !== true) throw clock.timeoutError(error)
      throw error
    } finally {
      clock.stop()
    }
    const body = options.body
    if (body !== undefined && !Buffer.isBuffer(body) && !body.readableEnded) {
      // Answered before the whole body went out (e.g. 401/413 after the headers): the connection
      // is mid-body and can never be reused; close it rather than leave it waiting for the rest.
      ;(response.request as { destroy?: () => void } | undefined)?.destroy?.()
    }
    const headers: Record<string, string | undefined> = {}
    for (const [name, value] of Object.entries(response.headers as Record<string, unknown>)) {
      if (typeof value === 'string') headers[name.toLowerCase()] = value
      else if (Array.isArray(value)) headers[name.toLowerCase()] = value.join(', ')
      else if (typeof value === 'number') headers[name.toLowerCase()] = String(value)
    }
    const data = response.data
    const bytes = Buffer.isBuffer(data) ? data : data instanceof ArrayBuffer ? Buffer.from(data) : typeof data === 'string' ? Buffer.from(data) : Buffer.alloc(0)
    return { status: response.status, headers, body: bytes, url: options.url }
  }

  /** The agents for `url`: a proxy's when one applies, else the direct pools. */
  #agents(url: string, verifyTls: boolean): { httpAgent: http.Agent; httpsAgent: http.Agent } {
    const proxied = this.#proxies.agentFor(url, verifyTls)
    if (proxied !== undefined) return { httpAgent: proxied, httpsAgent: proxied }
    return { httpAgent: this.#httpAgent, httpsAgent: verifyTls ? this.#httpsAgent : this.#insecureAgent }
  }

  /** Close idle keep-alive connections and refuse new ones. */
  close(): void {
    this.#proxies.close()
    this.#httpAgent.destroy()
    this.#httpsAgent.destroy()
    this.#insecureAgent.destroy()
  }
}

/**
 * The per-request timer that starts when the request gets its socket, not when it is queued: a
 * request waiting for one of `maxSockets` busy connections is not a registry that stopped answering.
 */
class SocketClock {
  readonly #controller = new AbortController()
  readonly #timeoutMs: number
  readonly #onSocket: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  expired = false

  constructor(timeoutMs: number, onSocket: (() => void) | undefined) {
    this.#timeoutMs = timeoutMs
    this.#onSocket = onSocket
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Node's `request` for axios's `transport` option, reporting the socket assignment. */
  transport(module: typeof http | typeof https): { request: typeof http.request } {
    const request = ((...args: Parameters<typeof http.request>) => {
      const req = (module.request as (...a: Parameters<typeof http.request>) => http.ClientRequest)(...args)
      req.once('socket', () => this.#started())
      return req
    }) as typeof http.request
    return { request }
  }

  #started(): void {
    if (this.#stopped) return
    if (this.#timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.expired = true
        this.#controller.abort()
      }, this.#timeoutMs)
      this.#timer.unref()
    }
    this.#onSocket?.()
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
  }

  /** The error for an expired clock: shaped like Node's socket timeout, so it maps to "did not answer in time". */
  timeoutError(cause: unknown): Error {
    const error = new Error(`timeout of ${this.#timeoutMs} ms exceeded`, { cause })
    Object.defineProperty(error, 'code', { value: 'ETIMEDOUT', enumerable: true })
    return error
  }
}
