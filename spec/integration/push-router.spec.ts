// End to end: the real `ollama` client → createPushRouter in a real Express app → Debian's
// docker-registry (distribution 2.8) in each auth mode. Every push is checked in the registry itself.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Ollama, type ProgressResponse } from 'ollama'
import { AbortError, FilesystemStorage, OciRegistryUploader, pushModel } from '../../lib/index.js'
import { eventually } from '../support/eventually.js'
import { startForwardProxy, type ForwardProxy, type ProxiedRequest } from '../support/forward-proxy.js'
import { startApp, type App } from '../support/push-app.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const MiB = 1024 * 1024

async function pushAll(client: Ollama, model: string, insecure = true): Promise<ProgressResponse[]> {
  const lines: ProgressResponse[] = []
  for await (const line of await client.push({ model, insecure, stream: true })) lines.push(line)
  return lines
}

/** POST /api/push with any body, for what the ollama client cannot send (credentials, bad types). */
async function rawPush(url: string, body: unknown): Promise<{ status: number; lines: any[]; contentType: string | null }> {
  const response = await fetch(`${url}/api/push`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await response.text()
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l))
  return { status: response.status, lines, contentType: response.headers.get('content-type') }
}

async function assertInRegistry(registry: StartedRegistry, store: OllamaStore, modelKey: string, repository: string, tag: string) {
  const stored = store.models[modelKey]!
  const manifest = await registry.getManifest(repository, tag)
  assert.equal(manifest.status, 200, 'manifest is in the registry')
  assert.ok(manifest.bytes.equals(stored.manifestBytes), 'registry returns the stored manifest bytes unchanged')
  for (const blob of stored.blobs) {
    assert.equal(await registry.blobDigest(repository, blob.digest), blob.digest, `blob ${blob.digest} is intact in the registry`)
  }
}

function assertProgressShape(lines: ProgressResponse[], digests: string[]) {
  assert.deepEqual(lines[0], { status: 'retrieving manifest' })
  assert.deepEqual(lines.at(-2), { status: 'pushing manifest' })
  assert.deepEqual(lines.at(-1), { status: 'success' })
  const blobLines = lines.slice(1, -2)
  const order = [...new Set(blobLines.map((l) => l.digest))]
  assert.deepEqual(order, digests, 'layers in manifest order, then the config')
  for (const line of blobLines) assert.equal(line.status, `pushing ${line.digest.slice(7, 19)}`)
  for (const digest of digests) {
    const last = blobLines.filter((l) => l.digest === digest).at(-1)!
    assert.equal(last.completed, last.total, `${digest} ends with completed = total`)
  }
}

describe('POST /api/push through the ollama client', () => {
  let store: OllamaStore
  const models = (host: string) => ({
    llama: { name: `${host}/team/llama:q4`, layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 3 * MiB + 17 }, { mediaType: 'application/vnd.ollama.image.template', size: 300 }, { mediaType: 'application/vnd.ollama.image.params', size: 90 }] },
  })

  describe('registry without auth', () => {
    let registry: StartedRegistry
    let app: App
    before(async () => {
      registry = await startRegistry({ auth: 'none' })
      store = await makeOllamaStore(Object.values(models(registry.host)).concat([
        { name: `${registry.host}/team/big:latest`, layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 256 * MiB }] },
      ]))
      app = await startApp({ storage: new FilesystemStorage({ root: store.root }) })
    })
    after(async () => {
      await app?.close()
      await registry?.stop()
      await store?.remove()
    })

    it('streams Ollama progress and leaves byte-identical content in the registry', async () => {
      const name = `${registry.host}/team/llama:q4`
      const lines = await pushAll(app.client, name)
      assertProgressShape(lines, store.models[name]!.pushOrder)
      await assertInRegistry(registry, store, name, 'team/llama', 'q4')
    })

    it('re-push: one completed line per blob, nothing uploaded again', async () => {
      const name = `${registry.host}/team/llama:q4`
      const lines = await pushAll(app.client, name)
      const blobLines = lines.slice(1, -2)
      assert.equal(blobLines.length, store.models[name]!.pushOrder.length)
      for (const line of blobLines) assert.equal(line.completed, line.total)
    })

    it('stream: false answers one {"status":"success"}', async () => {
      const result = await app.client.push({ model: `${registry.host}/team/llama:q4`, insecure: true, stream: false })
      assert.deepEqual(result, { status: 'success' })
    })

    it('404 for a model the store lacks, as a ResponseError', async () => {
      await assert.rejects(pushAll(app.client, `${registry.host}/team/nope:latest`), (error: any) => {
        assert.equal(error.name, 'ResponseError')
        assert.equal(error.status_code, 404)
        assert.match(error.error, /model ".*nope.*" not found/)
        return true
      })
    })

    it('400 for hostile names and bad bodies, before any byte is streamed', async () => {
      for (const model of ['../../etc/passwd', `${registry.host}/team/../../x`, 'team//llama', 'llama@sha256:abc', 'a/b/c/d', ' ']) {
        await assert.rejects(app.client.push({ model, insecure: true, stream: true }), (error: any) => {
          assert.equal(error.status_code, 400, `status for ${JSON.stringify(model)}`)
          return true
        })
      }
      const wrongType = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, stream: 'yes' })
      assert.equal(wrongType.status, 400)
      assert.match(wrongType.lines[0].error, /stream/)
      const notJson = await rawPush(app.url, '{"model":')
      assert.equal(notJson.status, 400)
      assert.match(notJson.lines[0].error, /JSON/)
      const missing = await rawPush(app.url, {})
      assert.equal(missing.status, 400)
      assert.equal(missing.lines[0].error, 'model is required')
    })

    it('without insecure, a plain-http registry is refused (never downgraded to http)', async () => {
      await assert.rejects(pushAll(app.client, `${registry.host}/team/llama:q4`, false), (error: any) => {
        assert.equal(error.status_code, 502)
        return true
      })
    })

    it('a 256 MiB blob is streamed: process RSS grows far less than the blob', async () => {
      const name = `${registry.host}/team/big:latest`
      global.gc?.()
      const before = process.memoryUsage.rss()
      let peak = before
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10)
      try {
        await pushAll(app.client, name)
      } finally {
        clearInterval(sampler)
      }
      const grewMiB = (peak - before) / MiB
      assert.ok(grewMiB < 96, `RSS grew ${grewMiB.toFixed(1)} MiB while pushing a 256 MiB blob`)
      await assertInRegistry(registry, store, name, 'team/big', 'latest')
    })

    it('an error after streaming began is one final {"error"} line', async () => {
      const doomed = await startRegistry({ auth: 'none' })
      const doomedStore = await makeOllamaStore([{ name: `${doomed.host}/team/gone:latest`, layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 256 * MiB }] }])
      const doomedApp = await startApp({ storage: new FilesystemStorage({ root: doomedStore.root }) })
      try {
        const lines: ProgressResponse[] = []
        await assert.rejects(async () => {
          for await (const line of await doomedApp.client.push({ model: `${doomed.host}/team/gone:latest`, insecure: true, stream: true })) {
            lines.push(line)
            if (lines.length === 2) await doomed.stop()
          }
        }, (error: Error) => {
          assert.doesNotMatch(error.message, /success/)
          return true
        })
        assert.deepEqual(lines[0], { status: 'retrieving manifest' })
        assert.ok(!lines.some((l) => l.status === 'success'))
      } finally {
        await doomedApp.close()
        await doomed.stop()
        await doomedStore.remove()
      }
    })
  })

  // The registry is reached through a recording proxy (the uploader's `proxy` option), so the test
  // sees which requests reached the registry and what it answered, without trusting the code under
  // test; the registry's storage shows which upload sessions are still open.
  describe('client disconnects (registry behind a recording proxy)', () => {
    let registry: StartedRegistry
    let proxy: ForwardProxy
    let store: OllamaStore
    const apps: App[] = []
    const slow = () => `${registry.host}/team/slow:latest`
    const parts = () => `${registry.host}/team/parts:latest`
    const opened = () => `${registry.host}/team/opened:latest`
    const answered = () => `${registry.host}/team/answered:latest`
    before(async () => {
      registry = await startRegistry({ auth: 'none' })
      proxy = await startForwardProxy()
      store = await makeOllamaStore([
        { name: slow(), layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 192 * MiB }] },
        { name: parts(), layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 4 * MiB }] },
        { name: opened(), layers: [{ mediaType: 'application/vnd.ollama.image.model', size: MiB }] },
        { name: answered(), layers: [{ mediaType: 'application/vnd.ollama.image.model', size: MiB }] },
      ])
    })
    after(async () => {
      for (const app of apps) await app.close()
      await proxy?.stop()
      await registry?.stop()
      await store?.remove()
    })
    // One blob at a time: the config waits for the layer, so the layer's session is the only one
    // open when the client leaves.
    const appWith = async (uploaderOptions: ConstructorParameters<typeof OciRegistryUploader>[0]) => {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), uploadConcurrency: 1, uploader: new OciRegistryUploader({ proxy: proxy.url, ...uploaderOptions }) })
      apps.push(app)
      return app
    }
    /** The upload session a request URL belongs to (`…/blobs/uploads/<uuid>`, without `_state`). */
    const sessionOf = (url: string) => new URL(url).pathname
    /**
     * The cancel itself, as pushModel says it: "push failed" with ABORTED. A push that ignored the
     * disconnect would log "push finished", or nothing while it hangs: bounded, so that fails too.
     */
    const assertAborted = async (app: App, repository: string) => {
      const ended = new RegExp(`push (?:failed|finished) .*${repository}`)
      const outcome = await eventually(() => app.logs.find((line) => ended.test(line)), (line) => line !== undefined, { what: `the end of the push to ${repository}`, timeoutMs: 30_000 })
      assert.match(outcome!, /push failed .*"code":"ABORTED"/)
    }

    it('mid-PATCH: the push is cancelled and the DELETE of the cut session reaches the registry; nothing is committed; the server stays up and a retry works', { timeout: 90_000 }, async () => {
      const app = await appWith({})
      const layer = store.model(slow()).layers[0]!
      const stream = await app.client.push({ model: slow(), insecure: true, stream: true })
      for await (const line of stream) {
        // The first sample of the 192 MiB layer (one 100 MB PATCH in flight): bytes are flowing, far from all of them.
        if (line.digest === layer.digest && (line.completed ?? 0) > 0 && line.completed! < line.total) {
          stream.abort()
          break
        }
      }
      await assertAborted(app, 'team/slow')
      const big = (request: ProxiedRequest) => request.method === 'PATCH' && Number(request.headers['content-length']) === 100_000_000
      const cut = proxy.requests.filter((request) => big(request) && request.url.includes('/v2/team/slow/'))
      assert.equal(cut.length, 1, 'one PATCH of the layer was sent')
      assert.equal(cut[0]!.status, undefined, 'and cut off: the registry never answered it (the upload was in flight)')
      // The DELETE of exactly that session went out and the registry answered it. (Distribution 2.8
      // refuses it, 404 "upload resumed at wrong offset": a session whose PATCH was cut mid-body can
      // no longer be cancelled, only purged by the registry later. docs/wire-protocol.md says so.)
      const deleted = await eventually(
        () => proxy.requests.find((request) => request.method === 'DELETE' && sessionOf(request.url) === sessionOf(cut[0]!.url) && request.status !== undefined),
        (request) => request !== undefined,
        { what: `a DELETE of ${sessionOf(cut[0]!.url)} answered by the registry` },
      )
      assert.ok(deleted!.status! >= 200)
      assert.equal(await registry.hasBlob('team/slow', layer.digest), false, 'the layer was not committed')
      assert.equal((await registry.getManifest('team/slow', 'latest')).status, 404, 'no manifest was put')
      const lines = await pushAll(app.client, slow())
      assert.deepEqual(lines.at(-1), { status: 'success' })
      await assertInRegistry(registry, store, slow(), 'team/slow', 'latest')
    })

    it('between parts: the session is cancelled in the registry (its DELETE answered 204, gone from storage); nothing is committed', { timeout: 60_000 }, async () => {
      // 1 MiB parts; the second part's PATCH is withheld at the proxy: the upload is provably in
      // flight, and the registry holds exactly the first part, so the session's latest Location is
      // current and its DELETE can work.
      const app = await appWith({ minPartSize: MiB, maxPartSize: MiB })
      const layer = store.model(parts()).layers[0]!
      const second = proxy.withhold((request) => request.method === 'PATCH' && request.url.includes('/v2/team/parts/') && request.headers['content-range'] === `${MiB}-${2 * MiB - 1}`)
      const stream = await app.client.push({ model: parts(), insecure: true, stream: true })
      const reading = (async () => {
        for await (const line of stream) void line
      })().catch(() => undefined)
      const patch = await second
      const session = sessionOf(patch.url)
      const open = await registry.openUploads('team/parts')
      assert.ok(open.includes(session.replace(/^\/v2\//, '').replace('/blobs/uploads/', '/_uploads/')), `the layer's session ${session} is open in the registry (${open.join(', ')})`)
      stream.abort()
      await reading
      await assertAborted(app, 'team/parts')
      // The registry accepted the DELETE of that session, and the session is gone from its storage
      // (a commit would do that too, but the layer is not there).
      const deleted = await eventually(
        () => proxy.requests.find((request) => request.method === 'DELETE' && sessionOf(request.url) === session && request.status !== undefined),
        (request) => request !== undefined,
        { what: `a DELETE of ${session} answered by the registry` },
      )
      assert.equal(deleted!.status, 204, 'the registry accepted the DELETE')
      await eventually(() => registry.openUploads('team/parts'), (left) => left.length === 0, { what: `no upload session left open in team/parts` })
      assert.equal(await registry.hasBlob('team/parts', layer.digest), false, 'the layer was not committed')
      assert.equal((await registry.getManifest('team/parts', 'latest')).status, 404, 'no manifest was put')
    })

    it('while a POST is answered: the session the registry opened is still cancelled once its Location arrives', { timeout: 60_000 }, async () => {
      // The layer uses the pre-flight session; the config's POST (the second one) is answered by
      // the registry, but the answer is kept from the uploader until the client has gone.
      const app = await appWith({})
      let posts = 0
      const config = proxy.delayAnswer((request) => request.method === 'POST' && request.url.endsWith('/v2/team/opened/blobs/uploads/') && ++posts === 2)
      const stream = await app.client.push({ model: opened(), insecure: true, stream: true })
      const reading = (async () => {
        for await (const line of stream) void line
      })().catch(() => undefined)
      assert.equal((await config.answered).status, 202, 'the registry opened a session')
      assert.equal((await registry.openUploads('team/opened')).length, 1)
      stream.abort()
      await reading
      await assertAborted(app, 'team/opened')
      config.release()
      await eventually(() => registry.openUploads('team/opened'), (left) => left.length === 0, { what: 'the DELETE of the session opened while the client left' })
      assert.equal((await registry.getManifest('team/opened', 'latest')).status, 404, 'no manifest was put')
    })

    it('while a PATCH answer is on its way: the cancel waits for it, and the session is DELETEd with its new Location (204, gone)', { timeout: 60_000 }, async () => {
      // The registry has taken the whole PATCH (answered 202); the answer is held at the proxy. The
      // cancel comes then (pushModel's own signal, so it provably lands before the answer is
      // released). Only the held answer's Location is still accepted by the registry for this
      // session: cutting the request off at the cancel would leave the session open for good.
      const uploader = new OciRegistryUploader({ proxy: proxy.url })
      const controller = new AbortController()
      const held = proxy.delayAnswer((request) => request.method === 'PATCH' && request.url.includes('/v2/team/answered/'))
      const pushing = (async () => {
        for await (const event of pushModel(answered(), { storage: new FilesystemStorage({ root: store.root }), uploader }, { insecure: true, signal: controller.signal, uploadConcurrency: 1 })) void event
      })()
      try {
        const patch = await held.answered
        assert.equal(patch.status, 202, 'the registry took the whole part')
        controller.abort()
        held.release()
        await assert.rejects(pushing, AbortError)
        const session = sessionOf(patch.url)
        const deleted = await eventually(
          () => proxy.requests.find((request) => request.method === 'DELETE' && sessionOf(request.url) === session && request.status !== undefined),
          (request) => request !== undefined,
          { what: `a DELETE of ${session} answered by the registry` },
        )
        assert.equal(deleted!.status, 204, 'the registry accepted the DELETE (the Location was current)')
        await eventually(() => registry.openUploads('team/answered'), (left) => left.length === 0, { what: 'no upload session left open in team/answered' })
        assert.equal((await registry.getManifest('team/answered', 'latest')).status, 404, 'no manifest was put')
      } finally {
        held.release()
        uploader.close()
      }
    })
  })

  describe('registry with htpasswd Basic auth', () => {
    let registry: StartedRegistry
    let store: OllamaStore
    let app: App
    before(async () => {
      registry = await startRegistry({ auth: 'basic' })
      store = await makeOllamaStore(Object.values(models(registry.host)))
      app = await startApp({ storage: new FilesystemStorage({ root: store.root }) })
    })
    after(async () => {
      await app?.close()
      await registry?.stop()
      await store?.remove()
    })

    it('401 without credentials (ResponseError)', async () => {
      await assert.rejects(pushAll(app.client, `${registry.host}/team/llama:q4`), (error: any) => error.status_code === 401)
    })

    it('401 with a wrong password, and the password appears nowhere', async () => {
      const password = 'wrong-Password-9c1f'
      const result = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, insecure: true, username: registry.users.pusher.username, password })
      assert.equal(result.status, 401)
      assert.doesNotMatch(JSON.stringify(result.lines) + app.logs.join('\n'), new RegExp(password))
    })

    it('pushes with credentials from the request body', async () => {
      const { username, password } = registry.users.pusher
      const result = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, insecure: true, username, password })
      assert.equal(result.status, 200)
      assert.equal(result.contentType, 'application/x-ndjson')
      assert.deepEqual(result.lines.at(-1), { status: 'success' })
      assert.doesNotMatch(JSON.stringify(result.lines) + app.logs.join('\n'), new RegExp(password))
      await assertInRegistry(registry, store, `${registry.host}/team/llama:q4`, 'team/llama', 'q4')
    })

    it('pushes with host-configured credentials through the ollama client', async () => {
      const hosts: string[] = []
      const configured = await startApp({
        storage: new FilesystemStorage({ root: store.root }),
        credentials: (host) => {
          hosts.push(host)
          return host === registry.host ? registry.users.pusher : undefined
        },
        // The test registry is plain http: the host app consents to its secrets crossing it (docs/security.md).
        allowInsecure: [registry.host],
      })
      try {
        const lines = await pushAll(configured.client, `${registry.host}/team/llama:q4`)
        assert.deepEqual(lines.at(-1), { status: 'success' })
        assert.deepEqual(hosts, [registry.host])
      } finally {
        await configured.close()
      }
    })
  })

  describe('registry with token auth', () => {
    let registry: StartedRegistry
    let store: OllamaStore
    let app: App
    before(async () => {
      registry = await startRegistry({ auth: 'token' })
      store = await makeOllamaStore(Object.values(models(registry.host)))
      app = await startApp({ storage: new FilesystemStorage({ root: store.root }), allowRequestCredentials: true })
    })
    after(async () => {
      await app?.close()
      await registry?.stop()
      await store?.remove()
    })

    it('pushes with a push-scoped token', async () => {
      const { username, password } = registry.users.pusher
      const result = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, insecure: true, username, password })
      assert.equal(result.status, 200, JSON.stringify(result.lines))
      assert.deepEqual(result.lines.at(-1), { status: 'success' })
      await assertInRegistry(registry, store, `${registry.host}/team/llama:q4`, 'team/llama', 'q4')
    })

    it('403 for a pull-only account, before any byte is streamed', async () => {
      const { username, password } = registry.users.reader
      const result = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, insecure: true, username, password })
      assert.equal(result.status, 403, JSON.stringify(result.lines))
      assert.ok(result.lines[0].error)
    })

    it('401 for anonymous pushes and wrong passwords', async () => {
      await assert.rejects(pushAll(app.client, `${registry.host}/team/llama:q4`), (error: any) => error.status_code === 401)
      const wrong = await rawPush(app.url, { model: `${registry.host}/team/llama:q4`, insecure: true, username: registry.users.pusher.username, password: 'not-it-7781' })
      assert.equal(wrong.status, 401)
      assert.doesNotMatch(JSON.stringify(wrong.lines) + app.logs.join('\n'), /not-it-7781/)
    })
  })

  describe('registry with a self-signed TLS certificate', () => {
    let registry: StartedRegistry
    let store: OllamaStore
    before(async () => {
      registry = await startRegistry({ auth: 'none', tls: true })
      store = await makeOllamaStore(Object.values(models(registry.host)))
    })
    after(async () => {
      await registry?.stop()
      await store?.remove()
    })

    it('is refused without insecure or ca (502, names certificate verification)', async () => {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }) })
      try {
        await assert.rejects(pushAll(app.client, `${registry.host}/team/llama:q4`, false), (error: any) => {
          assert.equal(error.status_code, 502)
          assert.match(error.error, /certificate/i)
          return true
        })
      } finally {
        await app.close()
      }
    })

    it('is accepted with insecure: true', async () => {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }) })
      try {
        const lines = await pushAll(app.client, `${registry.host}/team/llama:q4`, true)
        assert.deepEqual(lines.at(-1), { status: 'success' })
      } finally {
        await app.close()
      }
      await assertInRegistry(registry, store, `${registry.host}/team/llama:q4`, 'team/llama', 'q4')
    })

    it('is accepted with the ca option and verification on', async () => {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), ca: registry.ca! })
      try {
        const lines = await pushAll(app.client, `${registry.host}/team/llama:q4`, false)
        assert.deepEqual(lines.at(-1), { status: 'success' })
      } finally {
        await app.close()
      }
    })
  })
})
