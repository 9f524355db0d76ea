// Cross-repository mount under Docker token auth, against Debian's real docker-registry (2.8) and
// our token issuer (spec/support/token-issuer.ts, which grants scope by scope, per repository).
// The mount POST asks one token for pull,push on the target *and* pull on the source; every other
// request keeps the target-only token. A counting proxy in front shows what went over the wire,
// including each request's Authorization, whose JWT `access` claim we decode.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { FilesystemStorage, OciRegistryUploader, pushModel, type PushProgress } from '../../lib/index.js'
import { startForwardProxy, type ForwardProxy, type ProxiedRequest } from '../support/forward-proxy.js'
import { goJson, makeOllamaStore, type ModelSpec, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { decodeJwtClaims } from '../support/token-issuer.js'

const MODEL = 'application/vnd.ollama.image.model'
const LICENSE = 'application/vnd.ollama.image.license'
/** Parts of at most 400 kB, so "no blob bytes" and "all blob bytes" are both counted in PATCHes. */
const PARTS = { minPartSize: 100_000, maxPartSize: 400_000 }

/** A child model whose first layer carries Ollama's `from` (a mount hint) naming `parent`. */
function childOf(name: string, parent: string, shared: Buffer): ModelSpec {
  return {
    name,
    layers: [{ mediaType: MODEL, content: shared }, { mediaType: LICENSE, content: name }],
    renderManifest: (manifest) => goJson({ ...manifest, layers: manifest.layers.map((layer, i) => (i === 0 ? { ...layer, from: parent } : layer)) }),
  }
}

/** What went to `repository` on the registry (not the token realm). */
function sentTo(proxy: ForwardProxy, registry: StartedRegistry, repository: string): ProxiedRequest[] {
  return proxy.requests.filter((request) => request.url.startsWith(`${registry.url}/v2/${repository}/`))
}

function isMount(request: ProxiedRequest): boolean {
  return request.method === 'POST' && new URL(request.url).searchParams.has('mount')
}

/** Bytes of blob content sent in PATCHes to `repository`. */
function patchedBytes(requests: readonly ProxiedRequest[]): number {
  return requests.filter((request) => request.method === 'PATCH').reduce((sum, request) => sum + Number(request.headers['content-length'] ?? 0), 0)
}

/** The `access` claim of the Bearer token a request carried, as `name:actions` strings (sorted). */
function accessOf(request: ProxiedRequest): string[] {
  const value = request.headers.authorization
  if (typeof value !== 'string' || !value.startsWith('Bearer ')) return []
  const access = decodeJwtClaims(value.slice(7)).access as Array<{ name: string; actions: string[] }>
  return access.map((entry) => `${entry.name}:${entry.actions.join(',')}`).sort()
}

describe('cross-repository mount under token auth × docker-registry', () => {
  let registry: StartedRegistry
  let proxy: ForwardProxy
  const stores: OllamaStore[] = []
  before(async () => {
    // The pusher may pull and push everywhere except `secret/base`, someone else's private repository.
    registry = await startRegistry({ auth: 'token', grants: { repositories: { pusher: { 'secret/base': [] } } } })
    proxy = await startForwardProxy()
  })
  after(async () => {
    await proxy.stop()
    await registry.stop()
    for (const store of stores) await store.remove()
  })

  const push = async (name: string, local: OllamaStore, uploader: OciRegistryUploader): Promise<PushProgress[]> => {
    const events: PushProgress[] = []
    const options = { insecure: true, credentials: registry.users.pusher, progressIntervalMs: 10 }
    for await (const event of pushModel(name, { storage: new FilesystemStorage({ root: local.root }), uploader }, options)) events.push(event)
    assert.equal(events.at(-1)?.status, 'success')
    return events
  }

  const checkInRegistry = async (local: OllamaStore, name: string) => {
    const model = local.model(name)
    const manifest = await registry.getManifest(model.repository, model.tag)
    assert.equal(manifest.status, 200)
    assert.ok(manifest.bytes.equals(model.manifestBytes), 'manifest byte-exact as stored')
    for (const blob of model.blobs) assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest, `blob ${blob.digest} byte-identical`)
  }

  it('the account may pull the source: one token with both scopes, 201 mounted, no bytes of the layer sent; other requests keep the target-only token', async () => {
    const shared = randomBytes(1_500_000)
    const parent = `${registry.host}/team/base:v1`
    const child = `${registry.host}/team/child:v1`
    const local = await makeOllamaStore([{ name: parent, layers: [{ mediaType: MODEL, content: shared }] }, childOf(child, 'team/base:v1', shared)])
    stores.push(local)
    const digest = local.model(child).layers[0]!.digest
    await push(parent, local, new OciRegistryUploader({ proxy: proxy.url, ...PARTS }))
    registry.tokenIssuer!.clearRequests()

    // A fresh uploader: it has seen nothing, the mount source comes from the layer's `from`.
    const uploader = new OciRegistryUploader({ proxy: proxy.url, ...PARTS })
    try {
      const events = await push(child, local, uploader)
      const requests = sentTo(proxy, registry, 'team/child')
      const mounts = requests.filter(isMount)
      assert.deepEqual(
        mounts.map((request) => [new URL(request.url).searchParams.get('mount'), new URL(request.url).searchParams.get('from'), request.status]),
        [[digest, 'team/base', 201]],
        'mounted from the parent repository',
      )
      assert.equal(patchedBytes(requests), local.model(child).blobs.filter((blob) => blob.digest !== digest).reduce((sum, blob) => sum + blob.size, 0), 'only the other blobs were sent')
      assert.ok(requests.filter((request) => request.method === 'PATCH').every((request) => Number(request.headers['content-length']) < 100_000), 'no part of the shared layer')
      assert.equal(events.filter((event) => event.digest === digest).at(-1)?.completed, shared.length)
      await checkInRegistry(local, child)

      // The token service was asked exactly two scope sets, each once (the rest came from the cache).
      const asked = registry.tokenIssuer!.requests.map((request) => [request.scopes.join(' '), request.granted.map((g) => `${g.name}:${g.actions.join(',')}`).join(' ')])
      assert.deepEqual(asked, [
        ['repository:team/child:pull,push', 'team/child:pull,push'],
        ['repository:team/child:pull,push repository:team/base:pull', 'team/child:pull,push team/base:pull'],
      ])
      // No scope creep: the wider token went with the mount only.
      assert.deepEqual(accessOf(mounts[0]!), ['team/base:pull', 'team/child:pull,push'])
      const others = requests.filter((request) => !isMount(request) && request.headers.authorization !== undefined)
      assert.ok(others.length >= 5, 'HEADs, POSTs, PATCHes, PUTs and the manifest were authorised')
      for (const request of others) assert.deepEqual(accessOf(request), ['team/child:pull,push'], `${request.method} ${new URL(request.url).pathname}`)
    } finally {
      uploader.close()
    }
  })

  it('the account may not pull the source: the token service grants less, the registry refuses the mount, the layer is uploaded byte-identical', async () => {
    const shared = randomBytes(1_200_000)
    // Someone else's private repository holds the blob (seeded with the registry's own pusher token).
    const digest = await registry.putBlob('secret/base', shared)
    const child = `${registry.host}/team/thief:v1`
    const local = await makeOllamaStore([childOf(child, 'secret/base:v1', shared)])
    stores.push(local)
    assert.equal(local.model(child).layers[0]!.digest, digest)
    registry.tokenIssuer!.clearRequests()

    const lines: string[] = []
    const uploader = new OciRegistryUploader({ proxy: proxy.url, ...PARTS, logger: { debug: (message, fields) => void lines.push(`${message} ${JSON.stringify(fields)}`) } })
    try {
      await push(child, local, uploader)
      const requests = sentTo(proxy, registry, 'team/thief')
      assert.deepEqual(requests.filter(isMount).map((request) => request.status), [401], 'the registry refused the mount: the token does not cover secret/base')
      assert.ok(lines.some((line) => line.startsWith('mount refused, uploading') && line.includes('secret/base')))
      const wide = registry.tokenIssuer!.requests.find((request) => request.scopes.includes('repository:secret/base:pull'))
      assert.ok(wide !== undefined, 'pull on the source was asked')
      assert.deepEqual(wide.granted, [{ type: 'repository', name: 'team/thief', actions: ['pull', 'push'] }], 'and not granted')
      assert.equal(patchedBytes(requests), local.model(child).blobs.reduce((sum, blob) => sum + blob.size, 0), 'every blob was uploaded, the shared layer included')
      await checkInRegistry(local, child)
    } finally {
      uploader.close()
    }
  })

  it('a token service that refuses the wider request outright (403): the mount is skipped, the layer uploaded, the push succeeds', async () => {
    const shared = randomBytes(300_000)
    await registry.putBlob('secret/base', shared)
    const child = `${registry.host}/team/strict:v1`
    const local = await makeOllamaStore([childOf(child, 'secret/base:v1', shared)])
    stores.push(local)
    registry.tokenIssuer!.clearRequests()
    registry.tokenIssuer!.refuseUnheld(true)
    const lines: string[] = []
    const uploader = new OciRegistryUploader({ proxy: proxy.url, ...PARTS, logger: { debug: (message, fields) => void lines.push(`${message} ${JSON.stringify(fields)}`) } })
    try {
      await push(child, local, uploader)
      const statuses = registry.tokenIssuer!.requests.map((request) => [request.scopes.length, request.status])
      assert.deepEqual(statuses, [[1, 200], [2, 403]], 'the push token, then the refused mount token')
      assert.deepEqual(sentTo(proxy, registry, 'team/strict').filter(isMount), [], 'no mount was sent without its token')
      assert.ok(lines.some((line) => line.startsWith('mount refused, uploading') && line.includes('denied access')), 'logged as a refused mount')
      assert.equal(patchedBytes(sentTo(proxy, registry, 'team/strict')), local.model(child).blobs.reduce((sum, blob) => sum + blob.size, 0))
      await checkInRegistry(local, child)
    } finally {
      registry.tokenIssuer!.refuseUnheld(false)
      uploader.close()
    }
  })
})
