import type { Readable } from 'node:stream'
import type { Credentials, Descriptor, OperationOptions } from '../model/types.js'

/** Where one push goes. `pushModel` makes one per push; uploaders may key per-push state on it (WeakMap). */
export interface RegistryTarget {
  /** Registry host with optional `:port`, e.g. `registry.example.com:5000`. */
  readonly host: string
  /** Repository path, `<namespace>/<model>`. */
  readonly repository: string
  /** Docker's insecure-registry behaviour for this push: https without verification, plain http fallback. */
  readonly insecure: boolean
  /** Credentials for this host, when the request or the host app supplied any. */
  readonly credentials?: Credentials | undefined
}

/**
 * Opens a fresh stream of the blob from byte `start`; called again when an upload must restart.
 * `reuseBuffers`: the uploader writes each chunk straight out (honouring backpressure) and keeps no
 * reference to it, so the storage may reuse its read buffers (see `OpenBlobOptions.reuseBuffers`).
 */
export type BlobOpener = (start: number, options?: { reuseBuffers?: boolean | undefined }) => Promise<Readable>

export interface UploadBlobOptions extends OperationOptions {
  /**
   * Called with the number of bytes just sent (a delta), per chunk or more often. When the upload
   * restarts from the beginning, it is first called once with a negative delta that takes back what
   * the failed attempt reported, so the running sum is always the bytes the current attempt has sent.
   */
  onBytes?: ((bytes: number) => void) | undefined
}

/** A manifest to put: exact bytes and the media type to send them with. */
export interface ManifestPayload {
  readonly mediaType: string
  readonly bytes: Buffer
}

/**
 * How blobs and manifests reach a registry. `OciRegistryUploader` is the default (OCI distribution
 * API over axios); host apps may plug in their own.
 *
 * Errors: reject with a `RegistryError` (status 401 for refused/missing credentials, 403 for denied
 * push, 502 for registry faults) so the router can map them; never include credentials or tokens
 * in messages.
 */
export interface RegistryUploader {
  /**
   * Optional pre-flight, run before the HTTP response is committed: prove the registry is reachable,
   * the credentials are accepted and push is allowed, so that failures can still become real HTTP
   * statuses. Implementations may keep what they opened (e.g. an upload session) for this target.
   */
  prepare?(target: RegistryTarget, options?: OperationOptions): Promise<void>
  /** Whether the registry already holds `descriptor` in `target.repository`. */
  hasBlob(target: RegistryTarget, descriptor: Descriptor, options?: OperationOptions): Promise<boolean>
  /** Stream the blob into the registry and commit it under its digest. */
  uploadBlob(target: RegistryTarget, descriptor: Descriptor, open: BlobOpener, options?: UploadBlobOptions): Promise<void>
  /** Put the manifest under `reference` (a tag) byte-exact. */
  putManifest(target: RegistryTarget, reference: string, manifest: ManifestPayload, options?: OperationOptions): Promise<void>
  /** Optional: release whatever `prepare` opened and did not use (called once per push, success or not). */
  release?(target: RegistryTarget): Promise<void>
}
