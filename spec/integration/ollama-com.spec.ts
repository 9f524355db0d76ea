// End to end against the ollama.com stand-in (spec/support/ollama-com.ts) with Debian's registry in
// token mode behind it: the real `ollama` client → our router → signed token request → the registry.
// Also the Go CLI's pre-flight routes (HEAD /, POST /api/me).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Ollama, type ProgressResponse } from 'ollama'
import { FilesystemStorage, OciRegistryUploader, type PushRouterOptions } from '../../lib/index.js'
import { startOllamaCom, type OllamaCom } from '../support/ollama-com.js'
import { startApp, type App } from '../support/push-app.js'
import { startRedirectRegistry, type RedirectRegistry } from '../support/redirect-registry.js'
import { goJson, makeOllamaStore, type OllamaManifest, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { makeTestKey, type TestKey } from '../support/ssh-keys.js'

async function pushAll(client: Ollama, model: string): Promise<ProgressResponse[]> {
  const lines: ProgressResponse[] = []
  for await (const line of await client.push({ model, insecure: true, stream: true })) lines.push(line)
  return lines
}

/** Pieces of the private key that must never show up anywhere: lines of its base64 body, the seed in the usual encodings. */
function keyFragments(key: TestKey): string[] {
  const lines = key.text.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'))
  return [...lines, key.seed.toString('base64').slice(0, 24), key.seed.toString('base64url').slice(0, 24), key.seed.toString('hex').slice(0, 24)]
}

describe('push to ollama.com (stand-in) with the Ollama key', () => {
  const alice = makeTestKey()
  const stranger = makeTestKey()
  let registry: StartedRegistry
  let front: OllamaCom
  let store: OllamaStore
  const apps: App[] = []
  const app = async (options: PushRouterOptions) => {
    const started = await startApp({ storage: new FilesystemStorage({ root: store.root }), ollamaAccountUrl: front.url, ...options })
    apps.push(started)
    return started
  }

  before(async () => {
    registry = await startRegistry({ auth: 'token' })
    front = await startOllamaCom({
      upstream: registry.url,
      service: registry.service!,
      mint: (subject, access) => registry.tokenIssuer!.mint(subject, access),
      accounts: [{ publicLine: alice.publicLine, name: 'alice' }],
      privateRepositories: ['bob/secret'],
    })
    store = await makeOllamaStore([
      { name: `${front.host}/alice/tiny:latest`, modelSize: 300_000 },
      { name: `${front.host}/bob/tiny:latest`, modelSize: 1000 },
    ])
  })
  after(async () => {
    for (const started of apps) await started.close()
    await front?.close()
    await registry?.stop()
    await store?.remove()
  })

  it('lands byte-identical in the registry, with tokens only from the signed endpoint; the key never in logs', async () => {
    const pusher = await app({ ollamaKey: alice.text, ollamaHosts: [front.host] })
    const name = `${front.host}/alice/tiny:latest`
    const lines = await pushAll(pusher.client, name)
    assert.deepEqual(lines.at(-1), { status: 'success' })

    const stored = store.model(name)
    const manifest = await registry.getManifest('alice/tiny', 'latest')
    assert.equal(manifest.status, 200)
    assert.ok(manifest.bytes.equals(stored.manifestBytes), 'manifest bytes as stored')
    for (const blob of stored.blobs) assert.equal(await registry.blobDigest('alice/tiny', blob.digest), blob.digest)

    const tokenRequests = front.requests.filter((r) => r.endpoint === 'token')
    assert.ok(tokenRequests.length >= 1)
    for (const request of tokenRequests) assert.deepEqual([request.status, request.outcome, request.account], [200, 'ok', 'alice'])
    assert.deepEqual(tokenRequests[0]!.granted, [{ type: 'repository', name: 'alice/tiny', actions: ['pull', 'push'] }])
    assert.equal(registry.tokenIssuer!.requests.length, 0, 'the Docker realm was never asked')

    const logs = pusher.logs.join('\n')
    assert.match(logs, /ollama token request/, 'the logger did see the token step')
    for (const fragment of keyFragments(alice)) assert.ok(!logs.includes(fragment), 'no key text in logs')
  })

  it('an unknown key: the client sees 401 with the ssh-ed25519 line to register', async () => {
    const pusher = await app({ ollamaKey: stranger.text, ollamaHosts: [front.host] })
    await assert.rejects(pushAll(pusher.client, `${front.host}/alice/tiny:latest`), (error: any) => {
      assert.equal(error.name, 'ResponseError')
      assert.equal(error.status_code, 401)
      assert.ok(error.message.includes(stranger.publicLine), error.message)
      assert.match(error.message, /ollama\.com/)
      for (const fragment of keyFragments(stranger)) assert.ok(!error.message.includes(fragment))
      return true
    })
    assert.equal(front.requests.at(-1)!.outcome, 'unknown key')
  })

  it('another account\'s namespace: pull-only token, push refused before any byte', async () => {
    const pusher = await app({ ollamaKey: alice.text, ollamaHosts: [front.host] })
    await assert.rejects(pushAll(pusher.client, `${front.host}/bob/tiny:latest`), (error: any) => {
      assert.equal(error.status_code, 401)
      return true
    })
    assert.equal((await registry.getManifest('bob/tiny', 'latest')).status, 404)
  })

  it('without ollamaHosts listing the host, the Docker flow is used and nothing is signed', async () => {
    const before = front.requests.length
    const pusher = await app({ ollamaKey: alice.text })
    await assert.rejects(pushAll(pusher.client, `${front.host}/alice/tiny:latest`), (error: any) => error.status_code === 401)
    const asked = front.requests.slice(before)
    assert.ok(asked.length > 0, 'the Docker flow did ask the realm')
    for (const request of asked) assert.equal(request.outcome, 'no authorization', 'anonymous: no signature')
  })

  it('a realm on another host: the error names both hosts and no signature is sent', async () => {
    const elsewhere = await startOllamaCom({
      upstream: registry.url,
      service: registry.service!,
      mint: (subject, access) => registry.tokenIssuer!.mint(subject, access),
      accounts: [{ publicLine: alice.publicLine, name: 'alice' }],
      realmHostname: 'localhost',
    })
    try {
      const storeElsewhere = await makeOllamaStore([{ name: `${elsewhere.host}/alice/tiny:latest`, modelSize: 1000 }])
      try {
        const pusher = await startApp({ storage: new FilesystemStorage({ root: storeElsewhere.root }), ollamaKey: alice.text, ollamaHosts: [elsewhere.host] })
        apps.push(pusher)
        await assert.rejects(pushAll(pusher.client, `${elsewhere.host}/alice/tiny:latest`), (error: any) => {
          const port = elsewhere.host.split(':')[1]
          assert.ok(error.message.includes(`"localhost:${port}"`), error.message)
          assert.ok(error.message.includes(`"${elsewhere.host}"`), error.message)
          return true
        })
        assert.equal(elsewhere.requests.length, 0)
      } finally {
        await storeElsewhere.remove()
      }
    } finally {
      await elsewhere.close()
    }
  })

  it('the stand-in refuses a replayed nonce and a tampered query (it verifies what it should)', async () => {
    const { OllamaKey } = await import('../../lib/index.js')
    const { tokenRequestUrl, tokenRequestAuthorization } = await import('../../lib/registry/ollama/token-source.js')
    const key = await new OllamaKey(alice.text).load()
    const url = tokenRequestUrl({ realm: front.realm, service: registry.service, scope: 'repository:alice/tiny:pull' }, Math.floor(Date.now() / 1000), 'bm9uY2Utb25lLXRpbWUtMDE')
    const headers = { Authorization: tokenRequestAuthorization(key, url) }
    assert.equal((await fetch(url, { headers })).status, 200)
    assert.equal((await fetch(url, { headers })).status, 401)
    assert.equal(front.requests.at(-1)!.outcome, 'reused nonce')
    const tampered = new URL(url)
    tampered.search = tampered.search.replace('pull', 'push')
    assert.equal((await fetch(tampered, { headers })).status, 401)
    assert.equal(front.requests.at(-1)!.outcome, 'bad signature')
  })

  it('a model created FROM another namespace: one signed token request with both scopes mounts the layer; a private source is uploaded instead', async () => {
    // Two parents already on the registry: a public one, and bob's private one alice may not read.
    const publicWeights = randomBytes(400_000)
    const privateWeights = randomBytes(400_000)
    const publicDigest = await registry.putBlob('library/base', publicWeights)
    const privateDigest = await registry.putBlob('bob/secret', privateWeights)
    const child = (name: string, weights: Buffer, from: string) => ({
      name: `${front.host}/${name}:latest`,
      layers: [{ mediaType: 'application/vnd.ollama.image.model', content: weights }, { mediaType: 'application/vnd.ollama.image.license', content: name }],
      renderManifest: (manifest: OllamaManifest) => goJson({ ...manifest, layers: manifest.layers.map((layer, i) => (i === 0 ? { ...layer, from } : layer)) }),
    })
    const local = await makeOllamaStore([child('alice/derived', publicWeights, 'library/base:latest'), child('alice/copied', privateWeights, 'bob/secret:latest')])
    try {
      const pusher = await startApp({ storage: new FilesystemStorage({ root: local.root }), ollamaKey: alice.text, ollamaHosts: [front.host] })
      apps.push(pusher)
      const tokensBefore = front.requests.length
      for (const name of ['alice/derived', 'alice/copied']) {
        assert.deepEqual((await pushAll(pusher.client, `${front.host}/${name}:latest`)).at(-1), { status: 'success' })
        const stored = local.model(`${front.host}/${name}:latest`)
        assert.ok((await registry.getManifest(name, 'latest')).bytes.equals(stored.manifestBytes))
        for (const blob of stored.blobs) assert.equal(await registry.blobDigest(name, blob.digest), blob.digest)
      }
      const sent = (repository: string) => front.proxied.filter((request) => request.path.startsWith(`/v2/${repository}/`))
      const mountsOf = (repository: string) => sent(repository).filter((request) => request.method === 'POST' && request.query.includes('mount='))
      const patched = (repository: string) => sent(repository).filter((request) => request.method === 'PATCH').reduce((sum, request) => sum + request.length, 0)

      assert.deepEqual(mountsOf('alice/derived').map((request) => [new URLSearchParams(request.query).get('mount'), new URLSearchParams(request.query).get('from'), request.status]), [[publicDigest, 'library/base', 201]])
      assert.ok(patched('alice/derived') < 100_000, 'none of the public parent layer was sent')
      assert.deepEqual(mountsOf('alice/copied').map((request) => [new URLSearchParams(request.query).get('mount'), request.status]), [[privateDigest, 401]], 'the private source is refused')
      assert.ok(patched('alice/copied') >= privateWeights.length, 'so its layer was uploaded')

      // The stand-in rebuilt the signed URL with both scope parameters and verified the signature.
      const tokens = front.requests.slice(tokensBefore).filter((request) => request.endpoint === 'token')
      assert.ok(tokens.every((request) => request.outcome === 'ok' && request.account === 'alice'))
      const wide = tokens.filter((request) => request.scopes.length === 2)
      assert.deepEqual(
        wide.map((request) => [request.scopes, request.granted.map((grant) => `${grant.name}:${grant.actions.join(',')}`)]),
        [
          [['repository:alice/derived:pull,push', 'repository:library/base:pull'], ['alice/derived:pull,push', 'library/base:pull']],
          [['repository:alice/copied:pull,push', 'repository:bob/secret:pull'], ['alice/copied:pull,push']],
        ],
      )
      assert.ok(tokens.filter((request) => request.scopes.length === 1).every((request) => /^repository:alice\/(derived|copied):pull,push$/.test(request.scopes[0]!)), 'the other tokens cover the target only')
    } finally {
      await local.remove()
    }
  })

  describe('the Go CLI pre-flight', () => {
    it('HEAD / answers 200', async () => {
      const pusher = await app({ ollamaKey: alice.text })
      const response = await fetch(pusher.url, { method: 'HEAD' })
      assert.equal(response.status, 200)
    })

    it('POST /api/me relays the account for a known key (plan defaults to free)', async () => {
      const pusher = await app({ ollamaKey: alice.text })
      const response = await fetch(`${pusher.url}/api/me`, { method: 'POST' })
      assert.equal(response.status, 200)
      const body = (await response.json()) as Record<string, unknown>
      assert.equal(body.name, 'alice')
      assert.equal(body.plan, 'free')
      const record = front.requests.at(-1)!
      assert.deepEqual([record.endpoint, record.outcome], ['me', 'ok'])
      assert.match(record.rawQuery, /^ts=\d+$/)
    })

    it('POST /api/me: an unknown key gets 401 with a sign-in link carrying the key line', async () => {
      const pusher = await app({ ollamaKey: stranger.text })
      const response = await fetch(`${pusher.url}/api/me`, { method: 'POST' })
      assert.equal(response.status, 401)
      const body = (await response.json()) as { error: string; signin_url: string }
      assert.equal(body.error, 'unauthorized')
      const link = new URL(body.signin_url)
      assert.equal(link.pathname, '/connect')
      assert.equal(Buffer.from(link.searchParams.get('key')!, 'base64url').toString('utf8'), stranger.publicLine)
      assert.ok(link.searchParams.get('name'))
    })

    it('POST /api/me: a missing key is a 500 naming its path; an unreachable account API is 503', async () => {
      const missing = await app({ ollamaKey: '/nonexistent/.ollama/id_ed25519' })
      const response = await fetch(`${missing.url}/api/me`, { method: 'POST' })
      assert.equal(response.status, 500)
      assert.match(((await response.json()) as { error: string }).error, /\/nonexistent\/\.ollama\/id_ed25519 does not exist/)
      const down = await app({ ollamaKey: alice.text, ollamaAccountUrl: 'http://127.0.0.1:1' })
      const unavailable = await fetch(`${down.url}/api/me`, { method: 'POST' })
      assert.equal(unavailable.status, 503)
      assert.deepEqual(await unavailable.json(), { error: 'account unavailable' })
    })
  })
})

// The whole ollama.com shape at once: signed tokens at the front, parts 307'd to an object store
// behind it (the redirect stand-in), Debian's registry in token mode keeping the bytes.
describe('push to ollama.com (stand-in) in redirect-upload mode, with the Ollama key', () => {
  const alice = makeTestKey()
  let registry: StartedRegistry
  let redirect: RedirectRegistry
  let front: OllamaCom
  let store: OllamaStore
  let pusher: App | undefined

  before(async () => {
    registry = await startRegistry({ auth: 'token' })
    redirect = await startRedirectRegistry(registry.url)
    front = await startOllamaCom({
      upstream: `http://${redirect.host}`,
      service: registry.service!,
      mint: (subject, access) => registry.tokenIssuer!.mint(subject, access),
      accounts: [{ publicLine: alice.publicLine, name: 'alice' }],
    })
    store = await makeOllamaStore([{ name: `${front.host}/alice/parts:latest`, modelSize: 700_000 }])
  })
  after(async () => {
    await pusher?.close()
    await front?.close()
    await redirect?.stop()
    await registry?.stop()
    await store?.remove()
  })

  it('the real client pushes in parts through 307s to the object store; byte-identical, no Authorization there, etag checked', async () => {
    // Small part bounds so the 700 kB layer goes up in several parts, as a multi-GB one would.
    const uploader = new OciRegistryUploader({ ollamaKey: alice.text, ollamaHosts: [front.host], minPartSize: 100_000, maxPartSize: 150_000 })
    pusher = await startApp({ storage: new FilesystemStorage({ root: store.root }), uploader })
    const name = `${front.host}/alice/parts:latest`
    const lines = await pushAll(pusher.client, name)
    assert.deepEqual(lines.at(-1), { status: 'success' })

    const stored = store.model(name)
    const manifest = await registry.getManifest('alice/parts', 'latest')
    assert.ok(manifest.bytes.equals(stored.manifestBytes), 'manifest bytes as stored')
    for (const blob of stored.blobs) assert.equal(await registry.blobDigest('alice/parts', blob.digest), blob.digest)
    assert.ok(redirect.stats.redirects >= 5, `the big layer's parts were redirected (${redirect.stats.redirects})`)
    assert.equal(redirect.stats.storeAuthorizations, 0, 'no Authorization reached the object store')
    assert.ok(redirect.stats.commits.length >= 1 && redirect.stats.commits.every((c) => c.etagOk), 'every commit carried the right etag')
    const tokens = front.requests.filter((r) => r.endpoint === 'token')
    assert.ok(tokens.length >= 1 && tokens.every((r) => r.outcome === 'ok' && r.account === 'alice'), 'tokens only from the signed endpoint')
  })
})
