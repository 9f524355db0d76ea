// pushHandler mounted on its own path in an Express 4 app (the peer range is 4.21+ and 5), with
// and without express.json() in front, pushing to the real registry.
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express4 from 'express4'
import { FilesystemStorage, pushHandler } from '../../lib/index.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

describe('pushHandler on Express 4', () => {
  let registry: StartedRegistry
  let store: OllamaStore
  let server: Server
  let url: string
  let name: string

  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    name = `${registry.host}/team/four:latest`
    store = await makeOllamaStore([{ name, modelSize: 2 * 1024 * 1024 }])
    const handler = pushHandler({ storage: new FilesystemStorage({ root: store.root }) })
    const app = express4()
    app.post('/bare/push', handler) // no body parser: the handler reads the body itself
    app.post('/parsed/push', express4.json(), handler) // Express 4's parser leaves {} for other content types
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((r) => server?.close(r))
    await registry?.stop()
    await store?.remove()
  })

  const post = async (path: string, body: string, contentType?: string) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', body, headers: contentType ? { 'content-type': contentType } : {} })
    return { status: response.status, text: await response.text() }
  }

  for (const [path, contentType] of [['/bare/push', 'application/json'], ['/bare/push', undefined], ['/parsed/push', 'application/json'], ['/parsed/push', 'text/plain']] as const) {
    it(`pushes through ${path} with content type ${contentType ?? '(none)'}`, async () => {
      const result = await post(path, JSON.stringify({ model: name, insecure: true, stream: false }), contentType)
      assert.equal(result.status, 200, result.text)
      assert.deepEqual(JSON.parse(result.text), { status: 'success' })
      const manifest = await registry.getManifest('team/four', 'latest')
      assert.ok(manifest.bytes.equals(store.models[name]!.manifestBytes))
    })
  }

  it('answers 400 and 404 with {"error"} bodies', async () => {
    const bad = await post('/bare/push', '{"model": 5}', 'application/json')
    assert.equal(bad.status, 400)
    assert.match(JSON.parse(bad.text).error, /model must be a string/)
    const missing = await post('/parsed/push', JSON.stringify({ model: `${registry.host}/team/none` }), 'application/json')
    assert.equal(missing.status, 404)
    assert.match(JSON.parse(missing.text).error, /not found/)
  })
})
