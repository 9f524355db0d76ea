// Ollama's signed-key auth, piece by piece: the OpenSSH key parser (against keys from the real
// ssh-keygen), Go-exact query encoding, the fixed token-request vector (reference §2.2), the
// realm-host rule, refusals, host patterns, options, and the hook in RegistryAuth.
import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { OllamaKeyError, RegistryError } from '../../lib/errors.js'
import { createPushRouter, OciRegistryUploader, OllamaKey } from '../../lib/index.js'
import { resolveOptions } from '../../lib/options.js'
import { RegistryAuth } from '../../lib/registry/auth.js'
import type { HttpTransport, RegistryResponse, SendOptions } from '../../lib/registry/http-client.js'
import { goEncodeValues, goQueryEscape } from '../../lib/registry/ollama/go-query.js'
import { DEFAULT_OLLAMA_HOSTS, matchesOllamaHost } from '../../lib/registry/ollama/hosts.js'
import { ollamaTokenSelector } from '../../lib/registry/ollama/select.js'
import { parseEd25519PrivateKey } from '../../lib/registry/ollama/ssh-key.js'
import { ollamaTokenSource, tokenRequestMessage, type TokenHttpRequest } from '../../lib/registry/ollama/token-source.js'
import { makeTestKey, sshKeygen } from '../support/ssh-keys.js'

// Reference §2.2 test vector: seed = bytes 0x00…0x1f, ts 1700000000, nonce = 16 zero bytes.
const VECTOR = {
  seed: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
  publicLine: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4',
  url: 'https://registry.example.com/v2/token?nonce=AAAAAAAAAAAAAAAAAAAAAA&scope=repository%3Ateam%2Fcoder%3Apull%2Cpush&service=registry.example.com&ts=1700000000',
  message:
    'GET,https://registry.example.com/v2/token?nonce=AAAAAAAAAAAAAAAAAAAAAA&scope=repository%3Ateam%2Fcoder%3Apull%2Cpush&service=registry.example.com&ts=1700000000,ZTNiMGM0NDI5OGZjMWMxNDlhZmJmNGM4OTk2ZmI5MjQyN2FlNDFlNDY0OWI5MzRjYTQ5NTk5MWI3ODUyYjg1NQ==',
  header:
    'AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4:/TaNHv3agNrpI3cn8exu9eyVTAp2hF4ZEAEDXaBGVbOhGuQiuWMUPDhwrIj1NWGRr6K6yw3dhO+popLm8ftJBQ==',
}

const never = new AbortController().signal

/** A token source over a fake send that records requests and answers `answer`. */
function source(key: OllamaKey, answer: { status: number; body: string } = { status: 200, body: '{"token":"tok"}' }) {
  const sent: TokenHttpRequest[] = []
  const tokens = ollamaTokenSource(key, {
    now: () => 1_700_000_000_000,
    random: (size) => Buffer.alloc(size),
    send: async (request) => {
      sent.push(request)
      return { status: answer.status, body: Buffer.from(answer.body) }
    },
  })
  return { tokens, sent }
}

describe('Ollama key (OpenSSH ed25519)', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emp-ollama-key-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads a key made by ssh-keygen -N "": same public line as its .pub, signatures verify', async () => {
    const made = await sshKeygen(dir)
    const key = new OllamaKey(made.path)
    assert.equal(await key.publicKeyLine(), made.publicLine)
    const [pub, sig] = (await key.authorization('hello')).split(':') as [string, string]
    assert.equal(`ssh-ed25519 ${pub}`, made.publicLine)
    const raw = Buffer.from(pub, 'base64').subarray(-32)
    const publicKey = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } })
    assert.ok(verify(null, Buffer.from('hello'), publicKey, Buffer.from(sig, 'base64')))
    // The same key given as the file's text.
    assert.equal(await new OllamaKey(await readFile(made.path, 'utf8')).publicKeyLine(), made.publicLine)
  })

  it('refuses a passphrase-protected key with an error naming the path, not the key', async () => {
    const made = await sshKeygen(dir, 'correct horse')
    const text = await readFile(made.path, 'utf8')
    const error = await new OllamaKey(made.path).load().then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof OllamaKeyError)
    assert.equal(error.status, 500)
    assert.match(error.message, /passphrase-protected/)
    assert.ok(error.message.includes(made.path))
    const body = text.split('\n')[1]!
    assert.ok(!error.message.includes(body.slice(0, 20)))
  })

  it('a missing file: OllamaKeyError naming the path and how to make one', async () => {
    const path = join(dir, 'nope', 'id_ed25519')
    await assert.rejects(new OllamaKey(path).load(), (e: unknown) => e instanceof OllamaKeyError && e.message.includes(path) && /does not exist/.test(e.message) && e.path === path)
  })

  it('defaults to $HOME/.ollama/id_ed25519 and reads nothing at construction', () => {
    const key = new OllamaKey()
    assert.ok(key.path?.endsWith(join('.ollama', 'id_ed25519')))
  })

  it('rejects corrupt keys: unequal check integers, other key types, not a key at all', async () => {
    assert.throws(() => parseEd25519PrivateKey(makeTestKey(undefined, { check2: 1 }).text), /check integers differ/)
    assert.throws(() => parseEd25519PrivateKey('hello'), /not an OpenSSH private key/)
    const rsa = join(dir, 'rsa')
    await writeFile(rsa, '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n')
    await assert.rejects(new OllamaKey(rsa).load(), /not an ed25519 key/)
  })

  it('parses the keys our test support serialises (used by the ollama.com stand-in)', async () => {
    const test = makeTestKey(VECTOR.seed, { comment: 'a comment' })
    assert.equal(test.publicLine, VECTOR.publicLine)
    assert.equal(await new OllamaKey(test.text).publicKeyLine(), VECTOR.publicLine)
  })
})

describe('Go query encoding', () => {
  it('QueryEscape: only letters, digits and -_.~ stay; space is +; upper-case hex of UTF-8 bytes', () => {
    assert.equal(goQueryEscape("repository:team/coder:pull,push"), 'repository%3Ateam%2Fcoder%3Apull%2Cpush')
    assert.equal(goQueryEscape("a b!'()*~-._"), 'a+b%21%27%28%29%2A~-._')
    assert.equal(goQueryEscape('é+&=?#%@$;'), '%C3%A9%2B%26%3D%3F%23%25%40%24%3B')
  })

  it('Values.Encode: keys sorted by bytes, values of a key in order', () => {
    const values = new Map([['ts', ['1']], ['scope', ['b', 'a']], ['Z', ['z']], ['nonce', ['n']]])
    assert.equal(goEncodeValues(values), 'Z=z&nonce=n&scope=b&scope=a&ts=1')
  })
})

describe('signed token request', () => {
  const key = new OllamaKey(makeTestKey(VECTOR.seed).text)
  const challenge = { realm: 'https://registry.example.com/v2/token', service: 'registry.example.com', scope: 'repository:team/coder:pull,push' }
  const registry = new URL('https://registry.example.com')

  it('matches the reference vector byte for byte (URL, signed message, Authorization)', async () => {
    const { tokens, sent } = source(key)
    assert.equal(await tokens(challenge, { registry, signal: never }), 'tok')
    assert.equal(sent.length, 1)
    assert.equal(sent[0]!.url, VECTOR.url)
    assert.equal(tokenRequestMessage(sent[0]!.url), VECTOR.message)
    assert.equal(sent[0]!.headers.Authorization, VECTOR.header)
  })

  it('keeps the realm query, adds one scope per space-separated piece, and an empty scope/service as empty', async () => {
    const { tokens, sent } = source(key)
    await tokens({ realm: 'https://registry.example.com/token?b=2+3&a=1', scope: 'repository:x/y:pull repository:x/z:pull' }, { registry, signal: never })
    assert.equal(
      sent[0]!.url,
      'https://registry.example.com/token?a=1&b=2+3&nonce=AAAAAAAAAAAAAAAAAAAAAA&scope=repository%3Ax%2Fy%3Apull&scope=repository%3Ax%2Fz%3Apull&service=&ts=1700000000',
    )
    await tokens({ realm: 'https://registry.example.com/token' }, { registry, signal: never })
    assert.match(sent[1]!.url, /&scope=&service=&ts=/)
  })

  it('a realm on another host: error naming both hosts, nothing sent, key not even read', async () => {
    const { tokens, sent } = source(new OllamaKey('/nonexistent/id_ed25519'))
    await assert.rejects(tokens({ ...challenge, realm: 'https://auth.example.com/token' }, { registry, signal: never }), (e: unknown) => {
      assert.ok(e instanceof RegistryError)
      assert.match(e.message, /"auth\.example\.com" does not match the registry's host "registry\.example\.com"/)
      return true
    })
    await assert.rejects(tokens({ ...challenge, realm: 'https://registry.example.com:8443/token' }, { registry, signal: never }), /"registry\.example\.com:8443"/)
    await assert.rejects(tokens({ ...challenge, realm: 'http://registry.example.com/token' }, { registry, signal: never }), /plain http/)
    assert.equal(sent.length, 0)
  })

  it('a refusal is a 401 with the public key line and where to add it', async () => {
    const { tokens } = source(key, { status: 401, body: '{"errors":[{"code":"UNAUTHORIZED","message":"unknown key"}]}' })
    await assert.rejects(tokens(challenge, { registry, signal: never }), (e: unknown) => {
      assert.ok(e instanceof RegistryError)
      assert.equal(e.status, 401)
      assert.equal(e.code, 'REGISTRY_UNAUTHORIZED')
      assert.ok(e.message.includes(VECTOR.publicLine))
      assert.match(e.message, /ollama\.com/)
      assert.match(e.message, /unknown key/)
      return true
    })
  })

  it('a 5xx from the token service is retryable, not a refusal; an answer without a token fails', async () => {
    await assert.rejects(source(key, { status: 503, body: '' }).tokens(challenge, { registry, signal: never }), (e: unknown) => e instanceof RegistryError && e.retryable && e.status === 502)
    await assert.rejects(source(key, { status: 200, body: '{"access_token":"x"}' }).tokens(challenge, { registry, signal: never }), /without a token/)
  })
})

describe('ollamaHosts patterns', () => {
  it('exact hosts, ports and *. subdomains', () => {
    assert.ok(matchesOllamaHost('registry.ollama.ai', DEFAULT_OLLAMA_HOSTS))
    assert.ok(matchesOllamaHost('Ollama.com', DEFAULT_OLLAMA_HOSTS))
    assert.ok(matchesOllamaHost('eu.registry.ollama.ai', DEFAULT_OLLAMA_HOSTS))
    assert.ok(!matchesOllamaHost('notollama.com', DEFAULT_OLLAMA_HOSTS))
    assert.ok(!matchesOllamaHost('ollama.com.evil.example', DEFAULT_OLLAMA_HOSTS))
    assert.ok(!matchesOllamaHost('ollama.com:8443', DEFAULT_OLLAMA_HOSTS))
    assert.ok(matchesOllamaHost('127.0.0.1:5000', ['127.0.0.1:5000']))
    assert.ok(!matchesOllamaHost('127.0.0.1:5001', ['127.0.0.1:5000']))
    assert.ok(matchesOllamaHost('a.b.example.com:99', ['*.example.com:99']))
    assert.ok(!matchesOllamaHost('example.com:99', ['*.example.com:99']))
  })
})

describe('ollamaKey / ollamaHosts options', () => {
  it('are accepted on the router, the handler options and the uploader', () => {
    const options = { ollamaKey: '/k/id_ed25519', ollamaHosts: ['ollama.com', '*.example.com:5000'], ollamaAccountUrl: 'http://127.0.0.1:9' }
    assert.equal(resolveOptions(options).ollamaKey.path, '/k/id_ed25519')
    assert.equal(resolveOptions(options).ollamaAccountUrl, 'http://127.0.0.1:9')
    assert.doesNotThrow(() => createPushRouter(options))
    assert.doesNotThrow(() => new OciRegistryUploader({ ollamaKey: makeTestKey().text, ollamaHosts: [] }))
  })

  it('are validated, with every problem named', () => {
    assert.throws(() => resolveOptions({ ollamaKey: '', ollamaHosts: ['ollama.com/x'] }), (e: unknown) => {
      assert.ok(e instanceof TypeError)
      assert.match(e.message, /"ollamaKey" must not be empty/)
      assert.match(e.message, /"ollamaHosts\[0\]" must be a host/)
      return true
    })
    assert.throws(() => new OciRegistryUploader({ ollamaHosts: 'ollama.com' as never }), /"ollamaHosts" must be an array of hosts/)
    assert.throws(() => resolveOptions({ ollamaAccountUrl: 'ftp://x' }), /ollamaAccountUrl/)
  })
})

describe('RegistryAuth hook', () => {
  it('answers a Bearer challenge from an Ollama host with the signed request, other hosts with the Docker flow', async () => {
    const sent: SendOptions[] = []
    const transport = {
      async send(options: SendOptions): Promise<RegistryResponse> {
        sent.push(options)
        return { status: 200, headers: {}, url: options.url, body: Buffer.from('{"token":"signed-token"}') }
      },
    } as unknown as HttpTransport
    const tokenSource = ollamaTokenSelector({ key: makeTestKey(VECTOR.seed).text, hosts: ['ollama.example'], transport, timeoutMs: 1000, logger: undefined })
    const auth = new RegistryAuth({ transport, logger: undefined, timeoutMs: 1000, tokenSource })
    for (const host of ['ollama.example', 'docker.example']) {
      const target = { host, repository: 'team/llama', insecure: false }
      const url = `https://${host}/v2/team/llama/blobs/uploads/`
      auth.learn(target, { status: 401, headers: { 'www-authenticate': `Bearer realm="https://${host}/token",service="${host}"` }, body: Buffer.alloc(0), url }, undefined)
      assert.deepEqual(await auth.authorization(target, url), { value: 'Bearer signed-token', fresh: true })
    }
    assert.equal(sent.length, 2)
    assert.match(sent[0]!.headers.Authorization!, new RegExp(`^${VECTOR.publicLine.split(' ')[1]!.replace(/[+/]/g, '\\$&')}:`))
    assert.match(sent[0]!.url, /nonce=.*&scope=repository%3Ateam%2Fllama%3Apull%2Cpush&service=ollama\.example&ts=\d+$/)
    assert.equal(sent[1]!.headers.Authorization, undefined, 'Docker flow: anonymous, nothing signed')
  })
})
