// Waiting for a pooled socket is not a stalled registry: 8 pushes at once through a pool of 2
// sockets, each upload slow but moving (a throttling proxy in front of the real registry), with a
// timeout far shorter than the time the last push waits for a socket. No request may be given up
// on as "stopped responding" / "did not answer in time", so no retry at all; every push lands.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { FilesystemStorage, OciRegistryUploader, pushModel } from '../../lib/index.js'
import { makeOllamaStore, MEDIA_TYPES, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { startThrottleProxy, type ThrottleProxy } from '../support/throttle-proxy.js'

const PUSHES = 8
const MiB = 1024 * 1024
const BLOB = 16 * MiB
/** 16 MiB/s per connection: each upload holds its socket ~1 s (socket buffers drain in well under the timeout); the pool is busy ~4 s. */
const RATE = 16 * MiB
const TIMEOUT_MS = 1_000

describe('8 concurrent pushes on a pool of 2 sockets', () => {
  let registry: StartedRegistry
  let proxy: ThrottleProxy
  let store: OllamaStore
  const names = () => Array.from({ length: PUSHES }, (_, i) => `${proxy.host}/team/pool${i}:latest`)
  before(async () => {
    registry = await startRegistry({ auth: 'none', relativeUrls: true })
    const [host, port] = registry.host.split(':')
    proxy = await startThrottleProxy({ host: host!, port: Number(port) }, RATE)
    store = await makeOllamaStore(names().map((name) => ({ name, layers: [{ mediaType: MEDIA_TYPES.model, size: BLOB }] })))
  })
  after(async () => {
    await proxy?.close()
    await registry?.stop()
    await store?.remove()
  })

  it('queued requests do not count against the timeout: 0 timeout retries, all pushed', async () => {
    const warnings: Array<{ message: string; reason: unknown }> = []
    const logger = { warn: (message: string, fields?: Record<string, unknown>) => void warnings.push({ message, reason: fields?.reason }) }
    const uploader = new OciRegistryUploader({ maxSockets: 2, timeoutMs: TIMEOUT_MS, retries: 5, retryDelayMs: 1, logger })
    const storage = new FilesystemStorage({ root: store.root })
    const started = Date.now()
    try {
      await Promise.all(
        names().map(async (name) => {
          for await (const event of pushModel(name, { storage, uploader }, { insecure: true })) void event
        }),
      )
    } finally {
      uploader.close()
    }
    const seconds = (Date.now() - started) / 1000
    process.stdout.write(`# ${PUSHES} pushes on 2 sockets: ${seconds.toFixed(1)} s, ${proxy.stats.connections} connections (at most ${proxy.stats.mostAtOnce} at once), ${warnings.length} retries\n`)
    // The pool really was the bottleneck: the pushes took several times the timeout.
    assert.ok(seconds * 1000 > 3 * TIMEOUT_MS, `the pushes took ${seconds} s: too fast to show queueing`)
    assert.deepEqual(warnings, [], 'no request was retried')
    for (const name of names()) {
      const model = store.models[name]!
      const repository = name.split('/').slice(1).join('/').split(':')[0]!
      assert.ok((await registry.getManifest(repository, 'latest')).bytes.equals(model.manifestBytes), `${name}: manifest byte-identical`)
      for (const blob of model.blobs) assert.equal(await registry.blobDigest(repository, blob.digest), blob.digest)
    }
  })
})
