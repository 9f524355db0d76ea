// Issue #6 against Debian's real docker-registry (distribution 2.8): blobs in Ollama's parts, the
// cross-repository mount (201 and refused; under token auth: mount-token-auth.spec.ts), shared uploads between concurrent pushes, and proxies
// (environment and option; https through a CONNECT tunnel). A small counting proxy
// (spec/support/forward-proxy.ts) in front of the registry shows what went over the wire.
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { Ollama, type ProgressResponse } from 'ollama'
import { createPushRouter, FilesystemStorage, MemoryStorage, OciRegistryUploader, pushModel, type PushProgress, type StorageAdapter } from '../../lib/index.js'
import { blobParts } from '../../lib/registry/blob-parts.js'
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js'
import { goJson, makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRedirectRegistry, type RedirectRegistry } from '../support/redirect-registry.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

async function pushAll(name: string, storage: StorageAdapter, uploader: OciRegistryUploader): Promise<PushProgress[]> {
  const events: PushProgress[] = []
  for await (const event of pushModel(name, { storage, uploader }, { insecure: true, progressIntervalMs: 10 })) events.push(event)
  return events
}

/** The PATCHes the proxy forwarded for `repository`, in order. */
function patches(proxy: ForwardProxy, repository: string) {
  return proxy.requests.filter((request) => request.method === 'PATCH' && request.url.includes(`/v2/${repository}/blobs/uploads/`))
}

function mounts(proxy: ForwardProxy, repository: string) {
  return proxy.requests.filter((request) => request.method === 'POST' && request.url.includes(`/v2/${repository}/blobs/uploads/?mount=`))
}

/** Progress of one digest: completed values in order, and the last line. */
function progressOf(events: readonly PushProgress[], digest: string): number[] {
  return events.filter((event) => event.digest === digest).map((event) => event.completed ?? 0)
}

describe('blobs in parts, mount and shared uploads × docker-registry (through a counting proxy)', () => {
  let registry: StartedRegistry
  let proxy: ForwardProxy
  const stores: OllamaStore[] = []
  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    proxy = await startForwardProxy()
  })
  after(async () => {
    await proxy.stop()
    await registry.stop()
    for (const store of stores) await store.remove()
  })

  const store = async (...specs: Parameters<typeof makeOllamaStore>[0]) => {
    const made = await makeOllamaStore(specs)
    stores.push(made)
    return made
  }

  for (const kind of ['FilesystemStorage (bounded part streams)', 'MemoryStorage (the uploader cuts parts itself)'] as const) {
    it(`${kind}: one PATCH per part with Ollama's headers, each to the newest Location, bytes identical`, async () => {
      const name = `${registry.host}/parts/fs-${kind.startsWith('File') ? 'a' : 'b'}:v1`
      const local = await store({ name, modelSize: 24_000_017 })
      const model = local.model(name)
      let storage: StorageAdapter = new FilesystemStorage({ root: local.root })
      if (kind.startsWith('Memory')) {
        const memory = new MemoryStorage()
        for (const blob of model.blobs) await memory.writeBlob(blob.digest, (await storage.openBlob(blob.digest)))
        await memory.writeManifest(await import('../../lib/model/name.js').then(({ parseModelName }) => parseModelName(name)), model.manifestBytes)
        storage = memory
      }
      const uploader = new OciRegistryUploader({ proxy: proxy.url, minPartSize: 1_000_000, maxPartSize: 10_000_000 })
      try {
        const events = await pushAll(name, storage, uploader)
        assert.equal(events.at(-1)?.status, 'success')
        const big = model.layers[0]!
        const expected = blobParts(big.size, 1_000_000, 10_000_000)
        assert.equal(expected.length, 17, '24 000 017 B at size/16 = 1 500 001 per part: 16 parts and 1 byte')
        // The big layer's PATCHes (the small blobs' single parts start at 0 and are shorter).
        const ranges = new Set(expected.map((part) => `${part.start}-${part.end - 1}`))
        const all = patches(proxy, model.repository)
        const sent = all.filter((request) => ranges.has(String(request.headers['content-range'])))
        assert.equal(all.length - sent.length, model.blobs.filter((blob) => blob.size > 0).length - 1, 'every other blob went up as one part')
        assert.deepEqual(
          sent.map((request) => request.headers['content-range']),
          expected.map((part) => `${part.start}-${part.end - 1}`),
          'Content-Range <start>-<end> (inclusive) per part, in order',
        )
        assert.deepEqual(sent.map((request) => Number(request.headers['content-length'])), expected.map((part) => part.end - part.start))
        assert.ok(sent.every((request) => request.headers['x-redirect-uploads'] === '1'))
        assert.equal(new Set(sent.map((request) => request.url)).size, sent.length, 'each part went to a new Location')
        assert.ok(sent.every((request) => request.status === 202))
        for (const blob of model.blobs) assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest)
        const completed = progressOf(events, big.digest)
        assert.deepEqual([...completed].sort((a, b) => a - b), completed, 'progress is monotonic')
        assert.equal(completed.at(-1), big.size)
      } finally {
        uploader.close()
      }
    })
  }

  it('a 250 MB layer with the default bounds: 100 MB, 100 MB and 50 MB PATCHes', { timeout: 240_000 }, async () => {
    const name = `${registry.host}/parts/big:v1`
    const local = await store({ name, modelSize: 250_000_000 })
    const model = local.model(name)
    const uploader = new OciRegistryUploader({ proxy: proxy.url })
    try {
      const events = await pushAll(name, new FilesystemStorage({ root: local.root }), uploader)
      assert.equal(events.at(-1)?.status, 'success')
      const sent = patches(proxy, model.repository).filter((request) => Number(request.headers['content-length']) > 100_000)
      assert.deepEqual(sent.map((request) => request.headers['content-range']), ['0-99999999', '100000000-199999999', '200000000-249999999'])
      assert.equal(await registry.blobDigest(model.repository, model.layers[0]!.digest), model.layers[0]!.digest)
    } finally {
      uploader.close()
    }
  })

  it('a layer with `from` is mounted from the parent repository (201, no bytes); a refused mount falls back to uploading', async () => {
    const parent = `${registry.host}/mount/parent:v1`
    const shared = { mediaType: 'application/vnd.ollama.image.model', size: 3_000_000, seed: 'shared-weights' }
    const withFrom = (from: string) => (manifest: Parameters<NonNullable<Parameters<typeof makeOllamaStore>[0][number]['renderManifest']>>[0]) =>
      goJson({ ...manifest, layers: manifest.layers.map((layer, i) => (i === 0 ? { ...layer, from } : layer)) })
    const local = await store(
      { name: parent, layers: [shared] },
      { name: `${registry.host}/mount/child:v1`, layers: [shared, { mediaType: 'application/vnd.ollama.image.license', content: 'child' }], renderManifest: withFrom('mount/parent:v1') },
      { name: `${registry.host}/mount/orphan:v1`, layers: [shared, { mediaType: 'application/vnd.ollama.image.license', content: 'orphan' }], renderManifest: withFrom('mount/nowhere:v1') },
    )
    const storage = new FilesystemStorage({ root: local.root })
    const digest = local.model(parent).layers[0]!.digest
    await pushAll(parent, storage, new OciRegistryUploader({ proxy: proxy.url }))

    // A fresh uploader knows nothing: the mount comes from the manifest's `from`.
    const child = new OciRegistryUploader({ proxy: proxy.url })
    try {
      const events = await pushAll(`${registry.host}/mount/child:v1`, storage, child)
      assert.equal(events.at(-1)?.status, 'success')
      assert.deepEqual(mounts(proxy, 'mount/child').map((request) => [new URL(request.url).searchParams.get('mount'), new URL(request.url).searchParams.get('from'), request.status]), [[digest, 'mount/parent', 201]])
      assert.equal(patches(proxy, 'mount/child').filter((request) => Number(request.headers['content-length']) > 100_000).length, 0, 'no bytes of the shared layer were sent')
      assert.equal(await registry.blobDigest('mount/child', digest), digest)
      assert.equal(progressOf(events, digest).at(-1), 3_000_000)
    } finally {
      child.close()
    }

    const orphan = new OciRegistryUploader({ proxy: proxy.url })
    try {
      const events = await pushAll(`${registry.host}/mount/orphan:v1`, storage, orphan)
      assert.equal(events.at(-1)?.status, 'success')
      assert.deepEqual(mounts(proxy, 'mount/orphan').map((request) => request.status), [202], 'the registry refused the mount (opened a plain session)')
      assert.equal(patches(proxy, 'mount/orphan').filter((request) => Number(request.headers['content-length']) > 100_000).length, 1, 'the layer was uploaded instead')
      assert.equal(await registry.blobDigest('mount/orphan', digest), digest)
    } finally {
      orphan.close()
    }
  })

  it('the uploader remembers where it saw a blob and mounts from there into another repository', async () => {
    const layer = { mediaType: 'application/vnd.ollama.image.model', size: 2_000_000, seed: 'seen-weights' }
    const local = await store({ name: `${registry.host}/seen/first:v1`, layers: [layer] }, { name: `${registry.host}/seen/second:v1`, layers: [layer] })
    const storage = new FilesystemStorage({ root: local.root })
    const digest = local.model(`${registry.host}/seen/first:v1`).layers[0]!.digest
    const uploader = new OciRegistryUploader({ proxy: proxy.url })
    try {
      await pushAll(`${registry.host}/seen/first:v1`, storage, uploader)
      await pushAll(`${registry.host}/seen/second:v1`, storage, uploader)
      const offered = mounts(proxy, 'seen/second')
      assert.ok(offered.some((request) => new URL(request.url).searchParams.get('mount') === digest), 'the layer was offered as a mount')
      assert.ok(offered.every((request) => new URL(request.url).searchParams.get('from') === 'seen/first' && request.status === 201), 'from the repository it was seen in')
      assert.equal(patches(proxy, 'seen/second').filter((request) => Number(request.headers['content-length']) > 100_000).length, 0, 'no bytes of the layer were sent')
      assert.equal(await registry.blobDigest('seen/second', digest), digest)
    } finally {
      uploader.close()
    }
  })

  it('two concurrent pushes needing the same blob in the same repository upload it once; both follow its progress', async () => {
    const layer = { mediaType: 'application/vnd.ollama.image.model', size: 12_000_000, seed: 'twin-weights' }
    const names = [`${registry.host}/twins/m:a`, `${registry.host}/twins/m:b`]
    const local = await store(
      { name: names[0]!, layers: [layer, { mediaType: 'application/vnd.ollama.image.license', content: 'a' }] },
      { name: names[1]!, layers: [layer, { mediaType: 'application/vnd.ollama.image.license', content: 'b' }] },
    )
    const storage = new FilesystemStorage({ root: local.root })
    const digest = local.model(names[0]!).layers[0]!.digest
    const uploader = new OciRegistryUploader({ proxy: proxy.url })
    try {
      const results = await Promise.all(names.map((name) => pushAll(name, storage, uploader)))
      for (const events of results) {
        assert.equal(events.at(-1)?.status, 'success')
        const completed = progressOf(events, digest)
        assert.equal(completed.at(-1), 12_000_000)
        assert.deepEqual([...completed].sort((a, b) => a - b), completed, 'progress is monotonic for the follower too')
      }
      const big = patches(proxy, 'twins/m').filter((request) => Number(request.headers['content-length']) > 100_000)
      assert.equal(big.length, 1, 'the shared layer went up once')
      for (const name of names) assert.equal((await registry.getManifest('twins/m', name.split(':').at(-1)!)).status, 200)
      assert.equal(await registry.blobDigest('twins/m', digest), digest)
    } finally {
      uploader.close()
    }
  })
})

describe('proxies × docker-registry over TLS', () => {
  let registry: StartedRegistry
  let proxy: ForwardProxy
  let local: OllamaStore
  const saved: Record<string, string | undefined> = {}
  const ENV = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']
  before(async () => {
    registry = await startRegistry({ auth: 'none', tls: true })
    proxy = await startForwardProxy()
    for (const key of ENV) {
      saved[key] = process.env[key]
      delete process.env[key]
    }
  })
  after(async () => {
    for (const key of ENV) {
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
    }
    await proxy.stop()
    await registry.stop()
    await local?.remove()
  })

  const pushThrough = async (tag: string, options: ConstructorParameters<typeof OciRegistryUploader>[0]) => {
    const name = `${registry.host}/proxied/m:${tag}`
    local = await makeOllamaStore([{ name, modelSize: 1_500_000 }])
    const uploader = new OciRegistryUploader({ ca: registry.ca!, ...options })
    try {
      const events: PushProgress[] = []
      for await (const event of pushModel(name, { storage: new FilesystemStorage({ root: local.root }), uploader })) events.push(event)
      assert.equal(events.at(-1)?.status, 'success')
      for (const blob of local.model(name).blobs) assert.equal(await registry.blobDigest('proxied/m', blob.digest), blob.digest)
    } finally {
      uploader.close()
      await local.remove()
    }
  }

  it('the `proxy` option: https goes through a CONNECT tunnel to the registry, certificate still verified', async () => {
    proxy.tunnels.length = 0
    await pushThrough('option', { proxy: proxy.url })
    assert.ok(proxy.tunnels.length >= 1)
    assert.ok(proxy.tunnels.every((tunnel) => tunnel.target === registry.host), 'tunnels go to the registry')
    assert.ok(proxy.tunnels.reduce((sum, tunnel) => sum + tunnel.bytesUp, 0) > 1_500_000, 'the blob went through the tunnel (TLS inside)')
    assert.equal(proxy.requests.length, 0, 'nothing went as plain http')
  })

  it('HTTPS_PROXY of the process is honoured, NO_PROXY exempts the registry, `proxy: false` turns it off', async () => {
    process.env.HTTPS_PROXY = proxy.url
    try {
      proxy.tunnels.length = 0
      await pushThrough('env', {})
      assert.ok(proxy.tunnels.length >= 1, 'HTTPS_PROXY was used')

      proxy.tunnels.length = 0
      process.env.NO_PROXY = '127.0.0.1'
      await pushThrough('no-proxy', {})
      assert.equal(proxy.tunnels.length, 0, 'NO_PROXY exempts the registry')
      delete process.env.NO_PROXY

      await pushThrough('off', { proxy: false })
      assert.equal(proxy.tunnels.length, 0, 'proxy: false ignores the environment')
    } finally {
      delete process.env.HTTPS_PROXY
      delete process.env.NO_PROXY
    }
  })
})

describe("ollama.com's redirected uploads (stand-in in front of docker-registry with Basic auth)", () => {
  let registry: StartedRegistry
  let front: RedirectRegistry
  const stores: OllamaStore[] = []
  before(async () => {
    registry = await startRegistry({ auth: 'basic' })
    front = await startRedirectRegistry(registry.url)
  })
  after(async () => {
    await front.stop()
    await registry.stop()
    for (const store of stores) await store.remove()
  })

  const pushVia = async (model: string, size: number, uploaderOptions: ConstructorParameters<typeof OciRegistryUploader>[0] = {}) => {
    const name = `${front.host}/redirect/${model}:v1`
    const local = await makeOllamaStore([{ name, modelSize: size }])
    stores.push(local)
    const uploader = new OciRegistryUploader({ minPartSize: 1_000_000, maxPartSize: 1_000_000, retryDelayMs: 1, ...uploaderOptions })
    try {
      const events: PushProgress[] = []
      const storage = new FilesystemStorage({ root: local.root })
      for await (const event of pushModel(name, { storage, uploader }, { insecure: true, credentials: registry.users.pusher, progressIntervalMs: 10 })) events.push(event)
      return { events, model: local.model(name) }
    } finally {
      uploader.close()
    }
  }

  it('parts go to the object store without credentials, the commit carries the etag, the registry holds the exact bytes', async () => {
    const before = { ...front.stats, commits: front.stats.commits.length }
    const { events, model } = await pushVia('m', 5_500_000)
    assert.equal(events.at(-1)?.status, 'success')
    const big = model.layers[0]!
    assert.ok(front.stats.redirects - before.redirects >= 6, 'every part of the big layer was redirected')
    assert.equal(front.stats.storeAuthorizations, 0, 'no Authorization reached the object store')
    const commits = front.stats.commits.slice(before.commits)
    assert.ok(commits.length >= 1 && commits.every((commit) => commit.etagOk), 'every commit carried the right etag')
    assert.ok(commits.some((commit) => commit.etag?.endsWith('-6') === true), '5 500 000 B in 1 MB parts: an etag over 6 parts')
    for (const blob of model.blobs) assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest)
    const completed = progressOf(events, big.digest)
    assert.equal(completed.at(-1), big.size)
  })

  it('end to end: the real ollama client pushes through createPushRouter to the stand-in', async () => {
    const name = `${front.host}/redirect/e2e:v1`
    const local = await makeOllamaStore([{ name, modelSize: 2_500_000 }])
    stores.push(local)
    const app = express()
    const uploader = new OciRegistryUploader({ minPartSize: 1_000_000, maxPartSize: 1_000_000 })
    app.use(createPushRouter({ storage: new FilesystemStorage({ root: local.root }), uploader, credentials: () => registry.users.pusher, allowInsecure: [front.host] }))
    const server: Server = await new Promise((resolve) => {
      const started = app.listen(0, '127.0.0.1', () => resolve(started))
    })
    try {
      const before = { redirects: front.stats.redirects, commits: front.stats.commits.length }
      const client = new Ollama({ host: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
      const lines: ProgressResponse[] = []
      for await (const line of await client.push({ model: name, insecure: true, stream: true })) lines.push(line)
      assert.equal(lines.at(-1)?.status, 'success')
      assert.ok(front.stats.redirects - before.redirects >= 3)
      assert.ok(front.stats.commits.slice(before.commits).every((commit) => commit.etagOk))
      assert.equal(front.stats.storeAuthorizations, 0)
      const model = local.model(name)
      assert.deepEqual((await registry.getManifest(model.repository, 'v1')).bytes, model.manifestBytes)
      for (const blob of model.blobs) assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest)
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      uploader.close()
    }
  })

  it('a part the object store fails is retried in place (the same part 5 times in a row, within the retries budget), never restarting the blob', async () => {
    front.failNextParts(5, 1_000_000)
    const warnings: string[] = []
    const { events, model } = await pushVia('retried', 4_200_000, { logger: { warn: (message) => void warnings.push(message) } })
    assert.equal(events.at(-1)?.status, 'success')
    for (const blob of model.blobs) assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest)
    assert.equal(warnings.filter((message) => message === 'part upload failed, retrying it').length, 5, warnings.join('\n'))
    assert.equal(warnings.filter((message) => message.startsWith('blob upload failed')).length, 0, 'no restart of the blob')
    // Progress goes back by the failed part's bytes (and, in the same sample, possibly by a
    // redirected PATCH's), never to the start.
    const completed = progressOf(events, model.layers[0]!.digest)
    for (let i = 1; i < completed.length; i++) assert.ok(completed[i]! >= completed[i - 1]! - 2_000_000, 'never back by more than two parts')
    assert.equal(front.stats.storeAuthorizations, 0)
  })
})
