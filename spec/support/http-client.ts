/**
 * A tiny raw HTTP(S) client for the test harness: no redirects, no retries, no auth magic, every
 * header visible. Built on node:http/https because Node's global fetch cannot take a per-request CA.
 * Each request uses its own connection (`agent: false`), so nothing lingers after a registry stops.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'

export interface RawRequestOptions {
  method?: string
  headers?: Record<string, string | number>
  /** A buffer/string is sent with a Content-Length; a stream is sent chunked unless a Content-Length header is given. */
  body?: Buffer | string | Readable
  /** Extra trusted CA (PEM) for https. */
  ca?: string | undefined
  /** Abort the request after this many ms without completion. Default 10 000. */
  timeoutMs?: number
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** Send a request and return the response head as a stream (caller consumes or destroys it). */
export function streamRequest(url: string | URL, options: RawRequestOptions = {}): Promise<IncomingMessage> {
  const target = new URL(url)
  const headers: Record<string, string | number> = { ...options.headers }
  const body = options.body
  if ((typeof body === 'string' || Buffer.isBuffer(body)) && !hasHeader(headers, 'content-length')) {
    headers['Content-Length'] = Buffer.byteLength(body)
  } else if (body === undefined && !hasHeader(headers, 'content-length') && needsLength(options.method)) {
    headers['Content-Length'] = 0
  }
  const transport = target.protocol === 'https:' ? https : http
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      { method: options.method ?? 'GET', headers, agent: false, ...(options.ca === undefined ? {} : { ca: options.ca }) },
      resolve,
    )
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`request timed out after ${timeoutMs} ms: ${options.method ?? 'GET'} ${target.pathname}`)))
    request.on('error', reject)
    if (body === undefined) request.end()
    else if (typeof body === 'string' || Buffer.isBuffer(body)) request.end(body)
    else {
      body.on('error', (error) => request.destroy(error))
      body.pipe(request)
    }
  })
}

/** Send a request and buffer the whole response body (for small bodies: manifests, errors, tokens). */
export async function rawRequest(url: string | URL, options: RawRequestOptions = {}): Promise<RawResponse> {
  const response = await streamRequest(url, options)
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }
}

/** `Authorization: Basic …` for a username and password. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
}

function hasHeader(headers: Record<string, unknown>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name)
}

function needsLength(method: string | undefined): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH'
}
