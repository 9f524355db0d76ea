// OciRegistryUploader against Debian's real docker-registry (distribution 2.8) in every mode: no
// auth, htpasswd Basic, token auth with our issuer, TLS with a self-signed certificate. What is
// checked: who is refused where (prepare, before any byte of a response), token caching, the
// insecure/TLS rules, prepare/release of the first upload session, and that no credential, token,
// Authorization value or `_state` reaches a message or a logger.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { inspect } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { RegistryError } from '../../lib/errors.js'
import type { Descriptor, Logger } from '../../lib/model/types.js'
import type { OciRegistryUploaderOptions } from '../../lib/registry/oci-uploader.js'
import { TargetedUploader } from '../support/targeted-uploader.js'
import type { RegistryTarget } from '../../lib/registry/uploader.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const MiB = 1024 * 1024
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
const OLLAMA_MODEL = 'application/vnd.ollama.image.model'

interface Blob {
  descriptor: Descriptor
  data: Buffer
}

function randomBlob(size: number, mediaType = OLLAMA_MODEL): Blob {
  const data = randomBytes(size)
  return { data, descriptor: { mediaType, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size } }
}

/** The blob as a lazily generated stream of 64 KiB pieces. */
function streamOf(blob: Blob): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < blob.data.length; offset += 64 * 1024) yield blob.data.subarray(offset, offset + 64 * 1024)
    })(),
    { objectMode: false },
  )
}

function manifestOf(config: Blob, layers: Blob[]): Buffer {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: config.descriptor, layers: layers.map((layer) => layer.descriptor) }, null, 3),
  )
}

/** Every logger call, serialised, for secret greps. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)
  return { logger: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }, lines }
}

/** Everything an error shows: message, fields, cause chain. */
function dump(error: unknown): string {
  return `${inspect(error, { depth: 20, showHidden: true })}\n${JSON.stringify(error)}`
}

/** Fail when any secret (or a tell-tale of one) appears in `texts`. */
function assertNoSecrets(texts: readonly string[], secrets: readonly string[]): void {
  const joined = texts.join('\n')
  for (const secret of secrets) assert.ok(!joined.includes(secret), `found secret ${JSON.stringify(secret.slice(0, 12))}… in messages or logs`)
  for (const tell of [/_state/, /authorization/i, /\bBasic [A-Za-z0-9+/=]{8,}/, /\bBearer [A-Za-z0-9._-]{8,}/, /eyJ[A-Za-z0-9_-]{8,}\./]) {
    assert.doesNotMatch(joined, tell)
  }
}

async function push(uploader: TargetedUploader, target: RegistryTarget, blobs: Blob[], tag: string, config: Blob): Promise<Buffer> {
  await uploader.prepare(target)
  try {
    for (const blob of [...blobs, config]) {
      if (await uploader.hasBlob(target, blob.descriptor)) continue
      await uploader.uploadBlob(target, blob.descriptor, async () => streamOf(blob))
    }
    const bytes = manifestOf(config, blobs)
    await uploader.putManifest(target, tag, { mediaType: DOCKER_MANIFEST, bytes })
    return bytes
  } finally {
    await uploader.release(target)
  }
}

const repo = (prefix: string) => `${prefix}/m-${randomBytes(4).toString('hex')}`

describe('OciRegistryUploader × docker-registry, no auth (plain http)', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'none' })
  })
  after(() => registry.stop())

  it('insecure: tries https, finds plain http, falls back, and pushes a model byte-exact', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('none'), insecure: true }
      const layers = [randomBlob(3 * MiB + 5), randomBlob(1000)]
      const config = randomBlob(200, DOCKER_CONFIG)
      const bytes = await push(uploader, target, layers, 'v1', config)
      const manifest = await registry.getManifest(target.repository, 'v1')
      assert.equal(manifest.status, 200)
      assert.deepEqual(manifest.bytes, bytes)
      for (const blob of [...layers, config]) assert.equal(await registry.blobDigest(target.repository, blob.descriptor.digest), blob.descriptor.digest)
      assert.equal(lines.filter((line) => line.includes('does not speak TLS')).length, 1, 'the fallback is decided once per host')
      assert.ok(lines.some((line) => line.includes('"url":"http://')), 'requests went over http')
      assertNoSecrets(lines, [])
    } finally {
      uploader.close()
    }
  })

  it('not insecure: refuses a registry that does not speak TLS, and never tries http', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger, retries: 0 })
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('none'), insecure: false }
      await assert.rejects(uploader.prepare(target), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNREACHABLE')
        assert.equal(error.status, 502)
        assert.match(error.message, /does not speak TLS/)
        return true
      })
      assert.ok(!lines.some((line) => line.includes('http://')), 'no plain-http request was made')
    } finally {
      uploader.close()
    }
  })

  it('prepare opens one upload session that the first blob uses; release cancels an unused one', async () => {
    const uploader = new TargetedUploader()
    try {
      const used: RegistryTarget = { host: registry.host, repository: repo('prep'), insecure: true }
      await uploader.prepare(used)
      assert.equal((await registry.openUploads(used.repository)).length, 1, 'prepare opened a session')
      const blob = randomBlob(50_000)
      await uploader.uploadBlob(used, blob.descriptor, async () => streamOf(blob))
      assert.equal((await registry.openUploads(used.repository)).length, 0, 'the blob used the prepared session (no second one)')
      await uploader.release(used)

      const unused: RegistryTarget = { host: registry.host, repository: repo('prep'), insecure: true }
      await uploader.prepare(unused)
      assert.equal((await registry.openUploads(unused.repository)).length, 1)
      await uploader.release(unused)
      assert.equal((await registry.openUploads(unused.repository)).length, 0, 'release deleted the unused session')
    } finally {
      uploader.close()
    }
  })

  it('hasBlob reports a blob with another size as absent (the registry is content-addressed; the descriptor is wrong)', async () => {
    const uploader = new TargetedUploader()
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('size'), insecure: true }
      const blob = randomBlob(4096)
      await uploader.uploadBlob(target, blob.descriptor, async () => streamOf(blob))
      assert.equal(await uploader.hasBlob(target, blob.descriptor), true)
      assert.equal(await uploader.hasBlob(target, { ...blob.descriptor, size: 4095 }), false)
    } finally {
      uploader.close()
    }
  })

  it('a blob stream shorter than its descriptor fails as BLOB_INVALID (local), and is not retried', async () => {
    const uploader = new TargetedUploader({ retryDelayMs: 1 })
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('short'), insecure: true }
      const blob = randomBlob(100_000)
      let opens = 0
      await assert.rejects(
        uploader.uploadBlob(target, { ...blob.descriptor, size: 100_001 }, async () => {
          opens++
          return streamOf(blob)
        }),
        (error: unknown) => (error as { code?: string }).code === 'BLOB_INVALID' && (error as { source?: string }).source === 'storage',
      )
      assert.equal(opens, 1)
    } finally {
      uploader.close()
    }
  })
})

describe('OciRegistryUploader × docker-registry answering with relative Locations', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'none', relativeUrls: true })
  })
  after(() => registry.stop())

  it('resolves relative upload locations against the request URL', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('relative'), insecure: true }
      const config = randomBlob(10, DOCKER_CONFIG)
      const layers = [randomBlob(MiB + 1)]
      const bytes = await push(uploader, target, layers, 'latest', config)
      assert.deepEqual((await registry.getManifest(target.repository, 'latest')).bytes, bytes)
      assert.ok(lines.some((line) => line.includes('"method":"PATCH"') && line.includes(`"url":"http://${registry.host}/v2/`)))
    } finally {
      uploader.close()
    }
  })
})

describe('OciRegistryUploader × docker-registry, Basic auth (htpasswd)', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'basic' })
  })
  after(() => registry.stop())

  it('anonymous: prepare is refused with 401 "registry requires authentication"', async () => {
    const uploader = new TargetedUploader()
    try {
      await assert.rejects(uploader.prepare({ host: registry.host, repository: repo('basic'), insecure: true }), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
        assert.equal(error.status, 401)
        assert.match(error.message, /registry requires authentication/)
        return true
      })
    } finally {
      uploader.close()
    }
  })

  it('a wrong password: prepare is refused with 401 "rejected the credentials", without leaking it', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    const password = `wrong-${randomBytes(6).toString('hex')}`
    try {
      const target = { host: registry.host, repository: repo('basic'), insecure: true, credentials: { username: 'pusher', password } }
      const error = await uploader.prepare(target).then(
        () => assert.fail('prepare should fail'),
        (caught: unknown) => caught,
      )
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
      assert.match(error.message, /rejected the credentials/)
      assertNoSecrets([...lines, dump(error)], [password, Buffer.from(`pusher:${password}`).toString('base64')])
    } finally {
      uploader.close()
    }
  })

  it('the pusher pushes a model; credentials appear in no log line', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    try {
      const { pusher } = registry.users
      const target: RegistryTarget = { host: registry.host, repository: repo('basic'), insecure: true, credentials: pusher }
      const layers = [randomBlob(2 * MiB + 1)]
      const config = randomBlob(100, DOCKER_CONFIG)
      const bytes = await push(uploader, target, layers, 'latest', config)
      assert.deepEqual((await registry.getManifest(target.repository, 'latest')).bytes, bytes)
      assertNoSecrets(lines, [pusher.password, Buffer.from(`${pusher.username}:${pusher.password}`).toString('base64')])
    } finally {
      uploader.close()
    }
  })
})

describe('OciRegistryUploader × docker-registry, token auth', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'token' })
  })
  after(() => registry.stop())

  it('anonymous: prepare is refused with 401 (anonymous tokens carry no push)', async () => {
    const uploader = new TargetedUploader()
    try {
      await assert.rejects(uploader.prepare({ host: registry.host, repository: repo('token'), insecure: true }), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
        assert.equal(error.status, 401)
        return true
      })
      const last = registry.tokenIssuer!.requests.at(-1)!
      assert.equal(last.authorization, 'none', 'the realm was asked anonymously')
    } finally {
      uploader.close()
    }
  })

  it('a pull-only reader: prepare is denied with 403 (the POST meets insufficient_scope)', async () => {
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    try {
      const { reader } = registry.users
      const target: RegistryTarget = { host: registry.host, repository: repo('token'), insecure: true, credentials: reader }
      const error = await uploader.prepare(target).then(
        () => assert.fail('prepare should fail'),
        (caught: unknown) => caught,
      )
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'REGISTRY_DENIED')
      assert.equal(error.status, 403)
      assert.equal(error.registryStatus, 401)
      assert.match(error.message, /push access to .* denied/)
      assertNoSecrets([...lines, dump(error)], [reader.password])
    } finally {
      uploader.close()
    }
  })

  it('a wrong password: the token service refuses it → 401', async () => {
    const uploader = new TargetedUploader()
    try {
      const target = { host: registry.host, repository: repo('token'), insecure: true, credentials: { username: 'pusher', password: 'nope' } }
      await assert.rejects(uploader.prepare(target), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
        assert.match(error.message, /token service rejected the credentials/)
        return true
      })
    } finally {
      uploader.close()
    }
  })

  it('a whole push fetches one token (cached per registry, realm, scope set and credentials), Basic only to the realm', async () => {
    const issuer = registry.tokenIssuer!
    const { logger, lines } = recordingLogger()
    const uploader = new TargetedUploader({ logger })
    try {
      const { pusher } = registry.users
      const target: RegistryTarget = { host: registry.host, repository: repo('token'), insecure: true, credentials: pusher }
      issuer.clearRequests()
      const layers = [randomBlob(2 * MiB + 3), randomBlob(10_000), randomBlob(1)]
      const config = randomBlob(300, DOCKER_CONFIG)
      const bytes = await push(uploader, target, layers, 'latest', config)
      assert.deepEqual((await registry.getManifest(target.repository, 'latest')).bytes, bytes)
      for (const blob of layers) assert.equal(await registry.blobDigest(target.repository, blob.descriptor.digest), blob.descriptor.digest)

      assert.equal(issuer.requests.length, 1, 'one token for the whole push')
      const [request] = issuer.requests
      assert.deepEqual(request!.scopes, [`repository:${target.repository}:pull,push`])
      assert.equal(request!.service, registry.service)
      assert.equal(request!.authorization, 'basic')
      assert.equal(request!.username, 'pusher')

      // A second push to the same repository with the same credentials reuses the token.
      await push(uploader, { ...target }, [randomBlob(5000)], 'again', config)
      assert.equal(issuer.requests.length, 1, 'the cached token is reused across pushes')

      // Another repository is another scope: a new token. The config blob was seen in the first
      // repository, so it is offered as a mount, with a token of its own that also asks pull there.
      const other = repo('token')
      await push(uploader, { ...target, repository: other }, [randomBlob(10)], 'x', config)
      assert.deepEqual(issuer.requests.slice(1).map((r) => r.scopes), [
        [`repository:${other}:pull,push`],
        [`repository:${other}:pull,push`, `repository:${target.repository}:pull`],
      ])
      // Other credentials: another token too.
      await assert.rejects(uploader.prepare({ ...target, credentials: registry.users.reader }), { code: 'REGISTRY_DENIED' })
      assert.equal(issuer.requests.length, 4, 'the reader gets a token of its own, not the pusher\'s')
      assert.ok(issuer.requests.every((r) => r.authorization !== 'bearer'), 'no registry token is ever sent to the realm')
      assertNoSecrets(lines, [pusher.password, registry.users.reader.password])
    } finally {
      uploader.close()
    }
  })
})

describe('OciRegistryUploader × docker-registry over TLS (self-signed)', () => {
  let registry: StartedRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'token', tls: true })
  })
  after(() => registry.stop())

  const pushOne = async (options: OciRegistryUploaderOptions, insecure: boolean) => {
    const uploader = new TargetedUploader({ retries: 0, ...options })
    try {
      const target: RegistryTarget = { host: registry.host, repository: repo('tls'), insecure, credentials: registry.users.pusher }
      const config = randomBlob(64, DOCKER_CONFIG)
      const bytes = await push(uploader, target, [randomBlob(MiB + 7)], 'latest', config)
      assert.deepEqual((await registry.getManifest(target.repository, 'latest')).bytes, bytes)
    } finally {
      uploader.close()
    }
  }

  it('refuses an unverifiable certificate without `ca` or insecure, saying how to fix it', async () => {
    await assert.rejects(pushOne({}, false), (error: unknown) => {
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'REGISTRY_UNREACHABLE')
      assert.equal(error.status, 502)
      assert.equal(error.retryable, false)
      assert.match(error.message, /certificate verification failed/)
      assert.match(error.message, /`ca` option/)
      assert.match(error.message, /insecure/)
      return true
    })
  })

  it('accepts the registry with its CA in `ca` (realm included)', async () => {
    await pushOne({ ca: registry.ca! }, false)
    await pushOne({ ca: [Buffer.from(registry.ca!)] }, false)
  })

  it('accepts the registry when insecure (https without verification, no http fallback)', async () => {
    const { logger, lines } = recordingLogger()
    await pushOne({ logger }, true)
    assert.ok(!lines.some((line) => line.includes('does not speak TLS')))
    assert.ok(lines.filter((line) => line.includes('registry request')).every((line) => line.includes('"url":"https://')))
  })
})
