// applyServerTimeouts: 200 slowloris connections (headers never finished) and slow-body clients are
// shed, while a normal push to the real registry and a blob upload that keeps sending past the
// header deadline go on. Short timeouts here; the defaults are in lib/http/server-timeouts.ts.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createHash } from 'node:crypto'
import express from 'express'
import { createModelRouter, FilesystemStorage } from '../../lib/index.js'
import { applyServerTimeouts } from '../../lib/http/server-timeouts.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const HEADERS_TIMEOUT_MS = 400
const BODY_IDLE_MS = 1_500

function openSlowloris(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      // A request line and one header, then nothing: the header section never ends.
      socket.write('POST /api/push HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      resolve({ socket, closed: new Promise((done) => socket.once('close', () => done(Date.now()))) })
    })
    socket.on('error', () => {})
  })
}

describe('applyServerTimeouts', () => {
  let registry: StartedRegistry
  let store: OllamaStore
  let server: Server
  let port: number
  const name = () => `${registry.host}/team/steady:latest`
  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    store = await makeOllamaStore([{ name: name(), modelSize: 4 * 1024 * 1024 }])
    const app = express()
    app.use(createModelRouter({ storage: new FilesystemStorage({ root: store.root }) }))
    // A short check interval so the test does not wait Node's default 30 s between sweeps.
    server = applyServerTimeouts(createServer({ connectionsCheckingInterval: 100 }, app), { headersTimeoutMs: HEADERS_TIMEOUT_MS, bodyIdleTimeoutMs: BODY_IDLE_MS })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await registry?.stop()
    await store?.remove()
  })

  it('sheds 200 slowloris connections within 60 s while a push and a steadily sending upload go on', { timeout: 60_000 }, async () => {
    const started = Date.now()
    const attackers = await Promise.all(Array.from({ length: 200 }, () => openSlowloris(port)))
    // A blob upload whose body keeps coming for longer than the header deadline (the requestTimeout
    // Node would apply by default must not cut it), in small chunks well inside the idle timeout.
    const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024, i))
    const digest = `sha256:${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = chunks[sent++]
        if (chunk === undefined) return controller.close()
        // Paced by the attackers being shed: the upload outlives the header deadline by construction.
        if (sent === 4) await Promise.all(attackers.slice(0, 50).map((a) => a.closed))
        controller.enqueue(chunk)
      },
    })
    const upload = fetch(`http://127.0.0.1:${port}/api/blobs/${digest}`, { method: 'POST', body, duplex: 'half' } as RequestInit).catch((error: Error) => { throw new Error(`upload: ${String(error.cause)}`) })
    const push = fetch(`http://127.0.0.1:${port}/api/push`, { method: 'POST', body: JSON.stringify({ model: name(), insecure: true, stream: false }) }).catch((error: Error) => { throw new Error(`push: ${String(error.cause)}`) })
    const closedAt = await Promise.all(attackers.map((a) => a.closed))
    const shedMs = Math.max(...closedAt) - started
    const pushed = await push
    assert.equal(pushed.status, 200, await pushed.clone().text())
    assert.deepEqual(await pushed.json(), { status: 'success' })
    assert.equal((await upload).status, 201)
    assert.equal((await registry.getManifest('team/steady', 'latest')).status, 200)
    assert.ok(shedMs < 60_000, `200 slowloris connections shed in ${shedMs} ms`)
    process.stdout.write(`# slowloris: 200 connections shed in ${shedMs} ms (headersTimeout ${HEADERS_TIMEOUT_MS} ms)\n`)
  })

  it('a request whose body stops arriving is cut after the idle timeout', { timeout: 30_000 }, async () => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    const closed = new Promise<string>((resolve) => {
      let answer = ''
      socket.on('data', (chunk) => (answer += chunk.toString()))
      socket.once('close', () => resolve(answer))
    })
    socket.write(`POST /api/blobs/sha256:${'0'.repeat(64)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`)
    socket.write(Buffer.alloc(1000))
    assert.equal(await closed, '', 'closed without an answer')
  })

  it('a malformed request still gets Node\'s 400 and is closed', { timeout: 30_000 }, async () => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk) => (answer += chunk.toString()))
    socket.write('NOT HTTP AT ALL\r\n\r\n')
    await new Promise((resolve) => socket.once('close', resolve))
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/)
  })

  it('defaults: no whole-request deadline, header and keep-alive limits set', () => {
    const plain = applyServerTimeouts(createServer())
    assert.equal(plain.requestTimeout, 0)
    assert.equal(plain.headersTimeout, 20_000)
    assert.equal(plain.keepAliveTimeout, 5_000)
    assert.throws(() => applyServerTimeouts(createServer(), { headersTimeoutMs: 0 }), /headersTimeoutMs/)
  })
})
