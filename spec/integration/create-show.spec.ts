// End to end through createModelRouter in a real Express app over FilesystemStorage: the GGUF goes
// in over POST /api/blobs/:digest, then POST /api/create and POST /api/show are called with raw HTTP (files, which ollama-js cannot type) and the real `ollama` client (from,
// show); then the created model is pushed to Debian's docker-registry and read back byte-identical.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import http, { type Server } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { Ollama } from 'ollama'
import { createModelRouter, FilesystemStorage } from '../../lib/index.js'
import { createHandler } from '../../lib/http/create-handler.js'
import { sampleGguf } from '../support/gguf-writer.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

async function post(url: string, body: unknown): Promise<{ status: number; type: string | null; lines: any[] }> {
  const response = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, type: response.headers.get('content-type'), lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }
}

describe('POST /api/create and /api/show', () => {
  let root: string
  let storage: FilesystemStorage
  let server: Server
  let url: string
  let client: Ollama
  let registry: StartedRegistry
  const weights = sampleGguf()
  const weightsDigest = sha(weights)

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'emp-create-'))
    storage = new FilesystemStorage({ root })
    registry = await startRegistry({ auth: 'none' })
    const options = { storage }
    const app = express()
    app.use(createModelRouter(options))
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    // The GGUF comes in the way a host app's users send it: a raw blob upload.
    const upload = await fetch(`${url}/api/blobs/${weightsDigest}`, { method: 'POST', body: weights })
    assert.equal(upload.status, 201)
    client = new Ollama({ host: url })
  })
  after(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await registry?.stop()
    await fs.rm(root, { recursive: true, force: true })
  })

  it('creates from files (raw HTTP): Ollama progress lines, the uploaded blob as model layer, the manifest on disk in Ollama layout', async () => {
    const result = await post(`${url}/api/create`, { model: 'tiny', files: { 'tiny.gguf': weightsDigest }, system: 'Be brief.' })
    assert.equal(result.status, 200)
    assert.equal(result.type, 'application/x-ndjson')
    const manifestPath = path.join(root, 'manifests', 'registry.ollama.ai', 'library', 'tiny', 'latest')
    const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8'))
    assert.deepEqual(result.lines, [
      { status: 'parsing GGUF' },
      { status: `using existing layer ${weightsDigest}` },
      { status: `creating new layer ${sha('Be brief.')}` },
      { status: 'writing manifest' },
      { status: 'success' },
    ])
    assert.deepEqual(manifest.layers[0], { mediaType: 'application/vnd.ollama.image.model', digest: weightsDigest, size: weights.length })
    const config = JSON.parse(await fs.readFile(path.join(root, 'blobs', manifest.config.digest.replace(':', '-')), 'utf8'))
    assert.deepEqual(config, {
      model_format: 'gguf', model_family: 'llama', model_families: ['llama'], model_type: '5K', file_type: 'Q4_K_M', architecture: 'amd64', os: 'linux',
      rootfs: { type: 'layers', diff_ids: [weightsDigest, sha('Be brief.')] },
    })
    assert.deepEqual((await fs.readdir(path.join(root, 'blobs'))).filter((f) => !/^sha256-[0-9a-f]{64}$/.test(f)), [], 'no temp files left')
  })

  it('takes a body far larger than a push body (a 200 KiB license), and refuses one past 8 MiB', async () => {
    const license = 'L'.repeat(200 * 1024)
    const result = await post(`${url}/api/create`, { model: 'licensed', from: 'tiny', license, stream: false })
    assert.equal(result.status, 200)
    assert.ok(await storage.statBlob(sha(license)))
    const huge = await post(`${url}/api/create`, { model: 'licensed', from: 'tiny', license: 'L'.repeat(10 * 1024 * 1024) })
    assert.deepEqual([huge.status, huge.lines], [413, [{ error: 'request body is too large', code: 'INVALID_REQUEST' }]])
    // The unread rest of that body must not break the client's next request (keep-alive socket).
    const next = await post(`${url}/api/create`, { model: 'licensed', from: 'tiny', stream: false })
    assert.equal(next.status, 200)
  })

  it('stream:false answers one {"status":"success"} (sha256- digests accepted)', async () => {
    const result = await post(`${url}/api/create`, { model: 'tiny2', files: { 'tiny.gguf': weightsDigest.replace(':', '-') }, stream: false })
    assert.deepEqual([result.status, result.type, result.lines], [200, 'application/json; charset=utf-8', [{ status: 'success' }]])
  })

  it('the ollama client forwards files (untyped there) and gets ResponseErrors with the statuses', async () => {
    const request = { model: 'via-client', files: { 'm.gguf': weightsDigest }, stream: false as const }
    assert.deepEqual(await client.create(request), { status: 'success' })
    assert.ok(await storage.readManifest({ host: 'registry.ollama.ai', namespace: 'library', model: 'via-client', tag: 'latest' }))
    await assert.rejects(client.create({ model: 'q', from: 'tiny', quantize: 'q4_K_M' }), (e: any) => e.name === 'ResponseError' && e.status_code === 400 && /quantize is not supported/.test(e.error))
    await assert.rejects(client.create({ model: 'q', from: 'missing-parent' }), (e: any) => e.status_code === 404 && e.error === 'model "missing-parent:latest" not found')
  })

  it('answers every problem known before streaming with a real status and nothing created', async () => {
    const missing = sha('not uploaded')
    await storage.writeBlob(sha('plain text'), Readable.from([Buffer.from('plain text')]))
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 400, /not valid JSON/],
      [{ files: { 'm.gguf': weightsDigest } }, 400, /^model is required$/],
      [{ model: 'bad', files: { '../m.gguf': weightsDigest } }, 400, /^file path must be relative$/],
      [{ model: 'bad', files: { '/abs/m.gguf': weightsDigest } }, 400, /^file path must be relative$/],
      [{ model: 'bad', files: { 'm.gguf': '' } }, 400, /^invalid digest format$/],
      [{ model: 'bad' }, 400, /^neither 'from' or 'files' was specified$/],
      [{ model: 'bad', from: 'tiny', quantize: 'q4_K_M' }, 400, /^quantize is not supported/],
      [{ model: '../../etc/bad', from: 'tiny' }, 400, /^invalid model name/],
      [{ model: 'bad', files: { 'm.gguf': missing } }, 400, /is not in the store/],
      [{ model: 'bad', files: { 'm.gguf': sha('plain text') } }, 400, /was not in GGUF format/],
      [{ model: 'bad', from: 'nowhere' }, 404, /^model "nowhere:latest" not found$/],
      [{ model: 'bad', from: 'tiny', parameters: 'x' }, 400, /parameters/],
    ]
    for (const [body, status, message] of cases) {
      const result = await post(`${url}/api/create`, body)
      assert.equal(result.status, status, JSON.stringify(body))
      assert.match(result.lines[0].error, message, JSON.stringify(body))
    }
    await assert.rejects(fs.stat(path.join(root, 'manifests', 'registry.ollama.ai', 'library', 'bad')), { code: 'ENOENT' })
  })

  it('a GGUF that breaks off is an in-band error line after "parsing GGUF" (400 with stream:false)', async () => {
    const cut = weights.subarray(0, 300)
    await storage.writeBlob(sha(cut), Readable.from([cut]))
    const streamed = await post(`${url}/api/create`, { model: 'cut', files: { 'm.gguf': sha(cut) } })
    assert.equal(streamed.status, 200)
    assert.deepEqual(streamed.lines[0], { status: 'parsing GGUF' })
    assert.match(streamed.lines[1].error, /not a usable GGUF file/)
    assert.equal(streamed.lines.length, 2)
    const single = await post(`${url}/api/create`, { model: 'cut', files: { 'm.gguf': sha(cut) }, stream: false })
    assert.equal(single.status, 400)
    assert.equal(await storage.readManifest({ host: 'registry.ollama.ai', namespace: 'library', model: 'cut', tag: 'latest' }), undefined)
  })

  it('the ollama client creates from a local model and shows it as Ollama does', async () => {
    const lines = []
    for await (const line of await client.create({
      model: 'team/child:v1',
      from: 'tiny',
      template: '{{ .System }} {{ .Prompt }}',
      system: 'Answer in French.',
      license: ['MIT', 'second license\nline two'],
      parameters: { temperature: 0.25, stop: ['<|end|>', 'User:'], num_ctx: 2048 },
      messages: [{ role: 'user', content: 'Bonjour' }, { role: 'assistant', content: 'Salut !' }],
      stream: true,
    })) lines.push(line)
    assert.deepEqual(lines.at(-1), { status: 'success' })
    assert.deepEqual(lines.at(-2), { status: 'writing manifest' })

    const shown = await client.show({ model: 'team/child:v1' })
    const stat = await fs.stat(path.join(root, 'manifests', 'registry.ollama.ai', 'team', 'child', 'v1'))
    assert.equal(shown.license, 'MIT\nsecond license\nline two')
    assert.equal(shown.template, '{{ .System }} {{ .Prompt }}')
    assert.equal(shown.system, 'Answer in French.')
    assert.equal(shown.parameters, [
      'num_ctx                        2048',
      'stop                           "<|end|>"',
      'stop                           "User:"',
      'temperature                    0.25',
    ].join('\n'))
    assert.deepEqual(shown.details, { parent_model: 'tiny:latest', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '5K', quantization_level: 'Q4_K_M' })
    assert.deepEqual((shown as any).messages, [{ role: 'user', content: 'Bonjour' }, { role: 'assistant', content: 'Salut !' }])
    assert.equal(new Date(shown.modified_at).getTime(), stat.mtime.getTime())
    assert.deepEqual((shown as any).capabilities, ['completion'])
    assert.equal(shown.modelfile, [
      '# Modelfile generated by "ollama show"',
      '# To build a new Modelfile based on this, replace FROM with:',
      '# FROM team/child:v1',
      '',
      'FROM team/child:v1',
      'TEMPLATE {{ .System }} {{ .Prompt }}',
      'SYSTEM Answer in French.',
      'PARAMETER num_ctx 2048',
      'PARAMETER stop <|end|>',
      'PARAMETER stop User:',
      'PARAMETER temperature 0.25',
      'LICENSE MIT',
      'LICENSE "second license\nline two"',
      'MESSAGE user Bonjour',
      'MESSAGE assistant Salut !',
      '',
    ].join('\n'))
    const info = shown.model_info as unknown as Record<string, unknown>
    assert.deepEqual(Object.keys(info), [...Object.keys(info)].sort(), 'keys sorted like a Go map')
    assert.equal(info['general.architecture'], 'llama')
    assert.equal(info['llama.context_length'], 4096)
    assert.equal(info['llama.rope.freq_base'], 10000)
    assert.equal(info['llama.attention.layer_norm_rms_epsilon'], 1e-5, 'a float32 as Go prints it, not widened')
    assert.equal(info['general.parameter_count'], 4608)
    assert.equal(info['tokenizer.ggml.tokens'], null, 'arrays are left out unless verbose')
    assert.ok(!('general.name' in info) && !('tokenizer.chat_template' in info))
    // ollama-js types no `verbose` but spreads the request into the body.
    const verboseRequest = { model: 'team/child:v1', verbose: true }
    const verbose = await client.show(verboseRequest)
    assert.deepEqual((verbose.model_info as unknown as Record<string, unknown>)['tokenizer.ggml.tokens'], ['<s>', '</s>', 'a', 'b', 'c', 'd', 'e'])
    assert.deepEqual((verbose.model_info as unknown as Record<string, unknown>)['tokenizer.ggml.scores'], [0, 0, -1, -2, -3, -4, -5])
  })

  it('null for an optional field means "not given" on every route, as in Ollama; a wrong type is still 400', async () => {
    const created = await post(`${url}/api/create`, { model: 'nulls', from: 'tiny', system: null, template: null, license: null, parameters: null, messages: null, stream: null })
    assert.equal(created.status, 200)
    assert.deepEqual(created.lines.at(-1), { status: 'success' }, 'stream: null streams, as when absent')
    const shown = await post(`${url}/api/show`, { model: 'nulls', name: null, verbose: null })
    assert.equal(shown.status, 200)
    assert.equal(shown.lines[0].system, 'Be brief.', 'system: null kept the parent\'s')
    const wrong = await post(`${url}/api/create`, { model: 'nulls', from: 5 })
    assert.deepEqual([wrong.status, wrong.lines[0].code], [400, 'INVALID_REQUEST'])
    const copied = await fetch(`${url}/api/copy`, { method: 'POST', body: JSON.stringify({ source: 'nulls', destination: 'nulls2', model: null }) })
    assert.equal(copied.status, 200)
    for (const model of ['nulls', 'nulls2']) {
      const deleted = await fetch(`${url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model, name: null }) })
      assert.equal(deleted.status, 200)
    }
  })

  it('show answers 400 without a model and 404 with Ollama\'s wording for an unknown one', async () => {
    await assert.rejects(client.show({ model: 'nope' }), (error: any) => error.status_code === 404 && error.error === "model 'nope:latest' not found")
    const invalid = await post(`${url}/api/show`, { model: 'a/../b' })
    assert.equal(invalid.status, 400)
    assert.match(invalid.lines[0].error, /^invalid model name: /)
    const missing = await post(`${url}/api/show`, {})
    assert.deepEqual([missing.status, missing.lines], [400, [{ error: 'model is required', code: 'INVALID_REQUEST' }]])
    const named = await post(`${url}/api/show`, { name: 'tiny' })
    assert.equal(named.status, 200, '`name` is accepted for `model`')
    assert.equal(named.lines[0].template, '{{ .Prompt }}', "Ollama's default template when the model has none")
    assert.equal(named.lines[0].system, 'Be brief.')
  })

  // If the abort never reached the create, the gated write would wait for ever: the timeout (and the
  // unref'd server) turn that into a failure instead of a hang.
  it('a client that disconnects mid-create aborts it: the blob it had written is removed, no manifest', { timeout: 60_000 }, async () => {
    // A store that reports when one layer's blob is written and holds the next write until the
    // create's signal fires: the client disconnects between the two (no timing involved), and the
    // blob written before must be taken back.
    const template = 'T written then taken back'
    const system = 'S never written'
    let sawAbort = false
    let written: () => void = () => undefined
    let finished: () => void = () => undefined
    const templateWritten = new Promise<void>((resolve) => (written = resolve))
    const handlerFinished = new Promise<void>((resolve) => (finished = resolve))
    class GatedStorage extends FilesystemStorage {
      override async writeBlob(digest: string, content: Readable, options: { signal?: AbortSignal; size?: number } = {}) {
        if (digest === sha(system) && options.signal) {
          if (!options.signal.aborted) await new Promise((resolve) => options.signal!.addEventListener('abort', resolve, { once: true }))
          sawAbort = true
        }
        const result = await super.writeBlob(digest, content, options)
        if (digest === sha(template)) written()
        return result
      }
    }
    const gated = new GatedStorage({ root })
    const app = express()
    const handler = createHandler({ storage: gated })
    // The handler resolves once the create has ended and cleaned up after itself.
    app.post('/api/create', (req, res) => handler(req, res).finally(finished))
    const gatedServer: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    gatedServer.unref()
    try {
      const port = (gatedServer.address() as AddressInfo).port
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/create' })
      req.on('error', () => undefined)
      req.end(JSON.stringify({ model: 'aborted', files: { 'm.gguf': weightsDigest }, template, system }))
      await templateWritten
      await fs.stat(path.join(root, 'blobs', sha(template).replace(':', '-')))
      req.destroy() // the client goes away while the next layer is being written
      await handlerFinished
      assert.ok(sawAbort, 'the pending write saw the abort')
      await assert.rejects(fs.stat(path.join(root, 'blobs', sha(template).replace(':', '-'))), { code: 'ENOENT' })
      await assert.rejects(fs.stat(path.join(root, 'blobs', sha(system).replace(':', '-'))), { code: 'ENOENT' })
      assert.equal(await gated.readManifest({ host: 'registry.ollama.ai', namespace: 'library', model: 'aborted', tag: 'latest' }), undefined)
      assert.deepEqual((await fs.readdir(path.join(root, 'blobs'))).filter((f) => !/^sha256-[0-9a-f]{64}$/.test(f)), [], 'no temp files left')
    } finally {
      gatedServer.closeAllConnections()
      await new Promise((resolve) => gatedServer.close(resolve))
    }
  })

  it('re-creating a name replaces the manifest and removes the blobs only it used', async () => {
    await post(`${url}/api/create`, { model: 'again', files: { 'm.gguf': weightsDigest }, system: 'first system' })
    const firstSystem = path.join(root, 'blobs', sha('first system').replace(':', '-'))
    await fs.stat(firstSystem)
    const result = await post(`${url}/api/create`, { model: 'again', files: { 'm.gguf': weightsDigest }, system: 'second system', stream: false })
    assert.equal(result.status, 200)
    await assert.rejects(fs.stat(firstSystem), { code: 'ENOENT' })
    await fs.stat(path.join(root, 'blobs', weightsDigest.replace(':', '-')))
  })

  it('a created model pushes to the registry and reads back byte-identical', async () => {
    const name = `${registry.host}/team/tiny:q4`
    const created = await post(`${url}/api/create`, { model: name, files: { 'tiny.gguf': weightsDigest }, template: 'T', parameters: { top_k: 20 }, stream: false })
    assert.equal(created.status, 200)
    const pushed = await client.push({ model: name, insecure: true, stream: false })
    assert.deepEqual(pushed, { status: 'success' })
    const local = await fs.readFile(path.join(root, 'manifests', registry.host, 'team', 'tiny', 'q4'))
    const remote = await registry.getManifest('team/tiny', 'q4')
    assert.equal(remote.status, 200)
    assert.ok(remote.bytes.equals(local), 'registry manifest = local manifest bytes')
    const manifest = JSON.parse(local.toString('utf8'))
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      assert.equal(await registry.blobDigest('team/tiny', descriptor.digest), descriptor.digest)
    }
    assert.equal(manifest.layers[0].digest, weightsDigest)
  })
})
