/**
 * The older per-call shape (`hasBlob(target, …)`, `prepare`/`release`) over the session API, so
 * the integration specs written for it keep their assertions: `prepare(target)` opens a session
 * kept for that target object, `release(target)` closes it, and a call for a target without one
 * runs in a session of its own (opened and closed around the call).
 */
import type { Readable } from 'node:stream'
import type { Descriptor, OperationOptions } from '../../lib/model/types.js'
import { OciRegistryUploader, type OciRegistryUploaderOptions } from '../../lib/registry/oci-uploader.js'
import type { ManifestPayload, RegistryPush, RegistryTarget, UploadBlobOptions } from '../../lib/registry/uploader.js'

export class TargetedUploader {
  readonly inner: OciRegistryUploader
  readonly #sessions = new WeakMap<RegistryTarget, RegistryPush>()

  constructor(options?: OciRegistryUploaderOptions) {
    this.inner = new OciRegistryUploader(options)
  }

  open(target: RegistryTarget, options?: OperationOptions): Promise<RegistryPush> {
    return this.inner.open(target, options)
  }

  async prepare(target: RegistryTarget, options?: OperationOptions): Promise<void> {
    await this.release(target)
    this.#sessions.set(target, await this.inner.open(target, options))
  }

  async release(target: RegistryTarget): Promise<void> {
    const session = this.#sessions.get(target)
    this.#sessions.delete(target)
    await session?.close()
  }

  hasBlob(target: RegistryTarget, descriptor: Descriptor, options?: OperationOptions): Promise<boolean> {
    return this.#in(target, options, (session) => session.hasBlob(descriptor, options))
  }

  uploadBlob(target: RegistryTarget, descriptor: Descriptor, open: (start: number) => Promise<Readable>, options?: UploadBlobOptions): Promise<void> {
    return this.#in(target, options, (session) => session.uploadBlob(descriptor, open, options))
  }

  putManifest(target: RegistryTarget, reference: string, manifest: ManifestPayload, options?: OperationOptions): Promise<void> {
    return this.#in(target, options, (session) => session.putManifest(reference, manifest, options))
  }

  close(): void {
    this.inner.close()
  }

  async #in<T>(target: RegistryTarget, options: OperationOptions | undefined, call: (session: RegistryPush) => Promise<T>): Promise<T> {
    const kept = this.#sessions.get(target)
    if (kept !== undefined) return call(kept)
    const session = await this.inner.open(target, options)
    try {
      return await call(session)
    } finally {
      await session.close()
    }
  }
}
