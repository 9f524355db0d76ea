// spec/bucket-storage.contract.spec.ts
import { storageAdapterContract } from 'express-model-push/contract'
import { BucketStorage, type Bucket } from './bucket-storage.js'

declare function createTestBucket(): Promise<Bucket & { put(key: string, data: Buffer): Promise<void>; destroy(): Promise<void> }>

storageAdapterContract(
  'BucketStorage',
  async () => {
    const bucket = await createTestBucket()
    return {
      adapter: new BucketStorage(bucket),
      // Needed when the adapter has no writeBlob/writeManifest; when given it is used anyway, so the
      // read methods are tested on data the adapter did not write itself.
      seed: async ({ name, manifest, blobs }) => {
        for (const { digest, data } of blobs) await bucket.put(`models/blobs/sha256-${digest.slice(7)}`, data)
        await bucket.put(`models/manifests/${[name.host, name.namespace, name.model, name.tag].join('/').toLowerCase()}`, manifest)
      },
      teardown: () => bucket.destroy(),
    }
  },
  { caseInsensitiveNames: true },
)
