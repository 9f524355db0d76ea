import { AbortError, DigestMismatchError, InvalidNameError, ModelPushError, StorageError } from '../errors.js'
import { sha256Hasher } from '../model/digest.js'

/**
 * Checks a blob while it is written: counts and hashes every chunk, fails as soon as the content runs
 * past the expected size, and at the end compares size and sha256 with what was promised.
 */
export class BlobVerifier {
  readonly digest: string
  readonly expectedSize: number | undefined
  #hash = sha256Hasher()
  #size = 0

  constructor(digest: string, expectedSize?: number) {
    this.digest = digest
    this.expectedSize = expectedSize
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size
  }

  /** Account for one chunk; returns it as a Buffer. Throws on non-byte chunks and on overrun. */
  update(chunk: unknown): Buffer {
    if (!(chunk instanceof Uint8Array)) throw new StorageError('blob content must be a stream of bytes, not strings or objects')
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.#size += buffer.length
    if (this.expectedSize !== undefined && this.#size > this.expectedSize) {
      throw new StorageError(`blob ${this.digest} is longer than the expected ${this.expectedSize} bytes`, { code: 'BLOB_INVALID' })
    }
    this.#hash.update(buffer)
    return buffer
  }

  /** Throws `StorageError` (`BLOB_INVALID`) unless the content had the expected size and digest. */
  finish(): void {
    if (this.expectedSize !== undefined && this.#size !== this.expectedSize) {
      throw new StorageError(`blob ${this.digest} is ${this.#size} bytes, expected ${this.expectedSize}`, { code: 'BLOB_INVALID' })
    }
    const actual = this.#hash.digest()
    if (actual !== this.digest) throw new DigestMismatchError(this.digest, actual)
  }
}

/** Reject with the package's `AbortError` when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError()
}

/** Checks of the arguments every blob method shares. */
export function checkBlobSize(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StorageError(`${what} must be a non-negative integer`)
  }
  return value
}

/**
 * Map what a failed write threw to the package's errors: ours pass through, aborts become
 * `AbortError`, anything else becomes a `StorageError` naming only the error code.
 */
export function writeFailure(error: unknown, signal: AbortSignal | undefined, what: string): ModelPushError {
  if (error instanceof ModelPushError) return error
  if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) return new AbortError()
  const errno = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined
  // A valid name (host up to 350 characters) can still exceed the file system's 255-byte component
  // or PATH_MAX: that is the request's fault, not a storage failure.
  if (errno === 'ENAMETOOLONG') return new InvalidNameError('name', `model name is too long for the model store's file system (could not ${what})`)
  const code = errno === undefined ? '' : `: ${errno}`
  return new StorageError(`could not ${what}${code}`, { cause: error })
}
