// my-uploader.spec.ts — run with: node --import tsx --test my-uploader.spec.ts
import { randomBytes } from 'node:crypto'
import { registryUploaderContract } from 'express-model-push/contract'
import { MemoryUploader as MyUploader } from './memory-uploader.js'

declare const myRegistry: {
  manifestBytes(repository: string, tag: string): Promise<Buffer | undefined>
  hashOfBlob(repository: string, digest: string): Promise<string | undefined>
}

registryUploaderContract(
  'MyUploader',
  async () => {
    const repository = `contract/${randomBytes(4).toString('hex')}` // a fresh, empty repository per test
    const uploader = new MyUploader()
    return {
      uploader,
      target: { host: 'localhost:5000', repository, insecure: true },
      readBack: {
        manifest: (tag) => myRegistry.manifestBytes(repository, tag), // Buffer | undefined (or a Promise of it)
        blobDigest: (digest) => myRegistry.hashOfBlob(repository, digest), // 'sha256:…' | undefined
      },
    }
  },
  { largeBlobSize: 8 * 1024 * 1024, timeoutMs: 120_000 },
)
