import { createHash } from 'node:crypto'
import { RegistryError, type RegistryPush, type RegistryTarget, type RegistryUploader } from 'express-model-push'

/** Keeps everything in memory: for tests of a host app. */
export class MemoryUploader implements RegistryUploader {
  readonly blobs = new Map<string, Buffer>()
  readonly manifests = new Map<string, Buffer>()

  async open(target: RegistryTarget): Promise<RegistryPush> {
    const key = (suffix: string) => `${target.host}/${target.repository}${suffix}`
    return {
      hasBlob: async (descriptor) => this.blobs.has(key(`@${descriptor.digest}`)),
      uploadBlob: async (descriptor, open, { signal, onBytes } = {}) => {
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
        this.blobs.set(key(`@${descriptor.digest}`), Buffer.concat(chunks))
      },
      putManifest: async (reference, manifest) => void this.manifests.set(key(`:${reference}`), Buffer.from(manifest.bytes)),
      close: async () => undefined,
    }
  }
}
