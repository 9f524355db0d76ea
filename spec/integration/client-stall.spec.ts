// A client that keeps the connection open but stops reading the progress stream: after
// `clientStallTimeoutMs` the push is cancelled and its upload session closed in the registry.
// Filling real socket buffers with ~150-byte progress lines would take minutes, so a middleware in
// front of the router makes each response report backpressure from its second line on, with no
// drain ever coming (the bytes still go out); everything else is real: router, registry, client.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createPushRouter, FilesystemStorage, OciRegistryUploader } from '../../lib/index.js'
import { eventually } from '../support/eventually.js'
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const MiB = 1024 * 1024

/** Middleware: from the second line on, `res.write` reports a full buffer and no drain ever comes. */
const stopReadingAfterFirstLine: express.RequestHandler = (_req, res, next) => {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean
  let lines = 0
  res.write = ((...args: unknown[]) => {
    write(...args)
    return ++lines < 2
  }) as typeof res.write
  next()
}

describe('a client that stops reading the progress stream', () => {
  let registry: StartedRegistry
  let proxy: ForwardProxy
  let store: OllamaStore
  let server: http.Server
  let url: string
  const logs: string[] = []
  const name = () => `${registry.host}/team/stalled:latest`
  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    proxy = await startForwardProxy()
    store = await makeOllamaStore([{ name: name(), layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 4 * MiB }] }])
    const record = (level: string) => (message: string, fields?: Record<string, unknown>) => void logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
    const app = express()
    app.use(stopReadingAfterFirstLine)
    app.use(
      createPushRouter({
        storage: new FilesystemStorage({ root: store.root }),
        uploader: new OciRegistryUploader({ proxy: proxy.url, minPartSize: MiB, maxPartSize: MiB }),
        uploadConcurrency: 1,
        clientStallTimeoutMs: 1_000,
        logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
      }),
    )
    server = http.createServer(app)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await proxy?.stop()
    await registry?.stop()
    await store?.remove()
  })

  it('after clientStallTimeoutMs the push is cancelled (ABORTED) and its upload session DELETEd in the registry', { timeout: 60_000 }, async () => {
    // The layer's second 1 MiB part is withheld at the proxy: the push is provably in flight with a
    // session the registry holds (first part taken), and only a cancel can end it.
    const second = proxy.withhold((request) => request.method === 'PATCH' && request.url.includes('/v2/team/stalled/') && request.headers['content-range'] === `${MiB}-${2 * MiB - 1}`)
    const controller = new AbortController()
    const response = await fetch(`${url}/api/push`, { method: 'POST', body: JSON.stringify({ model: name(), insecure: true }), signal: controller.signal })
    assert.equal(response.status, 200)
    const patch = await second
    const session = new URL(patch.url).pathname
    // The client is still connected (it holds `response` and never aborts); it just reads nothing more.
    const ended = await eventually(() => logs.find((line) => /push (failed|finished)/.test(line)), (line) => line !== undefined, { what: 'the end of the push', timeoutMs: 20_000 })
    assert.match(ended!, /push failed .*"code":"ABORTED"/)
    const deleted = await eventually(
      () => proxy.requests.find((request) => request.method === 'DELETE' && new URL(request.url).pathname === session && request.status !== undefined),
      (request) => request !== undefined,
      { what: `a DELETE of ${session} answered by the registry` },
    )
    assert.equal(deleted!.status, 204)
    await eventually(() => registry.openUploads('team/stalled'), (left) => left.length === 0, { what: 'no upload session left open' })
    assert.equal((await registry.getManifest('team/stalled', 'latest')).status, 404, 'no manifest was put')
    controller.abort()
  })
})
