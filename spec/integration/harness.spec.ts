/**
 * Proves the real-registry harness (spec/support) works in every mode, with raw protocol requests
 * (no code from lib/), and pins down what Debian's docker-registry (distribution 2.8.2) actually
 * answers, so the uploader's expectations rest on measurements:
 *
 * - POST /blobs/uploads/ → 202, absolute `Location: …/uploads/<uuid>?_state=<hmac+json>`,
 *   `Docker-Upload-UUID`, `Range: 0-0`, `Content-Length: 0`.
 * - PATCH → 202 with a *new* `_state` (it carries the offset) and `Range: 0-<offset-1>`. A PATCH or
 *   GET on a stale `_state` → 404 BLOB_UPLOAD_INVALID. `Content-Range` is ignored (no 416 in 2.8);
 *   a Content-Type other than application/octet-stream → 500 UNKNOWN.
 * - GET on the upload URL → 204 with `Range` and a fresh `Location` (resume point).
 * - PUT ?digest= → 201, `Location: /v2/<repo>/blobs/<digest>`, `Docker-Content-Digest`. A wrong
 *   digest → 400 DIGEST_INVALID and the session stays usable.
 * - `POST ?digest=` with a body is NOT monolithic here: 202 + session, body dropped.
 * - DELETE on the upload URL → 204 (needs the `delete` action in token mode: 401 insufficient_scope
 *   with a pull,push token); afterwards → 404 BLOB_UPLOAD_UNKNOWN.
 * - Manifest PUT → 201 with `Docker-Content-Digest` = sha256 of the exact bytes sent. The
 *   Content-Type must equal the manifest's `mediaType` (else 400 MANIFEST_INVALID). GET without a
 *   fitting Accept → 400 MANIFEST_INVALID (2.8 tries a schema-1 down-conversion).
 * - Token mode, pull-only token on POST → **401** (not 403), `WWW-Authenticate: Bearer realm=…,
 *   service=…,scope="repository:<repo>:pull,push",error="insufficient_scope"`, body code UNAUTHORIZED.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { basicAuthorization, rawRequest, type RawResponse } from '../support/http-client.js'
import { makeOllamaStore, sha256Digest, type OllamaStore, type StoredModel } from '../support/ollama-store.js'
import { MANIFEST_ACCEPT, startRegistry, type StartedRegistry } from '../support/registry.js'
import { decodeJwtClaims } from '../support/token-issuer.js'

/** Where raw requests go and how they authenticate. */
interface Client {
  url: string
  ca?: string | undefined
  authorization?: string | undefined
}

const OCTET = 'application/octet-stream'

function headers(client: Client, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return client.authorization === undefined ? extra : { ...extra, Authorization: client.authorization }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** POST + one PATCH per chunk + PUT ?digest=, asserting distribution's answers at every step. */
async function uploadChunked(client: Client, repository: string, content: Buffer, chunkSize: number): Promise<RawResponse> {
  const started = await rawRequest(`${client.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', ca: client.ca, headers: headers(client) })
  assert.equal(started.status, 202, started.body.toString())
  assert.equal(started.headers.range, '0-0')
  const uuid = single(started.headers['docker-upload-uuid'])
  assert.match(uuid ?? '', /^[0-9a-f-]{36}$/)
  let location = single(started.headers.location)
  assert.ok(location?.startsWith(`${client.url}/v2/${repository}/blobs/uploads/${uuid}?_state=`), location)

  for (let offset = 0; offset < content.length; offset += chunkSize) {
    const chunk = content.subarray(offset, offset + chunkSize)
    const patched = await rawRequest(location!, {
      method: 'PATCH',
      ca: client.ca,
      body: chunk,
      headers: headers(client, { 'Content-Type': OCTET, 'Content-Range': `${offset}-${offset + chunk.length - 1}` }),
    })
    assert.equal(patched.status, 202, patched.body.toString())
    assert.equal(patched.headers.range, `0-${offset + chunk.length - 1}`)
    assert.equal(single(patched.headers['docker-upload-uuid']), uuid)
    const next = single(patched.headers.location)
    assert.notEqual(next, location, 'each PATCH answers a new _state')
    location = next
  }

  const commit = new URL(location!)
  commit.searchParams.set('digest', sha256Digest(content))
  const put = await rawRequest(commit, { method: 'PUT', ca: client.ca, headers: headers(client) })
  assert.equal(put.status, 201, put.body.toString())
  assert.equal(single(put.headers['docker-content-digest']), sha256Digest(content))
  assert.equal(single(put.headers.location), `${client.url}/v2/${repository}/blobs/${sha256Digest(content)}`)
  return put
}

/** Push a whole store model (blobs chunked, then the manifest byte-exact) and check it in the registry. */
async function pushAndVerify(registry: StartedRegistry, client: Client, model: StoredModel, store: OllamaStore): Promise<void> {
  for (const digest of model.pushOrder) {
    const content = await readFile(store.blobPath(digest))
    await uploadChunked(client, model.repository, content, 1500)
  }
  const put = await rawRequest(`${client.url}/v2/${model.repository}/manifests/${model.tag}`, {
    method: 'PUT',
    ca: client.ca,
    body: model.manifestBytes,
    headers: headers(client, { 'Content-Type': model.manifest.mediaType }),
  })
  assert.equal(put.status, 201, put.body.toString())
  assert.equal(single(put.headers['docker-content-digest']), model.manifestDigest)

  const fetched = await registry.getManifest(model.repository, model.tag)
  assert.equal(fetched.status, 200)
  assert.ok(fetched.bytes.equals(model.manifestBytes), 'manifest bytes are stored byte-exact')
  assert.equal(fetched.contentType, model.manifest.mediaType)
  assert.equal(fetched.digest, model.manifestDigest)
  for (const blob of [...model.layers, model.config]) {
    assert.equal(await registry.blobDigest(model.repository, blob.digest), blob.digest)
    assert.equal(await registry.hasBlob(model.repository, blob.digest), true)
  }
}

/** Parse `Bearer realm="…",service="…",scope="…",error="…"`. */
function parseBearer(header: string | undefined): Record<string, string> {
  if (header === undefined || !header.startsWith('Bearer ')) assert.fail(`not a Bearer challenge: ${header}`)
  const params: Record<string, string> = {}
  for (const match of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[match[1]!] = match[2]!
  return params
}

/** The token dance as a client does it: challenge → realm with optional Basic → token. */
async function fetchToken(registry: StartedRegistry, challenge: Record<string, string>, user?: { username: string; password: string }): Promise<RawResponse> {
  const realm = new URL(challenge.realm!)
  realm.searchParams.set('service', challenge.service!)
  if (challenge.scope !== undefined) realm.searchParams.set('scope', challenge.scope)
  return rawRequest(realm, { ca: registry.ca, headers: user === undefined ? {} : { Authorization: basicAuthorization(user.username, user.password) } })
}

describe('harness: no auth', () => {
  let registry: StartedRegistry
  let store: OllamaStore

  before(async () => {
    registry = await startRegistry()
    store = await makeOllamaStore([{ name: `${registry.host}/library/tiny:latest`, modelSize: 5000 }])
  })
  after(async () => {
    await registry?.stop()
    await store?.removeStore()
  })

  it('accepts a raw chunked push and serves the manifest back byte-exact', async () => {
    await pushAndVerify(registry, { url: registry.url }, store.model(`${registry.host}/library/tiny`), store)
  })

  it('shows the protocol details the uploader relies on', async () => {
    const repository = 'library/facts'
    const started = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' })
    const first = single(started.headers.location)!
    const patched = await rawRequest(first, { method: 'PATCH', body: Buffer.alloc(10), headers: { 'Content-Type': OCTET } })
    assert.equal(patched.status, 202)
    const latest = single(patched.headers.location)!

    // A stale _state is refused; the latest one works, and GET reports the offset.
    const stale = await rawRequest(first, { method: 'PATCH', body: Buffer.alloc(1), headers: { 'Content-Type': OCTET } })
    assert.equal(stale.status, 404)
    assert.match(stale.body.toString(), /BLOB_UPLOAD_INVALID/)
    const status = await rawRequest(latest, { method: 'GET' })
    assert.equal(status.status, 204)
    assert.equal(status.headers.range, '0-9')

    // Cancelling a session: 204, then the session is gone.
    const cancelled = await rawRequest(latest, { method: 'DELETE' })
    assert.equal(cancelled.status, 204)
    const gone = await rawRequest(latest, { method: 'PATCH', body: Buffer.alloc(1), headers: { 'Content-Type': OCTET } })
    assert.equal(gone.status, 404)
    assert.match(gone.body.toString(), /BLOB_UPLOAD_UNKNOWN/)

    // POST ?digest= with a body only opens a session in 2.8.
    const small = Buffer.from('monolithic?')
    const mono = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/?digest=${sha256Digest(small)}`, {
      method: 'POST',
      body: small,
      headers: { 'Content-Type': OCTET },
    })
    assert.equal(mono.status, 202)
    assert.equal(await registry.hasBlob(repository, sha256Digest(small)), false)

    // Seed a model with the harness helpers; its manifest GET needs an Accept header.
    const model = store.model(`${registry.host}/library/tiny`)
    for (const blob of [...model.layers, model.config]) await registry.putBlob(repository, await readFile(blob.path))
    assert.equal(await registry.putManifest(repository, 'seeded', model.manifestBytes), model.manifestDigest)
    const noAccept = await rawRequest(`${registry.url}/v2/${repository}/manifests/seeded`)
    assert.equal(noAccept.status, 400)
    assert.match(noAccept.body.toString(), /MANIFEST_INVALID/)
    const withAccept = await rawRequest(`${registry.url}/v2/${repository}/manifests/seeded`, { headers: { Accept: MANIFEST_ACCEPT } })
    assert.equal(withAccept.status, 200)

    // The manifest's Content-Type must be its own mediaType.
    const wrongType = await rawRequest(`${registry.url}/v2/${repository}/manifests/wrong-type`, {
      method: 'PUT',
      body: model.manifestBytes,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    })
    assert.equal(wrongType.status, 400)

    // blobDigest/hasBlob on absent blobs.
    const absent = sha256Digest('absent')
    assert.equal(await registry.blobDigest(repository, absent), undefined)
    assert.equal(await registry.hasBlob(repository, absent), false)
  })
})

describe('harness: htpasswd basic auth', () => {
  let registry: StartedRegistry

  before(async () => {
    registry = await startRegistry({ auth: 'basic' })
  })
  after(() => registry?.stop())

  it('refuses anonymous and wrong credentials with a Basic challenge', async () => {
    const anonymous = await rawRequest(`${registry.url}/v2/`)
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="express-model-push-test"')
    const post = await rawRequest(`${registry.url}/v2/library/m/blobs/uploads/`, { method: 'POST' })
    assert.equal(post.status, 401)
    const wrong = await rawRequest(`${registry.url}/v2/`, { headers: { Authorization: basicAuthorization('pusher', 'wrong') } })
    assert.equal(wrong.status, 401)
  })

  it('lets the pusher (and, with htpasswd, the reader) push', async () => {
    const content = createHash('sha256').update('basic').digest()
    for (const user of [registry.users.pusher, registry.users.reader]) {
      await uploadChunked({ url: registry.url, authorization: basicAuthorization(user.username, user.password) }, 'library/basic', content, 16)
    }
    assert.equal(await registry.blobDigest('library/basic', sha256Digest(content)), sha256Digest(content))
  })
})

describe('harness: token auth', () => {
  let registry: StartedRegistry
  const repository = 'team/model'

  before(async () => {
    registry = await startRegistry({ auth: 'token' })
  })
  after(() => registry?.stop())

  it('challenges with realm, service and scope', async () => {
    const base = await rawRequest(`${registry.url}/v2/`)
    assert.equal(base.status, 401)
    const baseChallenge = parseBearer(single(base.headers['www-authenticate']))
    assert.deepEqual(baseChallenge, { realm: registry.tokenIssuer!.realm, service: registry.service })

    const post = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' })
    assert.equal(post.status, 401)
    const challenge = parseBearer(single(post.headers['www-authenticate']))
    // distribution lists the actions in map order: "pull,push" or "push,pull".
    const [resource, actions] = [challenge.scope?.slice(0, challenge.scope.lastIndexOf(':')), challenge.scope?.slice(challenge.scope.lastIndexOf(':') + 1)]
    assert.deepEqual({ ...challenge, scope: resource }, { realm: registry.tokenIssuer!.realm, service: registry.service, scope: `repository:${repository}` })
    assert.deepEqual(actions?.split(',').sort(), ['pull', 'push'])
  })

  it('gives the reader a pull-only token: reads work, POST is 401 insufficient_scope', async () => {
    const challenge = { realm: registry.tokenIssuer!.realm, service: registry.service!, scope: `repository:${repository}:pull,push` }
    registry.tokenIssuer!.clearRequests()
    const issued = await fetchToken(registry, challenge, registry.users.reader)
    assert.equal(issued.status, 200)
    const body = JSON.parse(issued.body.toString()) as { token: string; access_token: string; expires_in: number; issued_at: string }
    assert.equal(body.token, body.access_token)
    assert.equal(body.expires_in, 300)
    assert.deepEqual(decodeJwtClaims(body.token).access, [{ type: 'repository', name: repository, actions: ['pull'] }])

    const client: Client = { url: registry.url, authorization: `Bearer ${body.token}` }
    const head = await rawRequest(`${registry.url}/v2/${repository}/blobs/${sha256Digest('x')}`, { method: 'HEAD', headers: headers(client) })
    assert.equal(head.status, 404) // authorised to look, blob absent

    // distribution 2.8 answers a pull-only token's POST with 401 (not 403) and error="insufficient_scope".
    const post = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: headers(client) })
    assert.equal(post.status, 401)
    assert.equal(parseBearer(single(post.headers['www-authenticate'])).error, 'insufficient_scope')
    assert.match(post.body.toString(), /"code":"UNAUTHORIZED"/)

    assert.deepEqual(
      registry.tokenIssuer!.requests.map((request) => [request.authorization, request.username, request.scopes, request.service, request.status]),
      [['basic', 'reader', [`repository:${repository}:pull,push`], registry.service, 200]],
    )
  })

  it('lets the pusher push with a token from the realm', async () => {
    const challenge = { realm: registry.tokenIssuer!.realm, service: registry.service!, scope: `repository:${repository}:pull,push` }
    const issued = await fetchToken(registry, challenge, registry.users.pusher)
    const token = (JSON.parse(issued.body.toString()) as { token: string }).token
    const client: Client = { url: registry.url, authorization: `Bearer ${token}` }
    const store = await makeOllamaStore([{ name: `${registry.host}/${repository}:v1`, modelSize: 3000 }])
    try {
      await pushAndVerify(registry, client, store.model(`${registry.host}/${repository}:v1`), store)
    } finally {
      await store.removeStore()
    }

    // Cancelling a session needs `delete`, which a pull,push token lacks.
    const started = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: headers(client) })
    const cancel = await rawRequest(single(started.headers.location)!, { method: 'DELETE', headers: headers(client) })
    assert.equal(cancel.status, 401)
    assert.equal(parseBearer(single(cancel.headers['www-authenticate'])).scope, `repository:${repository}:delete`)
  })

  it('rejects a wrong password at the realm and gives anonymous an empty grant', async () => {
    const challenge = { realm: registry.tokenIssuer!.realm, service: registry.service!, scope: `repository:${repository}:pull,push` }
    const wrong = await fetchToken(registry, challenge, { username: 'pusher', password: 'wrong' })
    assert.equal(wrong.status, 401)

    const anonymous = await fetchToken(registry, challenge)
    assert.equal(anonymous.status, 200)
    const token = (JSON.parse(anonymous.body.toString()) as { token: string }).token
    assert.deepEqual(decodeJwtClaims(token).access, [])
    const post = await rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
    assert.equal(post.status, 401)
    const last = registry.tokenIssuer!.requests.at(-1)!
    assert.equal(last.authorization, 'none')
    assert.equal(last.username, undefined)
  })

  it('is verified the way distribution 2.8 verifies: iss, aud, exp, x5c chain', async () => {
    const access = [{ type: 'repository', name: repository, actions: ['pull', 'push'] }]
    const post = (token: string): Promise<RawResponse> =>
      rawRequest(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
    const issuer = registry.tokenIssuer!

    assert.equal((await post(issuer.mint('pusher', access))).status, 202)
    for (const overrides of [
      { claims: { iss: 'someone-else' } },
      { claims: { aud: 'another-service' } },
      { claims: { aud: [registry.service] } }, // 2.8's ClaimSet.Audience is a string: an array does not parse
      { expiresIn: -120 }, // past the 60 s leeway
      { header: { x5c: undefined } }, // no x5c, jwk or kid: no signing key
    ]) {
      const refused = await post(issuer.mint('pusher', access, overrides))
      assert.equal(refused.status, 401, JSON.stringify(overrides))
      assert.match(parseBearer(single(refused.headers['www-authenticate'])).error ?? '', /invalid_token/, JSON.stringify(overrides))
    }
  })

  it('also works with RS256 tokens', async () => {
    const rsa = await startRegistry({ auth: 'token', tokenAlgorithm: 'RS256' })
    try {
      assert.equal(await rsa.hasBlob(repository, sha256Digest('nothing')), false)
      const digest = await rsa.putBlob(repository, Buffer.from('rs256'))
      assert.equal(await rsa.blobDigest(repository, digest), digest)
      // A token signed by the other registry's issuer (a cert outside this rootcertbundle) is refused.
      const foreign = registry.tokenIssuer!.mint('pusher', [{ type: 'repository', name: repository, actions: ['pull'] }])
      const refused = await rawRequest(`${rsa.url}/v2/${repository}/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${foreign}` } })
      assert.equal(refused.status, 401)
    } finally {
      await rsa.stop()
    }
  })
})

describe('harness: TLS', () => {
  let registry: StartedRegistry

  before(async () => {
    registry = await startRegistry({ auth: 'token', tls: true })
  })
  after(() => registry?.stop())

  it('serves https with a self-signed cert: refused without the CA, accepted with it', async () => {
    assert.ok(registry.url.startsWith('https://127.0.0.1:'))
    assert.ok(registry.ca?.includes('BEGIN CERTIFICATE'))
    await assert.rejects(rawRequest(`${registry.url}/v2/`), (error: NodeJS.ErrnoException) => error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT')
    await assert.rejects(fetch(`${registry.url}/v2/`), TypeError)
    const trusted = await rawRequest(`${registry.url}/v2/`, { ca: registry.ca })
    assert.equal(trusted.status, 401)
    // Plain http to the TLS port: Go's server answers 400.
    const plain = await rawRequest(`${registry.url.replace('https:', 'http:')}/v2/`)
    assert.equal(plain.status, 400)
  })

  it('runs the token realm over https too, and a push works end to end', async () => {
    assert.ok(registry.tokenIssuer!.realm.startsWith('https://127.0.0.1:'))
    const post = await rawRequest(`${registry.url}/v2/library/secure/blobs/uploads/`, { method: 'POST', ca: registry.ca })
    const challenge = parseBearer(single(post.headers['www-authenticate']))
    const issued = await fetchToken(registry, challenge, registry.users.pusher)
    assert.equal(issued.status, 200)
    const token = (JSON.parse(issued.body.toString()) as { token: string }).token
    const content = Buffer.from('over tls'.repeat(100))
    await uploadChunked({ url: registry.url, ca: registry.ca, authorization: `Bearer ${token}` }, 'library/secure', content, 300)
    assert.equal(await registry.blobDigest('library/secure', sha256Digest(content)), sha256Digest(content))
  })
})

describe('harness: ollama store', () => {
  it('writes manifests and blobs the way Ollama does', async () => {
    const store = await makeOllamaStore([
      { name: 'registry.example:5000/team/a:q4', modelSize: 9 * 1024 * 1024 + 7, seed: 'shared' },
      { name: 'registry.example:5000/team/b', modelSize: 9 * 1024 * 1024 + 7, seed: 'shared' },
    ])
    try {
      const a = store.model('registry.example:5000/team/a:q4')
      const b = store.model('registry.example:5000/team/b')
      assert.equal(a.manifestPath, `${store.root}/manifests/registry.example:5000/team/a/q4`)
      assert.ok((await readFile(a.manifestPath)).equals(a.manifestBytes))
      const text = a.manifestBytes.toString()
      assert.ok(text.endsWith('}\n') && !text.includes(' '), 'compact JSON plus newline, like Go json.Encoder')
      assert.match(text, /^\{"schemaVersion":2,"mediaType":"application\/vnd\.docker\.distribution\.manifest\.v2\+json","config":\{"mediaType":"application\/vnd\.docker\.container\.image\.v1\+json","digest":"sha256:[0-9a-f]{64}","size":\d+\},"layers":\[\{"mediaType":"application\/vnd\.ollama\.image\.model",/)
      assert.deepEqual(a.layers.map((layer) => layer.mediaType.split('.').at(-1)), ['model', 'template', 'params', 'license'])
      // Same seed and size → the same model blob, written once.
      assert.equal(a.layers[0]!.digest, b.layers[0]!.digest)
      assert.deepEqual(a.pushOrder, [...a.layers, a.config].map((blob) => blob.digest))
      assert.deepEqual(Object.keys(store.models), ['registry.example:5000/team/a:q4', 'registry.example:5000/team/b:latest'])
      for (const blob of store.blobs) {
        const bytes = await readFile(blob.path)
        assert.equal(bytes.length, blob.size)
        assert.equal(sha256Digest(bytes), blob.digest)
      }
      const model = await readFile(a.layers[0]!.path)
      assert.equal(model.subarray(0, 4).toString(), 'GGUF')
      const params = await readFile(a.layers[2]!.path, 'utf8')
      assert.ok(params.includes('\\u003c|end|\\u003e'), 'Go escapes < and > in JSON')
      const config = JSON.parse(await readFile(a.config.path, 'utf8')) as { rootfs: { diff_ids: string[] } }
      assert.deepEqual(config.rootfs.diff_ids, a.layers.map((layer) => layer.digest))
      assert.deepEqual((await readdir(store.blobsDir)).filter((name) => !name.startsWith('sha256-')), [], 'no partial files left')
    } finally {
      await store.removeStore()
    }
  })
})
