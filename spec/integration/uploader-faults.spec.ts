// Faults the real registry cannot show on its own:
// - a loopback TCP proxy in front of docker-registry that cuts the connection in the middle of a
//   PATCH body, once: the upload restarts from POST with a fresh stream and still lands byte-exact;
// - a tiny fake registry answering 5xx/429/4xx, stalling, or sending credentials-bait Locations, to
//   pin down retry limits, error mapping, the progress watchdog, the auth restart and where
//   credentials may go.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { RegistryError } from '../../lib/errors.js'
import type { Descriptor } from '../../lib/model/types.js'
import { TargetedUploader } from '../support/targeted-uploader.js'
import type { RegistryTarget } from '../../lib/registry/uploader.js'
import { makeSelfSignedCertificate, type CertificateFiles } from '../support/certs.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { startCuttingProxy } from '../support/cutting-proxy.js'

const MiB = 1024 * 1024
const OLLAMA_MODEL = 'application/vnd.ollama.image.model'

interface Blob {
  descriptor: Descriptor
  data: Buffer
}

function randomBlob(size: number): Blob {
  const data = randomBytes(size)
  return { data, descriptor: { mediaType: OLLAMA_MODEL, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size } }
}

function streamOf(data: Buffer, piece = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += piece) yield data.subarray(offset, offset + piece)
    })(),
    { objectMode: false },
  )
}

/** Records every onBytes delta and opened stream. */
function tracker() {
  const deltas: number[] = []
  const streams: Readable[] = []
  return {
    deltas,
    streams,
    sum: () => deltas.reduce((a, b) => a + b, 0),
    onBytes: (bytes: number) => void deltas.push(bytes),
    opener: (data: Buffer) => async (start: number) => {
      assert.equal(start, 0)
      const stream = streamOf(data)
      streams.push(stream)
      return stream
    },
  }
}

describe('a connection cut in the middle of a PATCH (proxy in front of docker-registry)', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'basic' })
  })
  after(() => registry.stop())

  it('restarts the blob from POST with a fresh stream, takes the progress back, and lands byte-exact', async () => {
    const [host, port] = registry.host.split(':') as [string, string]
    const proxy = await startCuttingProxy({ host, port: Number(port) }, MiB)
    const warnings: string[] = []
    const uploader = new TargetedUploader({ retryDelayMs: 1, logger: { warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields)}`) } })
    try {
      const target: RegistryTarget = { host: proxy.host, repository: 'faults/cut', insecure: true, credentials: registry.users.pusher }
      const blob = randomBlob(4 * MiB + 11)
      const progress = tracker()
      await uploader.prepare(target)
      await uploader.uploadBlob(target, blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes })
      await uploader.release(target)

      assert.equal(proxy.cuts, 1)
      assert.equal(progress.streams.length, 2, 'a second open(0) after the cut')
      assert.ok(progress.streams.every((stream) => stream.destroyed), 'both streams are closed')
      const negative = progress.deltas.filter((delta) => delta < 0)
      assert.equal(negative.length, 1, 'one negative delta takes back the lost attempt')
      assert.ok(-negative[0]! >= MiB / 2, 'it takes back what the first attempt reported')
      assert.equal(progress.sum(), blob.descriptor.size, 'the deltas end at the blob size')
      assert.equal(await registry.blobDigest('faults/cut', blob.descriptor.digest), blob.descriptor.digest)
      assert.equal(warnings.length, 1)
      assert.match(warnings[0]!, /restarting from the beginning/)
      assert.doesNotMatch(warnings.join('\n'), /_state|pusher:|Basic |Authorization/i)
    } finally {
      uploader.close()
      await proxy.close()
    }
  })
})

// --- a fake registry ------------------------------------------------------------------------------

type Handler = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void

interface FakeRegistry {
  host: string
  port: number
  /** PEM of its certificate when https. */
  ca: string | undefined
  /** `METHOD path` of every request, in order. */
  log: string[]
  /** Authorization header of every request, in order (undefined when absent). */
  authorizations: Array<string | undefined>
  handle: Handler
  close(): Promise<void>
}

/** A fake whose behaviour is `handle`, defaulting to a working registry; https when given a certificate. */
async function startFakeRegistry(tls?: CertificateFiles): Promise<FakeRegistry> {
  let sessions = 0
  const working: Handler = (request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake')
    if (request.method === 'HEAD') return void response.writeHead(404).end()
    if (request.method === 'POST') return void response.writeHead(202, { Location: `/v2/fake/m/blobs/uploads/s${++sessions}?_state=secret-state-${sessions}` }).end()
    if (request.method === 'PATCH') return void response.writeHead(202, { Location: `${url.pathname}?_state=patched`, Range: `0-${Number(request.headers['content-length']) - 1}` }).end()
    if (request.method === 'PUT') return void response.writeHead(201, { 'Docker-Content-Digest': url.searchParams.get('digest') ?? '' }).end()
    if (request.method === 'DELETE') return void response.writeHead(204).end()
    response.writeHead(404).end()
  }
  const fake: FakeRegistry = {
    host: '',
    port: 0,
    ca: tls?.cert,
    log: [] as string[],
    authorizations: [] as Array<string | undefined>,
    handle: working,
    close: async () => undefined,
  }
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    fake.log.push(`${request.method} ${new URL(request.url ?? '/', 'http://fake').pathname}`)
    fake.authorizations.push(request.headers.authorization)
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => fake.handle(request, response, Buffer.concat(chunks)))
    request.on('error', () => undefined)
  }
  const server = tls === undefined ? http.createServer(listener) : https.createServer({ key: tls.key, cert: tls.cert }, listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.port = (server.address() as AddressInfo).port
  fake.host = `127.0.0.1:${fake.port}`
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  Object.defineProperty(fake, 'working', { value: working })
  return fake
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  return port
}

const working = (fake: FakeRegistry): Handler => (fake as unknown as { working: Handler }).working
const errorBody = (code: string, message: string) => JSON.stringify({ errors: [{ code, message, detail: {} }] })

describe('retry limits and error mapping (fake registry)', () => {
  let fake: FakeRegistry
  before(async () => {
    fake = await startFakeRegistry()
  })
  after(() => fake.close())

  const targetOf = (): RegistryTarget => ({ host: fake.host, repository: 'fake/m', insecure: true })
  const reset = (handle: Handler) => {
    fake.log.length = 0
    fake.authorizations.length = 0
    fake.handle = handle
  }

  it('a POST answering 503 is tried 1 + retries times, then fails retryable with the registry status', async () => {
    reset((_req, res) => void res.writeHead(503, { 'Content-Type': 'application/json' }).end(errorBody('UNAVAILABLE', 'try later')))
    const uploader = new TargetedUploader({ retries: 2, retryDelayMs: 1 })
    try {
      const blob = randomBlob(1000)
      const progress = tracker()
      const error = await uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data)).then(() => assert.fail('should fail'), (caught: unknown) => caught)
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'REGISTRY_FAILED')
      assert.equal(error.status, 502)
      assert.equal(error.registryStatus, 503)
      assert.deepEqual(error.registryCodes, ['UNAVAILABLE'])
      assert.equal(error.retryable, true)
      assert.equal(fake.log.filter((line) => line.startsWith('POST')).length, 3)
      assert.equal(progress.streams.length, 0, 'nothing was opened without a session')
    } finally {
      uploader.close()
    }
  })

  it('a PATCH answering 500 restarts the blob from POST each time, up to the limit', async () => {
    reset((req, res, body) => {
      if (req.method === 'PATCH') return void res.writeHead(500).end('internal error')
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 3, retryDelayMs: 1 })
    try {
      const blob = randomBlob(300_000)
      const progress = tracker()
      await assert.rejects(uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes }), {
        code: 'REGISTRY_FAILED',
        registryStatus: 500,
      })
      assert.equal(fake.log.filter((line) => line.startsWith('POST')).length, 4)
      assert.equal(fake.log.filter((line) => line.startsWith('PATCH')).length, 4)
      assert.equal(progress.streams.length, 4, 'a fresh open(0) per attempt')
      assert.ok(progress.streams.every((stream) => stream.destroyed))
      assert.equal(progress.deltas.filter((delta) => delta < 0).length, 3, 'each restart takes its bytes back')
    } finally {
      uploader.close()
    }
  })

  it('one 503 on the commit then success: only the commit PUT is tried again, nothing re-uploaded', async () => {
    let failed = false
    reset((req, res, body) => {
      if (req.method === 'PUT' && !failed) {
        failed = true
        return void res.writeHead(503, { 'Retry-After': '0' }).end()
      }
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 1, retryDelayMs: 1 })
    try {
      const blob = randomBlob(70_000)
      const progress = tracker()
      await uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes })
      assert.deepEqual(fake.log.map((line) => line.split(' ')[0]).filter((method) => method !== 'DELETE'), ['POST', 'PATCH', 'PUT', 'PUT'])
      assert.equal(progress.sum(), blob.descriptor.size)
    } finally {
      uploader.close()
    }
  })

  it('a mount answered 503 is tried again (a cheap POST), not given up for a full upload', async () => {
    const mounts: number[] = []
    reset((req, res, body) => {
      if (req.method === 'POST' && new URL(req.url ?? '/', 'http://fake').searchParams.has('mount')) {
        mounts.push(mounts.length === 0 ? 503 : 201)
        return void res.writeHead(mounts.at(-1)!, mounts.length === 1 ? { 'Retry-After': '0' } : {}).end()
      }
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 2, retryDelayMs: 1 })
    try {
      const blob = randomBlob(70_000)
      const progress = tracker()
      await uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes, mountFrom: ['fake/base'] })
      assert.deepEqual(mounts, [503, 201], 'the mount was asked twice and granted')
      assert.equal(fake.log.filter((line) => line.startsWith('PATCH')).length, 0, 'no byte uploaded')
      assert.equal(progress.streams.length, 0, 'the blob was never opened')
      assert.equal(progress.sum(), blob.descriptor.size, 'progress says done')
    } finally {
      uploader.close()
    }
  })

  it('retries: 0 means exactly one attempt; 429 is retryable', async () => {
    reset((_req, res) => void res.writeHead(429).end())
    const uploader = new TargetedUploader({ retries: 0 })
    try {
      await assert.rejects(uploader.hasBlob(targetOf(), randomBlob(1).descriptor), { code: 'REGISTRY_FAILED', registryStatus: 429, retryable: true })
      assert.equal(fake.log.length, 1)
    } finally {
      uploader.close()
    }
  })

  it('HEAD answering 500 fails hasBlob after its retries', async () => {
    reset((_req, res) => void res.writeHead(500).end())
    const uploader = new TargetedUploader({ retries: 2, retryDelayMs: 1 })
    try {
      await assert.rejects(uploader.hasBlob(targetOf(), randomBlob(1).descriptor), { code: 'REGISTRY_FAILED', status: 502, registryStatus: 500 })
      assert.equal(fake.log.length, 3)
    } finally {
      uploader.close()
    }
  })

  it('NAME_INVALID on the manifest → status 400, DENIED → 403; neither is retried', async () => {
    const uploader = new TargetedUploader({ retries: 3, retryDelayMs: 1 })
    try {
      reset((_req, res) => void res.writeHead(400, { 'Content-Type': 'application/json' }).end(errorBody('NAME_INVALID', 'invalid repository name')))
      await assert.rejects(uploader.putManifest(targetOf(), 'latest', { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', bytes: Buffer.from('{}') }), {
        code: 'REGISTRY_FAILED',
        status: 400,
        registryCodes: ['NAME_INVALID'],
      })
      assert.equal(fake.log.length, 1)
      reset((_req, res) => void res.writeHead(403, { 'Content-Type': 'application/json' }).end(errorBody('DENIED', 'requested access to the resource is denied')))
      await assert.rejects(uploader.prepare(targetOf()), { code: 'REGISTRY_DENIED', status: 403 })
      assert.equal(fake.log.length, 1)
    } finally {
      uploader.close()
    }
  })

  it('a registry that takes the body and never answers is given up on by the progress watchdog', async () => {
    reset((req, res, body) => {
      if (req.method === 'PATCH') return // never answer
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 0, timeoutMs: 300 })
    try {
      const blob = randomBlob(200_000)
      const started = Date.now()
      await assert.rejects(uploader.uploadBlob(targetOf(), blob.descriptor, async () => streamOf(blob.data)), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNREACHABLE')
        assert.equal(error.retryable, true)
        assert.match(error.message, /stopped responding/)
        return true
      })
      assert.ok(Date.now() - started < 5_000)
    } finally {
      uploader.close()
    }
  })

  it('a closed port → REGISTRY_UNREACHABLE "connection refused"', async () => {
    const port = await closedPort()
    const uploader = new TargetedUploader({ retries: 1, retryDelayMs: 1 })
    try {
      await assert.rejects(uploader.prepare({ host: `127.0.0.1:${port}`, repository: 'x/y', insecure: true }), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNREACHABLE')
        assert.equal(error.status, 502)
        assert.match(error.message, /connection refused/)
        return true
      })
    } finally {
      uploader.close()
    }
  })

  it('a commit that uses up its own retries fails the blob: no restart, nothing re-uploaded', async () => {
    reset((req, res, body) => {
      if (req.method === 'PUT') return void res.writeHead(503, { 'Retry-After': '0' }).end()
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 2, retryDelayMs: 1 })
    try {
      const blob = randomBlob(70_000)
      const progress = tracker()
      await assert.rejects(uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes }), { code: 'REGISTRY_FAILED', registryStatus: 503 })
      const methods = fake.log.map((line) => line.split(' ')[0]).filter((method) => method !== 'DELETE')
      assert.deepEqual(methods, ['POST', 'PATCH', 'PUT', 'PUT', 'PUT'], 'one budget for the commit, not one per restart')
      assert.equal(progress.streams.length, 1, 'the blob was streamed once')
    } finally {
      uploader.close()
    }
  })

  it('a commit the registry answers with a lost session (BLOB_UPLOAD_UNKNOWN) restarts the blob from POST at once', async () => {
    let lost: string | undefined // the first session: the registry "forgets" it before the commit
    reset((req, res, body) => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname
      if (req.method === 'PUT' && (lost ??= path) === path) {
        return void res.writeHead(404, { 'Content-Type': 'application/json' }).end(errorBody('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry'))
      }
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 3, retryDelayMs: 1 })
    try {
      const blob = randomBlob(70_000)
      const progress = tracker()
      await uploader.uploadBlob(targetOf(), blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes })
      const steps = fake.log.filter((line) => !line.startsWith('DELETE'))
      assert.deepEqual(steps.map((line) => line.split(' ')[0]), ['POST', 'PATCH', 'PUT', 'POST', 'PATCH', 'PUT'], 'the lost session is not committed again')
      assert.equal(steps[2], `PUT ${lost}`)
      assert.notEqual(steps[5], `PUT ${lost}`, 'the restart committed a new session')
      assert.equal(progress.sum(), blob.descriptor.size)
    } finally {
      uploader.close()
    }
  })

  it("close() waits for the DELETE of a session a restart abandoned, so a finished push leaves none open", async () => {
    let patches = 0
    let releaseDelete: (() => void) | undefined
    const deleteArrived = new Promise<void>((arrived) => {
      reset((req, res, body) => {
        if (req.method === 'PATCH' && ++patches === 1) return void res.writeHead(500).end()
        if (req.method === 'DELETE') {
          releaseDelete = () => void res.writeHead(204).end()
          return arrived()
        }
        working(fake)(req, res, body)
      })
    })
    const uploader = new TargetedUploader({ retries: 1, retryDelayMs: 1 })
    try {
      const push = await uploader.open(targetOf())
      const blob = randomBlob(70_000)
      await push.uploadBlob(blob.descriptor, tracker().opener(blob.data))
      let closed = false
      const closing = push.close().then(() => void (closed = true))
      await deleteArrived
      assert.equal(closed, false, 'close() has not resolved while the DELETE is unanswered')
      releaseDelete!()
      await closing
      const methods = fake.log.map((line) => line.split(' ')[0])
      assert.deepEqual(methods.filter((method) => method !== 'DELETE'), ['POST', 'PATCH', 'POST', 'PATCH', 'PUT'])
      assert.equal(methods.filter((method) => method === 'DELETE').length, 1, 'the abandoned session, once')
    } finally {
      uploader.close()
    }
  })

  it('a refused connection is given up after 3 retries, however many `retries` allows', async () => {
    const port = await closedPort()
    const attempts: unknown[] = []
    const uploader = new TargetedUploader({ retries: 10, retryDelayMs: 1, logger: { debug: (message, fields) => void (message === 'registry request' && attempts.push(fields)) } })
    try {
      await assert.rejects(uploader.prepare({ host: `127.0.0.1:${port}`, repository: 'x/y', insecure: true }), { code: 'REGISTRY_UNREACHABLE' })
      assert.equal(attempts.length, 4, JSON.stringify(attempts))
    } finally {
      uploader.close()
    }
  })
})

describe('auth around streamed bodies, and where credentials go (fake registry)', () => {
  let fake: FakeRegistry
  let elsewhere: FakeRegistry
  before(async () => {
    fake = await startFakeRegistry()
    elsewhere = await startFakeRegistry()
  })
  after(async () => {
    await fake.close()
    await elsewhere.close()
  })
  const credentials = { username: 'alice', password: `pw-${randomBytes(6).toString('hex')}` }
  const basic = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
  const requireBasic = (next: Handler): Handler => (req, res, body) => {
    if (req.headers.authorization !== basic) return void res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end()
    next(req, res, body)
  }

  it('an unexpected 401 on the PATCH restarts the blob from POST with a fresh stream', async () => {
    let patches = 0
    fake.log.length = 0
    fake.handle = requireBasic((req, res, body) => {
      if (req.method === 'PATCH' && ++patches === 1) return void res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"' }).end()
      working(fake)(req, res, body)
    })
    const uploader = new TargetedUploader({ retries: 0 })
    try {
      const blob = randomBlob(500_000)
      const progress = tracker()
      await uploader.uploadBlob({ host: fake.host, repository: 'fake/m', insecure: true, credentials }, blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes })
      assert.equal(progress.streams.length, 2)
      assert.equal(progress.sum(), blob.descriptor.size)
      assert.equal(patches, 2)
    } finally {
      uploader.close()
    }
  })

  it('a token refused mid-PATCH (expired, revoked) is dropped; the restart fetches a new one; Basic goes only to the realm', async () => {
    let tokens = 0
    const realmAuthorizations: Array<string | undefined> = []
    elsewhere.handle = (req, res) => {
      realmAuthorizations.push(req.headers.authorization)
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${++tokens}`, expires_in: 300 }))
    }
    const challenge = `Bearer realm="http://${elsewhere.host}/token",service="fake",scope="repository:fake/m:pull,push"`
    let patches = 0
    fake.log.length = 0
    fake.authorizations.length = 0
    fake.handle = (req, res, body) => {
      const valid = req.headers.authorization === `Bearer tok-${tokens}` && tokens > 0
      // The first PATCH meets a registry that no longer accepts token 1.
      if (!valid || (req.method === 'PATCH' && ++patches === 1)) return void res.writeHead(401, { 'WWW-Authenticate': challenge }).end()
      working(fake)(req, res, body)
    }
    const uploader = new TargetedUploader({ retries: 0 })
    try {
      const blob = randomBlob(400_000)
      const progress = tracker()
      await uploader.uploadBlob({ host: fake.host, repository: 'fake/m', insecure: true, credentials }, blob.descriptor, progress.opener(blob.data), { onBytes: progress.onBytes })
      assert.equal(tokens, 2, 'the refused token was dropped and a new one fetched')
      assert.equal(progress.streams.length, 2)
      assert.equal(progress.sum(), blob.descriptor.size)
      assert.deepEqual(realmAuthorizations, [basic, basic], 'the realm gets Basic credentials')
      assert.ok(fake.authorizations.every((value) => value === undefined || value.startsWith('Bearer ')), 'the registry never gets the Basic credentials')
      const requestedScopes = elsewhere.log.map((line) => line)
      assert.equal(requestedScopes.length, 2)
    } finally {
      uploader.close()
      elsewhere.handle = working(elsewhere)
      elsewhere.log.length = 0
    }
  })

  it('never sends the registry credentials to an upload location or a redirect on another host', async () => {
    fake.log.length = 0
    elsewhere.log.length = 0
    elsewhere.authorizations.length = 0
    fake.handle = requireBasic((req, res, body) => {
      if (req.method === 'POST') return void res.writeHead(202, { Location: `http://${elsewhere.host}/v2/fake/m/blobs/uploads/far?_state=x` }).end()
      if (req.method === 'HEAD') return void res.writeHead(307, { Location: `http://${elsewhere.host}/blobs/some-blob` }).end()
      working(fake)(req, res, body)
    })
    elsewhere.handle = (req, res, body) => {
      if (req.method === 'HEAD') return void res.writeHead(200, { 'Content-Length': '3' }).end()
      working(elsewhere)(req, res, body)
    }
    const uploader = new TargetedUploader({ retries: 0 })
    try {
      const target: RegistryTarget = { host: fake.host, repository: 'fake/m', insecure: true, credentials }
      const blob = randomBlob(3)
      await uploader.prepare(target)
      assert.equal(await uploader.hasBlob(target, blob.descriptor), true, 'the redirect was followed')
      await uploader.uploadBlob(target, blob.descriptor, async () => streamOf(blob.data))
      await uploader.release(target)
      assert.deepEqual(elsewhere.log.map((line) => line.split(' ')[0]), ['HEAD', 'PATCH', 'PUT'])
      assert.deepEqual(elsewhere.authorizations, [undefined, undefined, undefined], 'no Authorization crossed to the other host')
      assert.ok(fake.authorizations.includes(basic), 'the registry itself did get the credentials')
    } finally {
      uploader.close()
    }
  })

  it('a 401 from an upload Location or a redirect on another host fails that request: no credentials go there, nothing is learnt', async () => {
    fake.log.length = 0
    fake.authorizations.length = 0
    elsewhere.log.length = 0
    elsewhere.authorizations.length = 0
    const foreign = `Bearer realm="http://${elsewhere.host}/token",service="evil"`
    fake.handle = requireBasic((req, res, body) => {
      if (req.method === 'POST') return void res.writeHead(202, { Location: `http://${elsewhere.host}/v2/fake/m/blobs/uploads/far?_state=x` }).end()
      if (req.method === 'HEAD') return void res.writeHead(307, { Location: `http://${elsewhere.host}/blobs/some-blob` }).end()
      working(fake)(req, res, body)
    })
    elsewhere.handle = (_req, res) => void res.writeHead(401, { 'WWW-Authenticate': foreign }).end()
    const uploader = new TargetedUploader({ retries: 0 })
    const target: RegistryTarget = { host: fake.host, repository: 'fake/m', insecure: true, credentials }
    const blob = randomBlob(1000)
    const foreignRefusal = (error: unknown) => {
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
      assert.match(error.message, /not the registry/)
      assert.ok(!error.message.includes(credentials.password))
      return true
    }
    try {
      await uploader.prepare(target)
      await assert.rejects(uploader.hasBlob(target, blob.descriptor), foreignRefusal)
      await assert.rejects(uploader.uploadBlob(target, blob.descriptor, async () => streamOf(blob.data)), foreignRefusal)
      await uploader.release(target)
      // (plus, maybe, the best-effort DELETE of the abandoned session, also without credentials)
      const methods = () => elsewhere.log.map((line) => line.split(' ')[0]).filter((method) => method !== 'DELETE')
      assert.deepEqual(methods(), ['HEAD', 'PATCH'], 'one request each, no retry with credentials, no token request')
      assert.ok(elsewhere.authorizations.every((value) => value === undefined))

      // The registry's own challenge (Basic) is still the one in use: nothing was learnt from elsewhere.
      fake.handle = requireBasic(working(fake))
      fake.authorizations.length = 0
      await uploader.uploadBlob(target, blob.descriptor, async () => streamOf(blob.data))
      assert.ok(fake.authorizations.filter((value) => value !== undefined).every((value) => value === basic))
      assert.deepEqual(methods(), ['HEAD', 'PATCH'])
    } finally {
      uploader.close()
      elsewhere.handle = working(elsewhere)
    }
  })

  it('refuses a plain-http upload location from a registry that is not insecure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emp-faults-'))
    const tlsFake = await startFakeRegistry(await makeSelfSignedCertificate(dir, { name: 'fake', commonName: '127.0.0.1', altNames: ['IP:127.0.0.1'] }))
    tlsFake.handle = (req, res, body) => {
      if (req.method === 'POST') return void res.writeHead(202, { Location: `http://${tlsFake.host}/v2/fake/m/blobs/uploads/downgrade?_state=x` }).end()
      working(tlsFake)(req, res, body)
    }
    const uploader = new TargetedUploader({ retries: 0, ca: tlsFake.ca! })
    try {
      const target: RegistryTarget = { host: tlsFake.host, repository: 'fake/m', insecure: false, credentials }
      await assert.rejects(uploader.prepare(target), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_FAILED')
        assert.match(error.message, /plain-http URL/)
        return true
      })
      assert.deepEqual(tlsFake.log, ['POST /v2/fake/m/blobs/uploads/'], 'nothing was sent to the http URL')
      // The same registry marked insecure may send us to http (Docker's behaviour).
      await uploader.prepare({ ...target, insecure: true })
    } finally {
      uploader.close()
      await tlsFake.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
