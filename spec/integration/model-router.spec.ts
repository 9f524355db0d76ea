// createModelRouter end to end in a real Express app on port 0: blob ingest with curl, fetch
// (raw and FormData, as a browser sends it) and node:http; copy, delete and list with the real
// `ollama` client; then a push of an ingested model to Debian's docker-registry, read back
// byte-identical. Outcomes are checked on disk (Ollama's layout) and in the registry.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import express4 from 'express4'
import { blobHandler, copyHandler, createModelRouter, deleteHandler, FilesystemStorage, tagsHandler, MemoryStorage, parseModelName, serializeManifest, type ModelRouterOptions, type WriteBlobOptions } from '../../lib/index.js'
import { PACKAGE_VERSION } from '../../lib/registry/version.js'
import { makeOllamaStore, MEDIA_TYPES, type OllamaStore } from '../support/ollama-store.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { startApp as startPushApp, type App } from '../support/push-app.js'

const MiB = 1024 * 1024
const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`
const hex = (digest: string) => digest.slice('sha256:'.length)
const run = promisify(execFile)

const startApp = (options: ModelRouterOptions): Promise<App> => startPushApp(options, createModelRouter)

/** A FilesystemStorage that reports the bytes each blob write has consumed and how each write ended. */
class ObservedStorage extends FilesystemStorage {
  readonly outcomes: Array<Promise<unknown>> = []
  onBytes: ((bytes: number) => void) | undefined

  override writeBlob(digest: string, content: Readable, options?: WriteBlobOptions): Promise<{ size: number }> {
    let seen = 0
    const tap = new PassThrough({ highWaterMark: 64 * 1024 })
    content.on('data', (chunk: Buffer) => {
      seen += chunk.length
      this.onBytes?.(seen)
    })
    content.on('error', (error) => tap.destroy(error))
    content.pipe(tap)
    tap.on('close', () => {
      if (!content.readableEnded) content.destroy()
    })
    const outcome = super.writeBlob(digest, tap, options)
    this.outcomes.push(outcome.then(() => 'stored', (error: unknown) => error))
    return outcome
  }
}

/** Pattern bytes that differ per seed. */
function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) out.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i)
  out.fill(seed & 0xff, size - (size % 4))
  return out
}

async function blobFiles(root: string): Promise<string[]> {
  try {
    return (await fs.readdir(path.join(root, 'blobs'))).sort()
  } catch {
    return []
  }
}

async function post(url: string, body: NonNullable<RequestInit['body']>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body, headers, duplex: 'half' } as RequestInit)
  return { status: response.status, text: await response.text() }
}

describe('createModelRouter', () => {
  let scratch: string
  before(async () => {
    scratch = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'emp-model-router-')))
  })
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true })
  })
  const freshRoot = () => fs.mkdtemp(path.join(scratch, 'models-'))

  describe('root and version', () => {
    it('answers GET and HEAD / as Ollama does, and /api/version with the package version', async () => {
      const app = await startApp({ storage: new MemoryStorage() })
      try {
        const root = await fetch(`${app.url}/`)
        assert.equal(root.status, 200)
        assert.match(root.headers.get('content-type') ?? '', /^text\/plain/)
        assert.equal(await root.text(), 'Ollama is running')
        assert.equal((await fetch(`${app.url}/`, { method: 'HEAD' })).status, 200)
        assert.deepEqual(await app.client.version(), { version: PACKAGE_VERSION })
      } finally {
        await app.close()
      }
    })
  })

  describe('blobs', () => {
    let root: string
    let storage: ObservedStorage
    let app: App
    before(async () => {
      root = await freshRoot()
      storage = new ObservedStorage({ root })
      app = await startApp({ storage })
    })
    after(() => app.close())

    it('HEAD: 400 for a malformed digest, 404 absent, 200 present in either spelling', async () => {
      const data = Buffer.from('present')
      await storage.writeBlob(sha(data), (await import('node:stream')).Readable.from([data]))
      const head = async (digest: string) => (await fetch(`${app.url}/api/blobs/${digest}`, { method: 'HEAD' })).status
      assert.equal(await head('sha256:abc'), 400)
      assert.equal(await head(`sha512:${'a'.repeat(128)}`), 400)
      assert.equal(await head(encodeURIComponent(`sha256:${'a'.repeat(63)}/`)), 400)
      assert.equal(await head(`sha256:${'0'.repeat(64)}`), 404)
      assert.equal(await head(sha(data)), 200)
      assert.equal(await head(`sha256-${hex(sha(data)).toUpperCase()}`), 200)
    })

    it('POST raw with curl: 201 stored in Ollama\'s layout, then 200 already present; both digest spellings', async () => {
      const data = bytes(3 * MiB + 3, 1)
      const file = path.join(scratch, 'raw.bin')
      await fs.writeFile(file, data)
      const curl = async (digest: string) =>
        (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '--data-binary', `@${file}`, `${app.url}/api/blobs/${digest}`])).stdout
      assert.equal(await curl(`sha256-${hex(sha(data)).toUpperCase()}`), '201')
      assert.ok((await fs.readFile(path.join(root, 'blobs', `sha256-${hex(sha(data))}`))).equals(data), 'blobs/sha256-<hex> holds the bytes')
      assert.equal(await curl(sha(data)), '200')
      assert.ok(!(await blobFiles(root)).some((f) => f.includes('partial')), 'no temp file')
    })

    it('POST: 400 on a malformed digest, and on a mismatch names both digests and stores nothing', async () => {
      const before = await blobFiles(root)
      const data = bytes(MiB, 2)
      const claimed = sha(Buffer.from('something else'))
      const bad = await post(`${app.url}/api/blobs/sha256:nothex`, data)
      assert.deepEqual([bad.status, JSON.parse(bad.text)], [400, { error: 'invalid digest format', code: 'INVALID_REQUEST' }])
      const mismatch = await post(`${app.url}/api/blobs/${claimed}`, data)
      assert.equal(mismatch.status, 400)
      assert.deepEqual(JSON.parse(mismatch.text), { error: `digest mismatch, expected "${claimed}", got "${sha(data)}"`, code: 'BLOB_INVALID' })
      assert.deepEqual(await blobFiles(root), before, 'nothing stored under either digest, no temp file')
    })

    it('POST multipart with curl -F and with a browser-style FormData: 201, the file part is the blob', async () => {
      const first = bytes(2 * MiB + 1, 3)
      const file = path.join(scratch, 'model.gguf')
      await fs.writeFile(file, first)
      const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-F', 'note=ignored', '-F', `file=@${file}`, `${app.url}/api/blobs/${sha(first)}`])
      assert.equal(stdout, '201')
      assert.ok((await fs.readFile(path.join(root, 'blobs', `sha256-${hex(sha(first))}`))).equals(first))

      const second = bytes(MiB + 7, 4)
      const form = new FormData()
      form.append('model', new Blob([second]), 'weights.gguf')
      const response = await post(`${app.url}/api/blobs/${sha(second)}`, form)
      assert.deepEqual([response.status, response.text], [201, ''])
      assert.ok((await fs.readFile(path.join(root, 'blobs', `sha256-${hex(sha(second))}`))).equals(second))
    })

    it('POST multipart: refuses a form without a file or with two, and a mismatching file, storing nothing', async () => {
      const before = await blobFiles(root)
      const data = bytes(300_000, 5)
      const none = new FormData()
      none.append('text', 'no file here')
      const noFile = await post(`${app.url}/api/blobs/${sha(data)}`, none)
      assert.deepEqual([noFile.status, JSON.parse(noFile.text)], [400, { error: 'multipart body must hold exactly one file part', code: 'INVALID_REQUEST' }])
      const two = new FormData()
      two.append('a', new Blob([data]), 'a.bin')
      two.append('b', new Blob([data]), 'b.bin')
      assert.equal((await post(`${app.url}/api/blobs/${sha(bytes(10, 6))}`, two)).status, 400)
      const wrong = new FormData()
      wrong.append('file', new Blob([data]), 'x.bin')
      const mismatch = await post(`${app.url}/api/blobs/${sha(bytes(10, 7))}`, wrong)
      assert.deepEqual([mismatch.status, JSON.parse(mismatch.text)], [400, { error: `digest mismatch, expected "${sha(bytes(10, 7))}", got "${sha(data)}"`, code: 'BLOB_INVALID' }])
      const broken = await post(`${app.url}/api/blobs/${sha(data)}`, 'not a form', { 'Content-Type': 'multipart/form-data; boundary=xyz' })
      assert.equal(broken.status, 400)
      assert.deepEqual(await blobFiles(root), before)
    })

    it('two and three concurrent uploads of one blob all succeed, leaving one file', async () => {
      const data = bytes(4 * MiB, 8)
      const form = new FormData()
      form.append('file', new Blob([data]), 'same.bin')
      const results = await Promise.all([
        post(`${app.url}/api/blobs/${sha(data)}`, data),
        post(`${app.url}/api/blobs/${sha(data)}`, data),
        post(`${app.url}/api/blobs/${sha(data)}`, form),
      ])
      for (const result of results) assert.ok(result.status === 201 || result.status === 200, `status ${result.status}`)
      assert.ok(results.some((r) => r.status === 201))
      const files = (await blobFiles(root)).filter((f) => f.startsWith(`sha256-${hex(sha(data))}`))
      assert.deepEqual(files, [`sha256-${hex(sha(data))}`])
    })

    for (const kind of ['raw', 'multipart'] as const) {
      it(`a client that disconnects mid-upload (${kind}) aborts the write: no blob, no temp file`, async () => {
        const data = bytes(8 * MiB, kind === 'raw' ? 9 : 10)
        const before = await blobFiles(root)
        const started = storage.outcomes.length
        const received = new Promise<void>((resolve) => {
          storage.onBytes = (n) => {
            if (n >= MiB) resolve()
          }
        })
        const boundary = 'emp-test-boundary'
        const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
        const request = http.request(`${app.url}/api/blobs/${sha(data)}`, {
          method: 'POST',
          agent: false,
          headers: kind === 'raw' ? { 'Content-Length': data.length } : { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': data.length + head.length + 100 },
        })
        request.on('error', () => undefined)
        if (kind === 'multipart') request.write(head)
        request.write(data.subarray(0, 2 * MiB))
        await received
        assert.ok((await blobFiles(root)).some((f) => f.endsWith('.partial')), 'a temp file exists while the upload runs')
        // Bytes reached the write, so its outcome is already being recorded.
        assert.equal(storage.outcomes.length, started + 1)
        request.destroy()
        const outcome = await storage.outcomes[started]
        assert.ok(outcome instanceof Error, 'the write did not complete')
        assert.equal((outcome as { code?: string }).code, 'ABORTED')
        assert.deepEqual(await blobFiles(root), before, 'no blob and no temp file')
        storage.onBytes = undefined
      })
    }
  })

  describe('limits and capabilities', () => {
    it('413 past maxBlobBytes (declared, chunked and multipart), storing nothing', async () => {
      const root = await freshRoot()
      const app = await startApp({ storage: new FilesystemStorage({ root }), maxBlobBytes: MiB })
      try {
        const big = bytes(MiB + 1, 11)
        const declared = await post(`${app.url}/api/blobs/${sha(big)}`, big)
        assert.equal(declared.status, 413)
        assert.match(JSON.parse(declared.text).error, /larger than this server accepts \(1048576 bytes\)/)
        const chunked = await post(`${app.url}/api/blobs/${sha(big)}`, new Blob([big]).stream() as unknown as NonNullable<RequestInit['body']>)
        assert.equal(chunked.status, 413)
        const form = new FormData()
        form.append('file', new Blob([big]), 'big.bin')
        assert.equal((await post(`${app.url}/api/blobs/${sha(big)}`, form)).status, 413)
        const fits = bytes(MiB, 12)
        assert.equal((await post(`${app.url}/api/blobs/${sha(fits)}`, new Blob([fits]).stream() as unknown as NonNullable<RequestInit['body']>)).status, 201)
        assert.deepEqual(await blobFiles(root), [`sha256-${hex(sha(fits))}`])
      } finally {
        await app.close()
      }
    })

    it('501 when the storage cannot write blobs, copy, delete or list', async () => {
      const memory = new MemoryStorage()
      const readOnly = { readManifest: memory.readManifest.bind(memory), statBlob: memory.statBlob.bind(memory), openBlob: memory.openBlob.bind(memory) }
      const app = await startApp({ storage: readOnly })
      try {
        const data = Buffer.from('x')
        assert.equal((await post(`${app.url}/api/blobs/${sha(data)}`, data)).status, 501)
        assert.equal((await fetch(`${app.url}/api/tags`)).status, 501)
        assert.equal((await post(`${app.url}/api/copy`, JSON.stringify({ source: 'a', destination: 'b' }))).status, 501)
        assert.equal((await fetch(`${app.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'a' }) })).status, 501)
      } finally {
        await app.close()
      }
    })

    it('refuses unknown options, and ingest options on the push router', async () => {
      assert.throws(() => createModelRouter({ maxBlobBytes: -1 }), /maxBlobBytes/)
      assert.throws(() => createModelRouter({ maxBytes: 1 } as never), /"maxBytes" is not an option .*maxBlobBytes/)
      const { createPushRouter } = await import('../../lib/index.js')
      assert.throws(() => createPushRouter({ maxBlobBytes: 1 } as never), /"maxBlobBytes" is not an option/)
    })
  })

  describe('copy, delete, list with the ollama client', () => {
    let store: OllamaStore
    let app: App
    before(async () => {
      store = await makeOllamaStore(
        [
          { name: 'registry.ollama.ai/library/alpha:latest', seed: 'alpha', config: { file_type: 'Q4_K_M', model_type: '1B' } },
          { name: 'registry.ollama.ai/team/beta:v1', seed: 'beta', config: { model_families: null } },
        ],
        { root: path.join(scratch, 'listed') },
      )
      const alpha = path.join(store.manifestsDir, 'registry.ollama.ai', 'library', 'alpha', 'latest')
      const beta = path.join(store.manifestsDir, 'registry.ollama.ai', 'team', 'beta', 'v1')
      await fs.utimes(alpha, new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'))
      await fs.utimes(beta, new Date('2025-06-01T00:00:00Z'), new Date('2025-06-01T00:00:00Z'))
      app = await startApp({ storage: new FilesystemStorage({ root: store.root }) })
    })
    after(() => app.close())

    it('lists models as Ollama does: shortest names, mtime, size, manifest digest, details, newest first', async () => {
      const { models } = await app.client.list()
      assert.deepEqual(models.map((m) => m.name), ['team/beta:v1', 'alpha:latest'])
      const alpha = store.model('registry.ollama.ai/library/alpha:latest')
      const listed = models[1]!
      assert.equal(listed.model, 'alpha:latest')
      assert.equal(new Date(listed.modified_at).toISOString(), '2025-01-01T00:00:00.000Z')
      assert.equal(listed.size, alpha.layers.reduce((s, l) => s + l.size, alpha.config.size))
      assert.equal(listed.digest, hex(alpha.manifestDigest))
      assert.deepEqual(listed.details, { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '1B', quantization_level: 'Q4_K_M' })
      assert.equal(models[0]!.details.families, null, 'no families: null, as Go writes a nil slice')
      const head = await fetch(`${app.url}/api/tags`, { method: 'HEAD' })
      assert.deepEqual([head.status, await head.text()], [200, ''])
    })

    it('copies the manifest bytes (ollama client); 404 for a missing source; 400 for path tricks', async () => {
      await app.client.copy({ source: 'alpha', destination: 'team/alpha-copy:v2' })
      const copied = await fs.readFile(path.join(store.manifestsDir, 'registry.ollama.ai', 'team', 'alpha-copy', 'v2'))
      assert.ok(copied.equals(store.model('registry.ollama.ai/library/alpha:latest').manifestBytes), 'byte-identical')
      await assert.rejects(app.client.copy({ source: 'nothing', destination: 'x' }), { name: 'ResponseError', status_code: 404, error: 'model "nothing" not found' })
      await assert.rejects(app.client.copy({ source: '../../etc/passwd', destination: 'x' }), { status_code: 400, error: 'source "../../etc/passwd" is invalid' })
      await assert.rejects(app.client.copy({ source: 'alpha', destination: 'a/../../b' }), { status_code: 400, error: 'destination "a/../../b" is invalid' })
      const raw = await post(`${app.url}/api/copy`, JSON.stringify({ source: 'ALPHA', destination: 'alpha:v3' }))
      assert.deepEqual([raw.status, raw.text], [200, ''], 'names match ignoring case; empty 200 body')
    })

    it('deletes a model (ollama client sends name) and only the blobs nothing else uses', async () => {
      await app.client.copy({ source: 'team/beta:v1', destination: 'team/beta:v2' })
      const beta = store.model('registry.ollama.ai/team/beta:v1')
      await app.client.delete({ model: 'team/beta:v1' })
      for (const blob of beta.blobs) assert.ok(await fs.stat(blob.path), 'v2 still uses every blob')
      await app.client.delete({ model: 'Team/Beta:V2' })
      const alpha = store.model('registry.ollama.ai/library/alpha:latest')
      const shared = new Set(alpha.blobs.map((b) => b.digest))
      const own = beta.blobs.filter((b) => !shared.has(b.digest))
      assert.ok(own.length >= 2 && own.length < beta.blobs.length, 'beta has blobs of its own and blobs it shares with alpha')
      for (const blob of own) await assert.rejects(fs.stat(blob.path), { code: 'ENOENT' }, 'unshared blob removed')
      await assert.rejects(fs.stat(path.join(store.manifestsDir, 'registry.ollama.ai', 'team', 'beta')), { code: 'ENOENT' }, 'empty directories pruned')
      for (const blob of alpha.blobs) assert.ok(await fs.stat(blob.path), 'other models keep their blobs, shared ones included')
      await assert.rejects(app.client.delete({ model: 'team/beta:v1' }), { status_code: 404, error: "model 'team/beta:v1' not found" })
      await assert.rejects(app.client.delete({ model: '../x' }), { status_code: 400, error: 'name "../x" is invalid' })
      const modelField = await fetch(`${app.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'alpha:v3' }) })
      assert.deepEqual([modelField.status, await modelField.text()], [200, ''])
    })
  })

  describe('handlers on their own paths, Express 4 with express.json() in front', () => {
    it('uploads raw and multipart, copies, lists and deletes', async () => {
      const root = await freshRoot()
      const options = { storage: new FilesystemStorage({ root }) }
      const app = express4()
      app.use(express4.json())
      app.all('/b/:digest', blobHandler(options))
      app.post('/copy', copyHandler(options))
      app.delete('/delete', deleteHandler(options))
      app.get('/list', tagsHandler(options))
      const server: Server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s))
      })
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      try {
        const weights = bytes(MiB, 20)
        const config = Buffer.from('{"model_format":"gguf"}')
        assert.equal((await post(`${url}/b/${sha(weights)}`, weights, { 'Content-Type': 'application/octet-stream' })).status, 201)
        const form = new FormData()
        form.append('file', new Blob([config]), 'config.json')
        assert.equal((await post(`${url}/b/${sha(config)}`, form)).status, 201)
        assert.equal((await fetch(`${url}/b/${sha(config)}`, { method: 'HEAD' })).status, 200)
        assert.equal((await fetch(`${url}/b/${sha(config)}`, { method: 'PUT' })).status, 405)
        const manifest = serializeManifest({ mediaType: MEDIA_TYPES.config, digest: sha(config), size: config.length }, [{ mediaType: MEDIA_TYPES.model, digest: sha(weights), size: weights.length }])
        await options.storage.writeManifest(parseModelName('four'), manifest)
        const json = { 'Content-Type': 'application/json' }
        assert.equal((await post(`${url}/copy`, JSON.stringify({ source: 'four', destination: 'four:copy' }), json)).status, 200)
        const listed = (await (await fetch(`${url}/list`)).json()) as { models: Array<{ name: string; details: { format: string } }> }
        assert.deepEqual(listed.models.map((m) => m.name).sort(), ['four:copy', 'four:latest'])
        assert.equal(listed.models[0]!.details.format, 'gguf')
        for (const model of ['four', 'four:copy']) {
          assert.equal((await fetch(`${url}/delete`, { method: 'DELETE', body: JSON.stringify({ name: model }), headers: json })).status, 200)
        }
        assert.deepEqual(await blobFiles(root), [], 'the last delete removed both blobs')
      } finally {
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      }
    })
  })

  describe('ingest, then push to the real registry', () => {
    let registry: StartedRegistry
    before(async () => {
      registry = await startRegistry()
    })
    after(() => registry.stop())

    it('a model whose blobs came in over /api/blobs (raw and multipart) pushes byte-identical', async () => {
      const root = await freshRoot()
      const storage = new FilesystemStorage({ root })
      const app = await startApp({ storage })
      try {
        const weights = Buffer.concat([Buffer.from('GGUF'), bytes(5 * MiB, 13)])
        const template = Buffer.from('{{ .Prompt }}')
        const config = Buffer.from(JSON.stringify({ model_format: 'gguf', model_family: 'llama', rootfs: { type: 'layers', diff_ids: [sha(weights), sha(template)] } }))
        assert.equal((await post(`${app.url}/api/blobs/${sha(weights)}`, weights)).status, 201)
        const form = new FormData()
        form.append('file', new Blob([template]), 'template')
        assert.equal((await post(`${app.url}/api/blobs/${sha(template)}`, form)).status, 201)
        assert.equal((await post(`${app.url}/api/blobs/${sha(config).replace(':', '-')}`, config)).status, 201)
        const manifest = serializeManifest(
          { mediaType: MEDIA_TYPES.config, digest: sha(config), size: config.length },
          [
            { mediaType: MEDIA_TYPES.model, digest: sha(weights), size: weights.length },
            { mediaType: MEDIA_TYPES.template, digest: sha(template), size: template.length },
          ],
        )
        // Stand-in for /api/create (another branch): the manifest written through the adapter.
        await storage.writeManifest(parseModelName(`${registry.host}/team/ingested:v1`), manifest)
        const response = await app.client.push({ model: `${registry.host}/team/ingested:v1`, insecure: true })
        assert.equal(response.status, 'success')
        const pushed = await registry.getManifest('team/ingested', 'v1')
        assert.ok(pushed.bytes.equals(manifest), 'manifest byte-identical in the registry')
        for (const blob of [weights, template, config]) assert.equal(await registry.blobDigest('team/ingested', sha(blob)), sha(blob))
      } finally {
        await app.close()
      }
    })
  })
})
