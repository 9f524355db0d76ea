// The RegistryUploader contract run against OciRegistryUploader and Debian's real docker-registry,
// in each auth mode (and TLS), one registry per mode, a fresh repository per test.
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { registryUploaderContract } from '../../lib/contract/index.js'
import { OciRegistryUploader } from '../../lib/registry/oci-uploader.js'
import type { RegistryTarget } from '../../lib/registry/uploader.js'
import { startRegistry, type StartRegistryOptions, type StartedRegistry } from '../support/registry.js'

const modes: Array<{ label: string; options: StartRegistryOptions }> = [
  { label: 'no auth', options: { auth: 'none' } },
  { label: 'basic auth', options: { auth: 'basic' } },
  { label: 'token auth over TLS', options: { auth: 'token', tls: true } },
]

for (const { label, options } of modes) {
  describe(`OciRegistryUploader against docker-registry (${label})`, () => {
    let registry: StartedRegistry | undefined
    before(async () => {
      registry = await startRegistry(options)
    })
    after(async () => {
      await registry?.stop()
    })

    registryUploaderContract(`OciRegistryUploader (${label})`, async () => {
      const reg = registry!
      const repository = `contract/run-${randomBytes(4).toString('hex')}`
      const uploader = new OciRegistryUploader({ ...(reg.ca === undefined ? {} : { ca: reg.ca }), retryDelayMs: 10 })
      const target: RegistryTarget = {
        host: reg.host,
        repository,
        // Plain-http registries are reached the Docker way: insecure, https first, then http.
        insecure: !reg.tls,
        credentials: reg.auth === 'none' ? undefined : reg.users.pusher,
      }
      return {
        uploader,
        target,
        readBack: {
          manifest: async (tag) => {
            const response = await reg.getManifest(repository, tag)
            return response.status === 200 ? response.bytes : undefined
          },
          blobDigest: (digest) => reg.blobDigest(repository, digest),
        },
        teardown: async () => uploader.close(),
      }
    })
  })
}
