// The policy options end to end: a refused push connects nowhere (a listening socket counts the
// connections), and the host's registry password never crosses plain http unless the host app
// listed that registry in allowInsecure (a tap in front of the real htpasswd registry records the bytes).
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { createModelRouter, createPushRouter, FilesystemStorage, type PushRouterOptions } from '../../lib/index.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { startTcpTap, type TcpTap } from '../support/tcp-tap.js'

interface App {
  url: string
  logs: string[]
  close(): Promise<void>
}

async function startApp(options: PushRouterOptions, router: typeof createPushRouter = createPushRouter): Promise<App> {
  const logs: string[] = []
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  const app = express()
  app.use(router({ logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }, ...options }))
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logs,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

async function push(url: string, body: unknown): Promise<{ status: number; lines: any[] }> {
  const response = await fetch(`${url}/api/push`, { method: 'POST', body: JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }
}

const tiny = (host: string) => ({ name: `${host}/team/tiny:latest`, layers: [{ mediaType: 'application/vnd.ollama.image.model', size: 4096 }] })

describe('allowedRegistries and allowInsecure refuse before any connection', () => {
  let sink: TcpTap
  let store: OllamaStore
  before(async () => {
    sink = await startTcpTap()
    store = await makeOllamaStore([tiny(sink.host)])
  })
  after(async () => {
    await sink?.close()
    await store?.remove()
  })

  for (const [label, router] of [['createPushRouter', createPushRouter], ['createModelRouter', createModelRouter]] as const) {
    it(`${label}: a host outside allowedRegistries answers 403 naming it; nothing reaches its socket`, async () => {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), allowedRegistries: ['registry.example.com', '*.example.com'] }, router)
      try {
        const result = await push(app.url, { model: `${sink.host}/team/tiny:latest`, insecure: true })
        assert.equal(result.status, 403)
        assert.match(result.lines[0].error, new RegExp(`"${sink.host}" is not allowed`))
        assert.equal(sink.connections, 0)
      } finally {
        await app.close()
      }
    })
  }

  it('a predicate refusing the host: 403, no connection, credentials callback never asked', async () => {
    const asked: string[] = []
    const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), allowedRegistries: (host) => host.startsWith('registry.'), credentials: (host) => { asked.push(host); return undefined } })
    try {
      assert.equal((await push(app.url, { model: `${sink.host}/team/tiny:latest` })).status, 403)
      assert.deepEqual(asked, [])
      assert.equal(sink.connections, 0)
    } finally {
      await app.close()
    }
  })

  it('allowInsecure: false answers insecure: true with 403; an array refuses unlisted hosts', async () => {
    for (const allowInsecure of [false, ['dev.example.com:5000']]) {
      const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), allowInsecure })
      try {
        const result = await push(app.url, { model: `${sink.host}/team/tiny:latest`, insecure: true })
        assert.equal(result.status, 403, JSON.stringify(allowInsecure))
        assert.match(result.lines[0].error, /insecure pushes/)
        assert.equal(sink.connections, 0)
      } finally {
        await app.close()
      }
    }
  })

  it('an allowed host is contacted (the sink counts the attempt), so the checks above can fail', async () => {
    const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), allowedRegistries: [sink.host], allowInsecure: [sink.host] })
    try {
      const result = await push(app.url, { model: `${sink.host}/team/tiny:latest`, insecure: true })
      assert.equal(result.status, 502, JSON.stringify(result.lines))
      assert.ok(sink.connections > 0)
    } finally {
      await app.close()
    }
  })
})

describe('host credentials never cross plain http unless the host is listed in allowInsecure', () => {
  let registry: StartedRegistry
  let tap: TcpTap
  let store: OllamaStore
  before(async () => {
    registry = await startRegistry({ auth: 'basic' })
    tap = await startTcpTap(Number(registry.host.split(':')[1]))
    store = await makeOllamaStore([tiny(tap.host)])
  })
  after(async () => {
    await tap?.close()
    await registry?.stop()
    await store?.remove()
  })

  const secretForms = () => {
    const { username, password } = registry.users.pusher
    return [password, Buffer.from(`${username}:${password}`).toString('base64')]
  }

  it('default policy: the insecure push goes without them (401 from the registry), and no byte carries the password', async () => {
    const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), credentials: () => registry.users.pusher })
    try {
      const result = await push(app.url, { model: `${tap.host}/team/tiny:latest`, insecure: true })
      assert.equal(result.status, 401, JSON.stringify(result.lines))
      assert.ok(tap.connections > 0, 'the registry was contacted')
      const wire = tap.received()
      assert.match(wire, /POST \/v2\/team\/tiny\/blobs\/uploads\//, 'the plain-http request reached the registry')
      assert.doesNotMatch(wire, /authorization:/i)
      for (const secret of secretForms()) assert.ok(!wire.includes(secret))
      assert.ok(app.logs.some((line) => line.includes('credentials withheld')), app.logs.join('\n'))
    } finally {
      await app.close()
    }
  })

  it('listed in allowInsecure: the host app consented, the push authenticates and succeeds', async () => {
    const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), credentials: () => registry.users.pusher, allowInsecure: [tap.host] })
    try {
      const result = await push(app.url, { model: `${tap.host}/team/tiny:latest`, insecure: true })
      assert.equal(result.status, 200, JSON.stringify(result.lines))
      assert.deepEqual(result.lines.at(-1), { status: 'success' })
      assert.ok(tap.received().includes(secretForms()[1]!), 'the tap does see Authorization when it is sent')
      assert.equal((await registry.getManifest('team/tiny', 'latest')).status, 200)
    } finally {
      await app.close()
    }
  })
})
