import { createHash } from 'node:crypto'
import {
  RegistryError,
  type BlobOpener,
  type Descriptor,
  type ManifestPayload,
  type RegistryTarget,
  type RegistryUploader,
  type UploadBlobOptions,
} from 'express-model-push'

/** Keeps everything in memory: for tests of a host app. */
export class MemoryUploader implements RegistryUploader {
  readonly blobs = new Map<string, Buffer>()
  readonly manifests = new Map<string, Buffer>()

  async hasBlob(target: RegistryTarget, descriptor: Descriptor): Promise<boolean> {
    return this.blobs.has(`${target.repository}@${descriptor.digest}`)
  }

  async uploadBlob(target: RegistryTarget, descriptor: Descriptor, open: BlobOpener, { signal, onBytes }: UploadBlobOptions = {}): Promise<void> {
    const stream = await open(0)
    const hash = createHash('sha256')
    const chunks: Buffer[] = []
    signal?.addEventListener('abort', () => stream.destroy(), { once: true })
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // throws when destroyed by the abort
      hash.update(chunk)
      chunks.push(chunk)
      onBytes?.(chunk.length)
    }
    if (`sha256:${hash.digest('hex')}` !== descriptor.digest) {
      throw new RegistryError('REGISTRY_FAILED', `digest mismatch for ${descriptor.digest}`)
    }
    this.blobs.set(`${target.repository}@${descriptor.digest}`, Buffer.concat(chunks))
  }

  async putManifest(target: RegistryTarget, reference: string, manifest: ManifestPayload): Promise<void> {
    this.manifests.set(`${target.repository}:${reference}`, Buffer.from(manifest.bytes))
  }
}
