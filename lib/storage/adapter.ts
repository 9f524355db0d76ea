import type { Readable } from 'node:stream'
import type { Descriptor, ModelName, OperationOptions, StoredManifest } from '../model/types.js'

/**
 * Where local models live. The push reads through it; ingest (optional methods) writes through it.
 *
 * Rules every implementation follows (the contract suite in `express-model-push/contract` checks them):
 * - Absent things resolve to `undefined`; failures reject (with a `StorageError` where possible).
 * - Blobs travel as streams, never as whole buffers. `openBlob` returns a fresh stream on every call,
 *   so an upload that must restart can reopen it.
 * - Names and digests come validated, but an implementation still proves every path it derives stays
 *   inside its own root.
 * - Optional methods are capabilities: leave them out and the features that need them answer 501.
 */
export interface StorageAdapter {
  /** The manifest of `name`, or `undefined` when the store has no such model. */
  readManifest(name: ModelName, options?: OperationOptions): Promise<StoredManifest | undefined>
  /** Size of blob `digest`, or `undefined` when absent. */
  statBlob(digest: string, options?: OperationOptions): Promise<{ size: number } | undefined>
  /** A new readable stream of blob `digest` from byte `start` (default 0). Rejects when absent. */
  openBlob(digest: string, options?: OperationOptions & { start?: number }): Promise<Readable>
  /** Optional: store a blob, verifying its digest while writing; nothing is left behind on mismatch. */
  writeBlob?(digest: string, content: Readable, options?: OperationOptions): Promise<{ size: number }>
  /** Optional: store a manifest's bytes for `name` (atomically). */
  writeManifest?(name: ModelName, bytes: Buffer, options?: OperationOptions): Promise<void>
  /** Optional: remove the manifest of `name`; resolves `false` when it was absent. */
  deleteModel?(name: ModelName, options?: OperationOptions): Promise<boolean>
  /** Optional: every model the store holds. */
  listModels?(options?: OperationOptions): Promise<ModelName[]>
}
