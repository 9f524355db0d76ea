/**
 * Every error this package throws is a `ModelPushError`: an HTTP `status` for the wire, a stable
 * `code` for programs, and a `source` saying which side failed. Messages never contain credentials
 * or tokens. See docs/errors.md for one section per code.
 */
export type ErrorSource = 'request' | 'storage' | 'registry' | 'internal'

/** Stable codes, with the HTTP status each one maps to. */
export const ERROR_CODES = {
  INVALID_REQUEST: 400,
  INVALID_NAME: 400,
  MODEL_NOT_FOUND: 404,
  UNSUPPORTED: 501,
  STORAGE_FAILED: 500,
  BLOB_INVALID: 500,
  BLOB_TOO_LARGE: 413,
  REGISTRY_UNAUTHORIZED: 401,
  REGISTRY_DENIED: 403,
  PUSH_FORBIDDEN: 403,
  REGISTRY_UNREACHABLE: 502,
  REGISTRY_FAILED: 502,
  OLLAMA_KEY_UNAVAILABLE: 500,
  ABORTED: 499,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const satisfies Record<string, number>

export type ErrorCode = keyof typeof ERROR_CODES

export class ModelPushError extends Error {
  /** HTTP status the router answers with when this error is known before the first byte. */
  readonly status: number
  readonly code: ErrorCode
  readonly source: ErrorSource

  constructor(code: ErrorCode, message: string, source: ErrorSource, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.source = source
    this.status = options?.status ?? ERROR_CODES[code]
  }
}

/**
 * The request body is malformed: not JSON, wrong types, a missing model. `status` is 400 unless a
 * body parser said otherwise (413 too large, 415 unsupported charset or encoding).
 */
export class InvalidRequestError extends ModelPushError {
  constructor(message: string, options?: { status?: number | undefined; cause?: unknown }) {
    super('INVALID_REQUEST', message, 'request', {
      cause: options?.cause,
      ...(options?.status === undefined ? {} : { status: options.status }),
    })
  }
}

/** A model name breaks Ollama's naming rules. `part` names the offending part. */
export class InvalidNameError extends ModelPushError {
  readonly part: 'name' | 'host' | 'namespace' | 'model' | 'tag'
  constructor(part: InvalidNameError['part'], message: string) {
    super('INVALID_NAME', message, 'request')
    this.part = part
  }
}

/** The storage adapter has no manifest for the model. */
export class ModelNotFoundError extends ModelPushError {
  constructor(displayName: string) {
    super('MODEL_NOT_FOUND', `model "${displayName}" not found`, 'storage')
  }
}

/** A storage adapter lacks an optional capability the operation needs. */
export class UnsupportedError extends ModelPushError {
  constructor(message: string) {
    super('UNSUPPORTED', message, 'internal')
  }
}

/** The storage adapter failed (I/O error, corrupt manifest, missing blob). */
export class StorageError extends ModelPushError {
  constructor(message: string, options?: { cause?: unknown; code?: 'STORAGE_FAILED' | 'BLOB_INVALID' }) {
    super(options?.code ?? 'STORAGE_FAILED', message, 'storage', options)
  }
}

/**
 * Content written as blob `expected` hashed to `actual` instead. A `StorageError` with code
 * `BLOB_INVALID`; `POST /api/blobs/:digest` answers it with 400 and Ollama's `digest mismatch` message.
 * Adapter authors: throw this from `writeBlob` so the route can say what the upload really was.
 */
export class DigestMismatchError extends StorageError {
  readonly expected: string
  readonly actual: string
  constructor(expected: string, actual: string) {
    super(`blob content does not match its digest: expected ${expected}, got ${actual}`, { code: 'BLOB_INVALID' })
    this.expected = expected
    this.actual = actual
  }
}

/** An upload ran past the largest blob the server accepts (`maxBlobBytes`). */
export class BlobTooLargeError extends ModelPushError {
  constructor(limit: number) {
    super('BLOB_TOO_LARGE', `blob is larger than this server accepts (${limit} bytes)`, 'request')
  }
}

/**
 * The host app's policy forbids this push (`allowedRegistries`, `allowInsecure`). Raised before any
 * connection is made; the message names the registry host, never credentials.
 */
export class PolicyError extends ModelPushError {
  readonly host: string
  constructor(host: string, message: string) {
    super('PUSH_FORBIDDEN', message, 'request')
    this.host = host
  }
}

/** The push was cancelled (client disconnected or the caller's signal fired). */
export class AbortError extends ModelPushError {
  constructor(message = 'push aborted') {
    super('ABORTED', message, 'request')
  }
}

/** The server is shutting down: the request was refused, or cancelled after the grace period. */
export class ShuttingDownError extends ModelPushError {
  constructor() {
    super('SHUTTING_DOWN', 'the server is shutting down', 'internal')
  }
}

export interface RegistryErrorDetails {
  /** HTTP status the registry answered with, when it answered. */
  registryStatus?: number | undefined
  /** The registry's own error codes (`BLOB_UNKNOWN`, `DENIED`, ...), from its `{"errors":[...]}` body. */
  registryCodes?: readonly string[] | undefined
  /** The URL of the failed request with credentials and query secrets removed. */
  url?: string | undefined
  /** Whether trying the same request again might succeed (network faults, 5xx, 429). */
  retryable?: boolean | undefined
  /** How long the registry asked us to wait (`Retry-After`), ms, when it did. */
  retryAfterMs?: number | undefined
  /** HTTP status to answer with instead of the code's default (e.g. 400 for a registry's NAME_INVALID). */
  status?: number | undefined
  cause?: unknown
}

/** The registry refused, failed or could not be reached. */
export class RegistryError extends ModelPushError {
  readonly registryStatus: number | undefined
  readonly registryCodes: readonly string[]
  readonly url: string | undefined
  readonly retryable: boolean
  /** The registry's `Retry-After`, ms (bounded), when it sent one: the retry waits at least that long. */
  readonly retryAfterMs: number | undefined

  constructor(
    code: 'REGISTRY_UNAUTHORIZED' | 'REGISTRY_DENIED' | 'REGISTRY_UNREACHABLE' | 'REGISTRY_FAILED',
    message: string,
    details: RegistryErrorDetails = {},
  ) {
    super(code, message, 'registry', { cause: details.cause, ...(details.status === undefined ? {} : { status: details.status }) })
    this.registryStatus = details.registryStatus
    this.registryCodes = details.registryCodes ?? []
    this.url = details.url
    this.retryable = details.retryable ?? false
    this.retryAfterMs = details.retryAfterMs
  }
}

/**
 * The Ollama key (`ollamaKey`) cannot be used: missing, unreadable, passphrase-protected or not an
 * ed25519 key. The message names the path (never the key). A server configuration problem, hence 500.
 */
export class OllamaKeyError extends ModelPushError {
  /** The key file's path, or undefined when the key was given as text. */
  readonly path: string | undefined
  constructor(message: string, path: string | undefined, options?: { cause?: unknown }) {
    super('OLLAMA_KEY_UNAVAILABLE', message, 'internal', options)
    this.path = path
  }
}

/** Turn anything thrown into a `ModelPushError` without leaking internals into the message. */
export function toModelPushError(error: unknown): ModelPushError {
  if (error instanceof ModelPushError) return error
  if (error instanceof Error && error.name === 'AbortError') return new AbortError()
  return new ModelPushError('INTERNAL', 'internal error', 'internal', { cause: error })
}
