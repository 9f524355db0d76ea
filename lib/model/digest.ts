/**
 * Digests, one place: the `sha256:<64 lowercase hex>` form this package reads and writes, hashing
 * bytes into it, and the checks storage and registry code share.
 */
import { createHash, type Hash } from 'node:crypto'
import { StorageError } from '../errors.js'

const SHA256 = /^sha256:[0-9a-f]{64}$/

/** Whether `digest` is `sha256:<64 lowercase hex>`, the only form this package reads or writes. */
export function isSha256Digest(digest: unknown): digest is string {
  return typeof digest === 'string' && SHA256.test(digest)
}

/** `digest` when it is a `sha256:` digest; otherwise a `StorageError` (`BLOB_INVALID`) saying so. */
export function checkSha256Digest(digest: unknown): string {
  if (!isSha256Digest(digest)) throw new StorageError('blob digest must be "sha256:" and 64 lowercase hex digits', { code: 'BLOB_INVALID' })
  return digest
}

/** A running sha256 whose result is a digest string. */
export function sha256Hasher(): { update(bytes: Uint8Array): void; digest(): string } {
  const hash: Hash = createHash('sha256')
  return {
    update: (bytes) => void hash.update(bytes),
    digest: () => `sha256:${hash.digest('hex')}`,
  }
}

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}
