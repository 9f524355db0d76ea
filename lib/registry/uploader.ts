import type { Readable } from 'node:stream'
import type { Credentials, Descriptor, OperationOptions } from '../model/types.js'

/** Where one push goes. */
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
 * Opens a fresh stream of the blob from byte `start` to its end. Called once per part, and again
 * when a part or the blob must be sent again; a blob is never buffered to be replayed.
 */
export type BlobOpener = (start: number) => Promise<Readable>

export interface UploadBlobOptions extends OperationOptions {
  /**
   * Called with the number of bytes just sent (a delta), per chunk or more often. When bytes must
   * be sent again (a part retried, the blob restarted), it is first called with a negative delta
   * that takes back what the failed attempt reported, so the running sum is always the bytes the
   * registry is expected to hold, within `[0, size]`.
   */
  onBytes?: ((bytes: number) => void) | undefined
  /**
   * Repositories of the same registry (`<namespace>/<model>`) that probably hold this blob already
   * (the model it was created from): offer a cross-repository mount from there first. A hint; an
   * uploader may ignore it.
   */
  mountFrom?: readonly string[] | undefined
}

/** A manifest to put: exact bytes and the media type to send them with. */
export interface ManifestPayload {
  readonly mediaType: string
  readonly bytes: Buffer
}

/**
 * How blobs and manifests reach a registry: one `RegistryPush` session per push.
 * `OciRegistryUploader` is the default (OCI distribution API over axios); host apps may plug in
 * their own (docs/registry-uploader.md; `registryUploaderContract` checks one).
 *
 * Errors: reject with a `RegistryError` (status 401 for refused/missing credentials, 403 for denied
 * push, 502 for registry faults) so the router can map them; never include credentials or tokens
 * in messages.
 */
export interface RegistryUploader {
  /**
   * Open a push session to `target`. This is the pre-flight, run before the HTTP response is
   * committed: prove the registry is reachable, the credentials are accepted and push is allowed,
   * so that failures can still become real HTTP statuses. Rejects when it cannot.
   */
  open(target: RegistryTarget, options?: OperationOptions): Promise<RegistryPush>
}

/**
 * One push to one repository. Owns the endpoint, auth state, upload sessions and caches of that
 * push. `pushModel` calls `close()` exactly once when the push ends, success or failure.
 */
export interface RegistryPush {
  /** Whether the registry already holds `descriptor` in the target repository. */
  hasBlob(descriptor: Descriptor, options?: OperationOptions): Promise<boolean>
  /** Put the blob into the target repository (streamed, in parts, or mounted) and commit it under its digest. */
  uploadBlob(descriptor: Descriptor, open: BlobOpener, options?: UploadBlobOptions): Promise<void>
  /** Put the manifest under `reference` (a tag) byte-exact. */
  putManifest(reference: string, manifest: ManifestPayload, options?: OperationOptions): Promise<void>
  /** Cancel what this push opened and did not use (e.g. the pre-flight upload session). Never rejects; a second call does nothing. */
  close(): Promise<void>
}
