import type { Readable } from 'node:stream'
import type { ModelName, OperationOptions, StoredManifest } from '../model/types.js'

/** Options of `StorageAdapter.openBlob`. */
export interface OpenBlobOptions extends OperationOptions {
  /** First byte to read. Default 0. */
  start?: number | undefined
}

/** Options of `StorageAdapter.writeBlob`. */
export interface WriteBlobOptions extends OperationOptions {
  /** Expected size in bytes, when known: the write fails as soon as the content runs past it, or short of it at the end. */
  size?: number | undefined
}

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
 * - Model names are looked up ignoring ASCII case, as Ollama does (`Llama3` finds `llama3`).
 * - A signal that has fired makes the operation reject with an `AbortError` (and, for `writeBlob`,
 *   leave nothing behind); a blob stream already handed out is destroyed.
 *
 * docs/storage-adapter.md describes every method; `storageAdapterContract` tests them.
 */
export interface StorageAdapter {
  /** The manifest of `name`, or `undefined` when the store has no such model. */
  readManifest(name: ModelName, options?: OperationOptions): Promise<StoredManifest | undefined>
  /** Size of blob `digest`, or `undefined` when absent. */
  statBlob(digest: string, options?: OperationOptions): Promise<{ size: number } | undefined>
  /**
   * A new readable stream of blob `digest` from byte `start` (default 0; `start` equal to the size
   * gives an empty stream). Rejects when the blob is absent or `start` is outside `[0, size]`.
   */
  openBlob(digest: string, options?: OpenBlobOptions): Promise<Readable>
  /**
   * Optional: store a blob, verifying its digest (and `options.size`, when given) while writing;
   * nothing is left behind on mismatch, error or abort. Rejects with `StorageError` code
   * `BLOB_INVALID` on a digest or size mismatch.
   */
  writeBlob?(digest: string, content: Readable, options?: WriteBlobOptions): Promise<{ size: number }>
  /** Optional: store a manifest's bytes for `name` (atomically); rejects bytes that are not a valid manifest. */
  writeManifest?(name: ModelName, bytes: Buffer, options?: OperationOptions): Promise<void>
  /** Optional: remove the manifest of `name`; resolves `false` when it was absent. */
  deleteModel?(name: ModelName, options?: OperationOptions): Promise<boolean>
  /** Optional: every model the store holds. */
  listModels?(options?: OperationOptions): Promise<ModelName[]>
  /**
   * Optional: remove blob `digest`; resolves `false` when it was absent. Used to remove blobs no
   * manifest refers to any more (`pruneBlobs`, after a delete or a re-create); never called for a
   * blob a stored manifest lists.
   */
  deleteBlob?(digest: string, options?: OperationOptions): Promise<boolean>
}
