/**
 * Registry answers and network failures → `RegistryError` (lib/errors.ts).
 *
 * OCI distribution spec, "Error Codes": failed requests carry `{"errors":[{code, message, detail}]}`.
 * The mapping:
 * - 401                                  → REGISTRY_UNAUTHORIZED (401)
 * - 403, or a `DENIED` code               → REGISTRY_DENIED (403)
 * - `NAME_INVALID` / `TAG_INVALID`        → REGISTRY_FAILED with status 400 (the name is at fault)
 * - 429, 5xx                              → REGISTRY_FAILED (502), retryable
 * - `BLOB_UPLOAD_UNKNOWN` / `_INVALID`    → REGISTRY_FAILED (502), retryable: the session is gone,
 *                                           a restart from POST can succeed
 * - anything else                         → REGISTRY_FAILED (502)
 * - no answer (refused, DNS, reset, TLS)  → REGISTRY_UNREACHABLE (502); TLS verification failures
 *                                           say how to fix them (`ca`, `insecure`)
 *
 * Messages and `url` are redacted; the `cause` is a sanitised copy of the low-level error (an axios
 * error carries the request config, headers included, so it is never attached as is).
 */
import { RegistryError } from '../errors.js'
import { redactText, redactUrl } from './redact.js'
import { parseRetryAfter } from './retry.js'

/** One entry of a registry's `{"errors":[...]}` body. */
export interface RegistryErrorEntry {
  code: string
  message: string
  detail?: unknown
}

/** What the error is about, for the message: e.g. `upload blob sha256:abcd…`. */
export interface RegistryErrorContext {
  /** Human words for the operation, e.g. `push manifest latest` or `check blob sha256:…`. */
  action: string
  /** The request URL (redacted before use). */
  url?: string | undefined
  /** The registry host, `host[:port]`. */
  host?: string | undefined
  /** Whether the target was marked insecure (changes the TLS advice). */
  insecure?: boolean | undefined
}

const MAX_MESSAGE = 400
const RETRYABLE_CODES = new Set(['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'TOOMANYREQUESTS'])
const NAME_CODES = new Set(['NAME_INVALID', 'TAG_INVALID'])

/** Parse a registry error body; anything else (HTML, empty, garbage) gives `[]`. */
export function parseRegistryErrors(body: Buffer | string | undefined): RegistryErrorEntry[] {
  if (body === undefined || body.length === 0) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'))
  } catch {
    return []
  }
  if (parsed === null || typeof parsed !== 'object') return []
  const errors = (parsed as { errors?: unknown }).errors
  if (!Array.isArray(errors)) return []
  const out: RegistryErrorEntry[] = []
  for (const entry of errors) {
    if (entry === null || typeof entry !== 'object') continue
    const { code, message, detail } = entry as Record<string, unknown>
    if (typeof code !== 'string') continue
    out.push({ code, message: typeof message === 'string' ? message : '', ...(detail === undefined ? {} : { detail }) })
  }
  return out
}

/** Whether a status means "try again later". */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500
}

function summarize(entries: readonly RegistryErrorEntry[]): string {
  const text = entries.map((entry) => (entry.message === '' ? entry.code : `${entry.code}: ${entry.message}`)).join('; ')
  const clean = redactText(text.replace(/[\r\n\t]+/g, ' '))
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE)}…` : clean
}

/** A `RegistryError` for an unsuccessful registry answer. */
export function registryErrorFromResponse(
  response: { status: number; body?: Buffer | string | undefined; headers?: Readonly<Record<string, string | undefined>> },
  context: RegistryErrorContext,
): RegistryError {
  const { status } = response
  const entries = parseRegistryErrors(response.body)
  const codes = entries.map((entry) => entry.code)
  const summary = entries.length > 0 ? `: ${summarize(entries)}` : ''
  const details = {
    registryStatus: status,
    registryCodes: codes,
    url: context.url === undefined ? undefined : redactUrl(context.url),
  }
  if (status === 401) {
    return new RegistryError('REGISTRY_UNAUTHORIZED', `${context.action}: registry requires authentication (401)${summary}`, details)
  }
  if (status === 403 || codes.includes('DENIED')) {
    return new RegistryError('REGISTRY_DENIED', `${context.action}: registry denied access (${status})${summary}`, details)
  }
  if (codes.some((code) => NAME_CODES.has(code))) {
    return new RegistryError('REGISTRY_FAILED', `${context.action}: registry rejected the name (${status})${summary}`, { ...details, status: 400 })
  }
  const retryable = isRetryableStatus(status) || codes.some((code) => RETRYABLE_CODES.has(code))
  const retryAfterMs = parseRetryAfter(response.headers?.['retry-after'])
  return new RegistryError('REGISTRY_FAILED', `${context.action}: registry answered ${status}${summary}`, { ...details, retryable, retryAfterMs })
}

/** Error codes Node/OpenSSL use when a certificate does not verify. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
])

/** The low-level code of a network error (axios wraps Node's error in `cause`). */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'ERR_BAD_REQUEST' && code !== 'ERR_BAD_RESPONSE' && !code.startsWith('ERR_NETWORK')) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** A TLS handshake failure because the peer does not speak TLS (a plain-http server on that port). */
export function isTlsProtocolError(error: unknown): boolean {
  const code = networkErrorCode(error)
  const message = messageOf(error) + ' ' + messageOf((error as { cause?: unknown } | undefined)?.cause)
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') return true
  return code === 'EPROTO' && /wrong version number|packet length too long|unknown protocol|http request/i.test(message)
}

/** A certificate that did not verify (untrusted, expired, wrong name). */
export function isCertificateError(error: unknown): boolean {
  const code = networkErrorCode(error)
  return code !== undefined && (CERT_CODES.has(code) || code.startsWith('ERR_TLS_CERT'))
}

/** A copy of a low-level error that keeps name, code and a redacted message, and nothing else. */
export function sanitizedCause(error: unknown): Error {
  const code = networkErrorCode(error)
  const copy = new Error(redactText(messageOf(error)))
  copy.name = error instanceof Error ? error.name : 'Error'
  if (code !== undefined) Object.defineProperty(copy, 'code', { value: code, enumerable: true })
  return copy
}

/** A `RegistryError` for a request that got no answer. */
export function registryErrorFromNetwork(error: unknown, context: RegistryErrorContext): RegistryError {
  const code = networkErrorCode(error) ?? 'unknown error'
  const host = context.host ?? (context.url === undefined ? 'the registry' : safeHost(context.url))
  const details = { url: context.url === undefined ? undefined : redactUrl(context.url), cause: sanitizedCause(error) }
  if (isCertificateError(error)) {
    return new RegistryError(
      'REGISTRY_UNREACHABLE',
      `${context.action}: TLS certificate verification failed for ${host} (${code}): pass the registry's CA certificate in the \`ca\` option, or mark the registry insecure`,
      { ...details, retryable: false },
    )
  }
  if (isTlsProtocolError(error)) {
    return new RegistryError(
      'REGISTRY_UNREACHABLE',
      `${context.action}: ${host} does not speak TLS${context.insecure === true ? '' : ' (plain http is only used for registries marked insecure)'}`,
      { ...details, retryable: false },
    )
  }
  if (/timeout/i.test(messageOf(error)) && (code === 'ECONNABORTED' || code === 'ETIMEDOUT')) {
    return new RegistryError('REGISTRY_UNREACHABLE', `${context.action}: ${host} did not answer in time`, { ...details, retryable: true })
  }
  const reason = code === 'ENOTFOUND' ? 'host not found' : code === 'ECONNREFUSED' ? 'connection refused' : code === 'ECONNRESET' ? 'connection reset' : code
  return new RegistryError('REGISTRY_UNREACHABLE', `${context.action}: cannot reach ${host} (${reason})`, {
    ...details,
    retryable: RETRYABLE_NETWORK.has(code),
  })
}

function safeHost(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'the registry'
  }
}
