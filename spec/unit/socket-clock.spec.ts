// The transport's timeout counts from the moment a request has its socket: a request queued behind
// busy pooled connections is not timed out, one that got its socket and hears nothing is. A tiny
// local server that never answers stands in for a hung registry (the real one always answers).
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { HttpTransport } from '../../lib/registry/http-client.js'
import { registryErrorFromNetwork } from '../../lib/registry/registry-error.js'
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js'

describe('HttpTransport: the timeout starts at the socket', () => {
  let server: http.Server
  let origin: string
  /** Requests to /slow are answered after this many ms, /hang never. */
  const SLOW_MS = 600
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('ok'), SLOW_MS)
      // /hang: never answered
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('three requests on one socket, each answered within its timeout, all succeed although the last waits ~2 timeouts in the queue', async () => {
    const transport = new HttpTransport({ userAgent: 't', maxSockets: 1, proxy: false })
    const sockets: number[] = []
    const started = Date.now()
    try {
      const answers = await Promise.all(
        [0, 1, 2].map((i) => transport.send({ method: 'GET', url: `${origin}/slow`, headers: {}, timeoutMs: SLOW_MS + 400, verifyTls: true, onSocket: () => void sockets.push(i) })),
      )
      assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200])
      assert.deepEqual(sockets, [0, 1, 2], 'each request told once, in queue order')
      assert.ok(Date.now() - started >= 3 * SLOW_MS - 50, 'the requests really were serialised')
    } finally {
      transport.close()
    }
  })

  it('a request that has its socket and hears nothing times out as "did not answer in time"', async () => {
    const transport = new HttpTransport({ userAgent: 't', maxSockets: 1, proxy: false })
    let told = 0
    try {
      const error = await transport.send({ method: 'GET', url: `${origin}/hang`, headers: {}, timeoutMs: 200, verifyTls: true, onSocket: () => void told++ }).then(
        () => assert.fail('answered'),
        (failure: unknown) => failure,
      )
      assert.equal(told, 1)
      const mapped = registryErrorFromNetwork(error, { action: 'check', url: `${origin}/hang` })
      assert.match(mapped.message, /did not answer in time/)
      assert.equal(mapped.retryable, true)
    } finally {
      transport.close()
    }
  })

  it("the caller's own abort is not reported as a timeout", async () => {
    const transport = new HttpTransport({ userAgent: 't', maxSockets: 1, proxy: false })
    const controller = new AbortController()
    try {
      const pending = transport.send({ method: 'GET', url: `${origin}/hang`, headers: {}, timeoutMs: 60_000, verifyTls: true, signal: controller.signal, onSocket: () => controller.abort() })
      await assert.rejects(pending, (error: unknown) => {
        assert.doesNotMatch(String((error as Error).message), /timeout/)
        return true
      })
    } finally {
      transport.close()
    }
  })

  describe('through a forward proxy', () => {
    let proxy: ForwardProxy
    before(async () => {
      proxy = await startForwardProxy()
    })
    after(async () => {
      await proxy.stop()
    })
    it('the socket is reported and the timeout applies there too', async () => {
      const transport = new HttpTransport({ userAgent: 't', maxSockets: 1, proxy: proxy.url })
      let told = 0
      try {
        const ok = await transport.send({ method: 'GET', url: `${origin}/slow`, headers: {}, timeoutMs: SLOW_MS + 400, verifyTls: true, onSocket: () => void told++ })
        assert.equal(ok.status, 200)
        await assert.rejects(transport.send({ method: 'GET', url: `${origin}/hang`, headers: {}, timeoutMs: 200, verifyTls: true, onSocket: () => void told++ }), { code: 'ETIMEDOUT' })
        assert.equal(told, 2)
        assert.ok(proxy.requests.length >= 2, 'both went through the proxy')
      } finally {
        transport.close()
      }
    })
  })
})
