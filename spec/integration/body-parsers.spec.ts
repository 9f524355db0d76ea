// The router behind the body parsers a host app may already mount, on Express 4 and 5: the README's
// curl command (curl's default form content type) still pushes, malformed JSON is answered with
// {"error", "code"} instead of Express's HTML page, and the host's other routes keep their own
// error handling.
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express5 from 'express'
import express4 from 'express4'
import { createPushRouter, FilesystemStorage } from '../../lib/index.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

type Express = typeof express5
const majors: Array<[string, Express]> = [['Express 5', express5], ['Express 4', express4]]
const parsers: Array<[string, (e: Express) => express5.RequestHandler | undefined]> = [
  ['no parser', () => undefined],
  ['express.json()', (e) => e.json()],
  ['express.urlencoded({ extended: false })', (e) => e.urlencoded({ extended: false })],
  ['express.urlencoded({ extended: true }) and express.json()', (e) => e.Router().use(e.urlencoded({ extended: true }), e.json())],
]

describe('createPushRouter behind body parsers', () => {
  let registry: StartedRegistry
  let store: OllamaStore
  let name: string
  const servers: Server[] = []

  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    name = `${registry.host}/team/parsed:latest`
    store = await makeOllamaStore([{ name, modelSize: 64 * 1024 }])
  })
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
    await registry?.stop()
    await store?.remove()
  })

  async function serve(express: Express, parser: express5.RequestHandler | undefined, prefix: string): Promise<string> {
    const app = express()
    app.set('env', 'test') // finalhandler: no stack traces on stderr for the host route's error
    if (parser) app.use(parser)
    app.use(prefix, createPushRouter({ storage: new FilesystemStorage({ root: store.root }) }))
    app.post('/host/route', (req, res) => {
      res.json({ host: true, body: req.body })
    })
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    servers.push(server)
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  const post = async (url: string, body: string, contentType: string) => {
    const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } })
    return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() }
  }

  for (const [major, express] of majors) {
    for (const [label, parser] of parsers) {
      for (const prefix of ['/', '/ollama']) {
        it(`${major}, ${label}, mounted at ${prefix}`, async () => {
          const base = await serve(express, parser(express), prefix)
          const push = `${base}${prefix === '/' ? '' : prefix}/api/push`
          const body = JSON.stringify({ model: name, insecure: true, stream: false })

          // The README's curl command: `curl …/api/push -d '{…}'` sends a form content type.
          const form = await post(push, body, 'application/x-www-form-urlencoded')
          assert.equal(form.status, 200, form.text)
          assert.deepEqual(JSON.parse(form.text), { status: 'success' })
          const manifest = await registry.getManifest('team/parsed', 'latest')
          assert.ok(manifest.bytes.equals(store.models[name]!.manifestBytes))

          const json = await post(push, body, 'application/json')
          assert.equal(json.status, 200, json.text)

          const malformed = await post(push, '{"model": "team/x"', 'application/json')
          assert.equal(malformed.status, 400, malformed.text)
          assert.match(malformed.type, /^application\/json/)
          assert.deepEqual(JSON.parse(malformed.text), { error: 'request body is not valid JSON', code: 'INVALID_REQUEST' })

          const missing = await post(push, JSON.stringify({ model: `${registry.host}/team/none` }), 'application/json')
          assert.equal(missing.status, 404)
          assert.equal(JSON.parse(missing.text).code, 'MODEL_NOT_FOUND')

          // The host's own routes are not ours to answer.
          if (parser(express)) {
            const host = await post(`${base}/host/route`, '{"broken"', 'application/json')
            if (label.includes('json')) {
              assert.equal(host.status, 400)
              assert.match(host.type, /^text\/html/)
            } else {
              assert.equal(host.status, 200)
            }
          }
        })
      }
    }
  }
})
