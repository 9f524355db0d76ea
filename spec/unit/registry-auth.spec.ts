// RegistryAuth with a fake transport and clock: the token flow's request, caching until expires_in,
// cache keys (scope, credentials), shared fetches, and where credentials may and may not go.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RegistryError } from '../../lib/errors.js'
import { pullScope, pushScope, RegistryAuth } from '../../lib/registry/auth.js'
import type { HttpTransport, RegistryResponse, SendOptions } from '../../lib/registry/http-client.js'
import type { RegistryTarget } from '../../lib/registry/uploader.js'

const REALM = 'https://auth.example.com/token'

function setup(answer: (options: SendOptions) => Partial<RegistryResponse> & { json?: unknown } = () => ({ json: { token: 't' } })) {
  const sent: SendOptions[] = []
  let now = 1_000_000
  const transport = {
    async send(options: SendOptions): Promise<RegistryResponse> {
      sent.push(options)
      const { json, ...rest } = answer(options)
      return { status: 200, headers: {}, url: options.url, body: Buffer.from(json === undefined ? '' : JSON.stringify(json)), ...rest }
    },
  } as unknown as HttpTransport
  const auth = new RegistryAuth({ transport, logger: undefined, timeoutMs: 1000, now: () => now })
  return { auth, sent, advance: (ms: number) => (now += ms) }
}

const target = (overrides: Partial<RegistryTarget> = {}): RegistryTarget => ({
  host: 'registry.example.com',
  repository: 'team/llama',
  insecure: false,
  credentials: { username: 'alice', password: 's3cret' },
  ...overrides,
})

const unauthorized = (header: string, url = 'https://registry.example.com/v2/team/llama/blobs/uploads/'): RegistryResponse => ({
  status: 401,
  headers: { 'www-authenticate': header },
  body: Buffer.alloc(0),
  url,
})
const bearer = `Bearer realm="${REALM}",service="registry.example.com",scope="repository:team/llama:pull"`
const URL_ON_REGISTRY = 'https://registry.example.com/v2/team/llama/blobs/uploads/'

describe('RegistryAuth', () => {
  it('knows nothing before a challenge', async () => {
    const { auth, sent } = setup()
    assert.equal(await auth.authorization(target(), URL_ON_REGISTRY), undefined)
    assert.equal(sent.length, 0)
  })

  it('Bearer: asks the realm for pull,push on the repository with Basic credentials, and caches until expires_in', async () => {
    const { auth, sent, advance } = setup(() => ({ json: { token: 'tok-1', expires_in: 120 } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    assert.deepEqual(await auth.authorization(target(), URL_ON_REGISTRY), { value: 'Bearer tok-1', fresh: true })
    const url = new URL(sent[0]!.url)
    assert.equal(url.origin + url.pathname, REALM)
    assert.equal(url.searchParams.get('service'), 'registry.example.com')
    assert.equal(url.searchParams.get('scope'), pushScope('team/llama'))
    assert.equal(pushScope('team/llama'), 'repository:team/llama:pull,push')
    assert.equal(sent[0]!.headers.Authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
    assert.equal(sent[0]!.verifyTls, true)

    assert.deepEqual(await auth.authorization(target(), URL_ON_REGISTRY), { value: 'Bearer tok-1', fresh: false })
    advance(105_000) // 120 s minus a 10 s safety margin is 110 s
    await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent.length, 1)
    advance(6_000)
    await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent.length, 2, 'renewed shortly before expiry')
  })

  it('accepts access_token, and defaults expires_in to 60 s', async () => {
    const { auth, sent, advance } = setup(() => ({ json: { access_token: 'oauth-style' } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer oauth-style')
    advance(53_000)
    await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent.length, 1)
    advance(2_000)
    await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent.length, 2)
  })

  it('keys the cache by scope (repository) and credential identity; anonymous gets no Authorization at the realm', async () => {
    let n = 0
    const { auth, sent } = setup(() => ({ json: { token: `t${++n}` } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    await auth.authorization(target(), URL_ON_REGISTRY)
    await auth.authorization(target({ repository: 'team/other' }), URL_ON_REGISTRY)
    await auth.authorization(target({ credentials: { username: 'alice', password: 'other' } }), URL_ON_REGISTRY)
    await auth.authorization(target({ credentials: undefined }), URL_ON_REGISTRY)
    await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent.length, 4)
    assert.equal(sent[3]!.headers.Authorization, undefined)
  })

  it('extra scopes (a mount): one token asked with a scope parameter each, cached under that scope set only; Basic ignores them', async () => {
    let n = 0
    const { auth, sent } = setup(() => ({ json: { token: `t${++n}` } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    const mountFrom = (source: string) => auth.authorization(target(), URL_ON_REGISTRY, undefined, [pullScope(source)])
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer t1')
    assert.equal((await mountFrom('library/base'))?.value, 'Bearer t2')
    assert.deepEqual(new URL(sent[1]!.url).searchParams.getAll('scope'), ['repository:team/llama:pull,push', 'repository:library/base:pull'], 'two scope parameters, the push scope first')
    assert.equal(pullScope('library/base'), 'repository:library/base:pull')
    // Each token only where it applies: the push keeps t1, the mount from library/base keeps t2, another source gets its own.
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer t1')
    assert.equal((await mountFrom('library/base'))?.value, 'Bearer t2')
    assert.equal((await mountFrom('other/base'))?.value, 'Bearer t3')
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY, undefined, [pushScope('team/llama')]))?.value, 'Bearer t1', 'the push scope named again is the same set')
    assert.equal(sent.length, 3)
    // A refused wide token is dropped from its own entry only.
    auth.learn(target(), unauthorized(bearer), { value: 'Bearer t2', fresh: false })
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer t1')
    assert.equal((await mountFrom('library/base'))?.value, 'Bearer t4')

    const basic = setup()
    basic.auth.challenged(target(), unauthorized('Basic realm="r"'), undefined, 'push')
    assert.equal((await basic.auth.authorization(target(), URL_ON_REGISTRY, undefined, [pullScope('library/base')]))?.value, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
    assert.equal(basic.sent.length, 0)
  })

  it('shares one fetch between concurrent requests', async () => {
    const { auth, sent } = setup(() => ({ json: { token: 'shared' } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    const values = await Promise.all([1, 2, 3].map(() => auth.authorization(target(), URL_ON_REGISTRY)))
    assert.equal(sent.length, 1)
    assert.ok(values.every((value) => value?.value === 'Bearer shared'))
  })

  it('drops a refused cached token; a refused fresh token is final (403 with credentials, 401 without)', async () => {
    let n = 0
    const { auth, sent } = setup(() => ({ json: { token: `t${++n}` } }))
    const insufficient = `${bearer},error="insufficient_scope"`
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    const first = await auth.authorization(target(), URL_ON_REGISTRY)
    // Refused although fresh: no point asking again.
    assert.throws(() => auth.challenged(target(), unauthorized(insufficient), first, 'push'), (error: unknown) => error instanceof RegistryError && error.code === 'REGISTRY_DENIED' && error.status === 403)
    // Now from the cache? It was dropped, so a new one is fetched.
    const second = await auth.authorization(target(), URL_ON_REGISTRY)
    assert.deepEqual(second, { value: 'Bearer t2', fresh: true })
    const cached = await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(cached?.fresh, false)
    assert.doesNotThrow(() => auth.challenged(target(), unauthorized(bearer), cached, 'push'), 'a cached token refused: retry with a new one')
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer t3')
    assert.equal(sent.length, 3)
    const anonymous = target({ credentials: undefined })
    assert.equal(auth.refused(anonymous, unauthorized(insufficient), 'push').code, 'REGISTRY_UNAUTHORIZED')
  })

  it('Basic: sent up front once learnt; without credentials or after a refusal it throws 401', async () => {
    const { auth } = setup()
    assert.throws(() => auth.challenged(target({ credentials: undefined }), unauthorized('Basic realm="r"'), undefined, 'push'), /registry requires authentication/)
    auth.challenged(target(), unauthorized('Basic realm="r"'), undefined, 'push')
    const sent = await auth.authorization(target(), URL_ON_REGISTRY)
    assert.equal(sent?.value, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
    assert.throws(() => auth.challenged(target(), unauthorized('Basic realm="r"'), sent, 'push'), /rejected the credentials/)
  })

  it('prefers Bearer when a registry offers both', async () => {
    const { auth } = setup(() => ({ json: { token: 'b' } }))
    auth.challenged(target(), unauthorized(`Basic realm="r", ${bearer}`), undefined, 'push')
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer b')
  })

  it('throws a clear 401 for challenges it cannot answer', () => {
    const { auth } = setup()
    assert.throws(() => auth.challenged(target(), unauthorized('Negotiate abc=='), undefined, 'push'), /unsupported scheme \(negotiate\)/)
    assert.throws(() => auth.challenged(target(), unauthorized(''), undefined, 'push'), /no WWW-Authenticate challenge/)
  })

  it('never authorizes URLs on other hosts or ports; default ports count as the same', async () => {
    const { auth } = setup(() => ({ json: { token: 't' } }))
    auth.challenged(target(), unauthorized(bearer), undefined, 'push')
    assert.equal(await auth.authorization(target(), 'https://storage.example.com/blob?sig=x'), undefined)
    assert.equal(await auth.authorization(target(), 'https://registry.example.com:8443/v2/'), undefined)
    assert.ok(await auth.authorization(target(), 'https://registry.example.com:443/v2/'))
    const explicit = target({ host: 'registry.example.com:443' })
    auth.challenged(explicit, unauthorized(bearer), undefined, 'push')
    assert.ok(await auth.authorization(explicit, 'https://registry.example.com/v2/'))
  })

  it('refuses to send credentials to a plain-http realm off this machine unless the registry is insecure', async () => {
    const httpRealm = 'Bearer realm="http://auth.example.com/token",service="s"'
    const { auth, sent } = setup(() => ({ json: { token: 't' } }))
    auth.challenged(target(), unauthorized(httpRealm), undefined, 'push')
    await assert.rejects(auth.authorization(target(), URL_ON_REGISTRY), /refusing to send credentials/)
    assert.equal(sent.length, 0)
    assert.ok(await auth.authorization(target({ credentials: undefined }), URL_ON_REGISTRY), 'anonymous is fine')
    auth.challenged(target({ insecure: true }), unauthorized(httpRealm), undefined, 'push')
    assert.ok(await auth.authorization(target({ insecure: true }), URL_ON_REGISTRY))
    const loopback = setup(() => ({ json: { token: 't' } }))
    loopback.auth.challenged(target(), unauthorized('Bearer realm="http://127.0.0.1:9999/token"'), undefined, 'push')
    assert.ok(await loopback.auth.authorization(target(), URL_ON_REGISTRY))
  })

  it('maps token service failures: 401 → UNAUTHORIZED, 403 → DENIED, 5xx → retryable, redirect and non-JSON → FAILED', async () => {
    const cases: Array<[Partial<RegistryResponse> & { json?: unknown }, string, boolean]> = [
      [{ status: 401 }, 'REGISTRY_UNAUTHORIZED', false],
      [{ status: 403 }, 'REGISTRY_DENIED', false],
      [{ status: 503 }, 'REGISTRY_FAILED', true],
      [{ status: 302, headers: { location: 'https://elsewhere/' } }, 'REGISTRY_FAILED', false],
      [{ status: 200, body: Buffer.from('<html>') }, 'REGISTRY_FAILED', false],
      [{ status: 200, json: { nothing: true } }, 'REGISTRY_FAILED', false],
    ]
    for (const [answer, code, retryable] of cases) {
      const { auth } = setup(() => answer)
      auth.challenged(target(), unauthorized(bearer), undefined, 'push')
      await assert.rejects(auth.authorization(target(), URL_ON_REGISTRY), (error: unknown) => {
        assert.ok(error instanceof RegistryError)
        assert.equal(error.code, code, JSON.stringify(answer))
        assert.equal(error.retryable, retryable, JSON.stringify(answer))
        assert.ok(!error.message.includes('s3cret'))
        return true
      })
    }
  })

  it('skips certificate verification at the realm only for insecure registries', async () => {
    const { auth, sent } = setup(() => ({ json: { token: 't' } }))
    auth.challenged(target({ insecure: true }), unauthorized(bearer), undefined, 'push')
    await auth.authorization(target({ insecure: true }), URL_ON_REGISTRY)
    assert.equal(sent[0]!.verifyTls, false)
  })
})

describe('RegistryAuth: the BearerTokenSource seam', () => {
  it('a host with its own token source gets its token from there (challenge, scope, origin, signal); others keep the Docker flow', async () => {
    const sent: SendOptions[] = []
    const transport = {
      async send(options: SendOptions): Promise<RegistryResponse> {
        sent.push(options)
        return { status: 200, headers: {}, url: options.url, body: Buffer.from(JSON.stringify({ token: 'docker' })) }
      },
    } as unknown as HttpTransport
    const calls: Array<{ realm: string; service?: string | undefined; scope: string; registry: string }> = []
    const auth = new RegistryAuth({
      transport,
      logger: undefined,
      timeoutMs: 1000,
      tokenSource: (host) =>
        host === 'ollama.example.com'
          ? async (challenge, context) => {
              calls.push({ ...challenge, registry: context.registry.origin })
              return { token: 'signed', expiresInSeconds: 300 }
            }
          : undefined,
    })
    const special = target({ host: 'ollama.example.com', credentials: undefined })
    const url = 'https://ollama.example.com/v2/team/llama/blobs/uploads/'
    auth.challenged(special, unauthorized(`Bearer realm="https://ollama.example.com/token",service="ollama.example.com"`, url), undefined, 'test')
    assert.equal((await auth.authorization(special, url))?.value, 'Bearer signed')
    assert.equal((await auth.authorization(special, url))?.value, 'Bearer signed', 'cached for its lifetime')
    assert.deepEqual(calls, [{ realm: 'https://ollama.example.com/token', service: 'ollama.example.com', scope: pushScope('team/llama'), registry: 'https://ollama.example.com' }])
    assert.equal(sent.length, 0, 'the Docker flow was not used for that host')

    // A mount's wider token: the source gets both scopes, space-separated as in a challenge.
    await auth.authorization(special, url, undefined, [pullScope('library/base')])
    assert.equal(calls[1]?.scope, `${pushScope('team/llama')} ${pullScope('library/base')}`)

    auth.challenged(target(), unauthorized(bearer), undefined, 'test')
    assert.equal((await auth.authorization(target(), URL_ON_REGISTRY))?.value, 'Bearer docker')
    assert.equal(sent.length, 1)
  })
})
