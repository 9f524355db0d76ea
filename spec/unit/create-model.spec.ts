// createModel, the framework-free core of /api/create, on MemoryStorage: Ollama's layers, order and
// replace/append rules, the config and manifest bytes, progress lines, the checks that must fail
// before the first event, in-band failures, aborts and pruning — each checked on the stored bytes.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { createModel } from '../../lib/create/create-model.js'
import { validateCreateBody, isRelativePath, type CreateRequest } from '../../lib/create/create-request.js'
import { goJson } from '../../lib/create/go-json.js'
import { ModelPushError } from '../../lib/errors.js'
import { parseModelName } from '../../lib/model/name.js'
import type { PushProgress } from '../../lib/model/types.js'
import { MemoryStorage } from '../../lib/storage/memory.js'
import { buildGguf, gguf, sampleGguf } from '../support/gguf-writer.js'

const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const DEFAULT = 'registry.ollama.ai'

async function put(storage: MemoryStorage, bytes: Buffer): Promise<string> {
  const digest = sha(bytes)
  await storage.writeBlob(digest, Readable.from([bytes]))
  return digest
}

async function run(storage: MemoryStorage, body: Record<string, unknown>, signal?: AbortSignal): Promise<PushProgress[]> {
  const lines: PushProgress[] = []
  for await (const line of createModel(validateCreateBody(body, DEFAULT), { storage }, { signal })) lines.push(line)
  return lines
}

async function blobText(storage: MemoryStorage, digest: string): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of await storage.openBlob(digest)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function manifestOf(storage: MemoryStorage, name: string) {
  const manifest = await storage.readManifest(parseModelName(name))
  assert.ok(manifest, `${name} exists`)
  return { manifest, json: JSON.parse(manifest.bytes.toString('utf8')) as { layers: Array<Record<string, unknown>>; config: Record<string, unknown> } }
}

/** The error createModel throws before its first event. */
async function firstError(storage: MemoryStorage, body: Record<string, unknown>): Promise<ModelPushError> {
  try {
    const events = createModel(validateCreateBody(body, DEFAULT), { storage })
    await events.next()
  } catch (error) {
    assert.ok(error instanceof ModelPushError, String(error))
    return error
  }
  assert.fail('expected an error before the first event')
}

describe('createModel from files', () => {
  it('makes the uploaded GGUF the model layer (digest unchanged) plus Ollama-ordered text layers, config and manifest bytes', async () => {
    const storage = new MemoryStorage()
    const weights = sampleGguf()
    const digest = await put(storage, weights)
    const lines = await run(storage, {
      model: 'tiny',
      files: { 'tiny.gguf': digest.replace(':', '-') },
      template: '{{ .Prompt }} <b>',
      system: 'You are terse.',
      license: ['MIT', 'Apache-2.0'],
      parameters: { temperature: 0.5, stop: ['<|end|>', '&'], num_ctx: 4096 },
      messages: [{ role: 'user', content: 'hi', ignored: 1 }, { role: 'assistant', content: 'hello' }],
    })
    const template = Buffer.from('{{ .Prompt }} <b>')
    const system = Buffer.from('You are terse.')
    const params = Buffer.from('{"num_ctx":4096,"stop":["\\u003c|end|\\u003e","\\u0026"],"temperature":0.5}\n')
    const messages = Buffer.from('[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]\n')
    const layerDigests = [digest, sha(template), sha(system), sha('MIT'), sha('Apache-2.0'), sha(params), sha(messages)]
    assert.deepEqual(lines, [
      { status: 'parsing GGUF' },
      { status: `using existing layer ${digest}` },
      ...layerDigests.slice(1).map((d) => ({ status: `creating new layer ${d}` })),
      { status: 'writing manifest' },
      { status: 'success' },
    ])
    const config = Buffer.from(
      `{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"5K","file_type":"Q4_K_M","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":${JSON.stringify(layerDigests)}}}\n`,
    )
    const layer = (mediaType: string, bytes: Buffer, extra = {}) => ({ mediaType: `application/vnd.ollama.image.${mediaType}`, digest: sha(bytes), size: bytes.length, ...extra })
    const expected = `${JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(config), size: config.length },
      layers: [
        layer('model', weights),
        layer('template', template),
        layer('system', system),
        layer('license', Buffer.from('MIT')),
        layer('license', Buffer.from('Apache-2.0')),
        layer('params', params),
        layer('messages', messages),
      ],
    })}\n`
    const { manifest } = await manifestOf(storage, 'tiny')
    assert.equal(manifest.bytes.toString('utf8'), expected)
    assert.equal(await blobText(storage, sha(config)), config.toString())
    assert.equal(await blobText(storage, sha(params)), params.toString())
    assert.equal(await blobText(storage, sha(messages)), messages.toString())
    assert.equal(await blobText(storage, sha(template)), template.toString())
  })

  it('says "using existing layer" for text blobs already stored, and "0"/unknown for a model without tensors or file type', async () => {
    const storage = new MemoryStorage()
    const digest = await put(storage, buildGguf({ metadata: { 'general.architecture': 'bert', 'bert.pooling_type': gguf.u32(1) } }))
    await put(storage, Buffer.from('be brief'))
    const lines = await run(storage, { model: 'emb', files: { 'a.gguf': digest }, system: 'be brief' })
    assert.deepEqual(lines.slice(1, 3), [{ status: `using existing layer ${digest}` }, { status: `using existing layer ${sha('be brief')}` }])
    const { json } = await manifestOf(storage, 'emb')
    const config = JSON.parse(await blobText(storage, json.config.digest as string))
    assert.deepEqual([config.model_family, config.model_type, config.file_type], ['bert', '0', 'unknown'])
  })

  it('orders several files by name, types adapters and projectors as Ollama does', async () => {
    const storage = new MemoryStorage()
    const b = await put(storage, sampleGguf({ 'general.name': 'b' }))
    const a = await put(storage, buildGguf({ metadata: { 'general.architecture': 'clip', 'clip.has_vision_encoder': true }, tensors: [{ name: 'v', dims: [4] }] }))
    const lora = await put(storage, buildGguf({ metadata: { 'general.architecture': 'llama', 'general.type': 'adapter' } }))
    const lines = await run(storage, { model: 'multi', files: { 'z-model.gguf': b, 'a-proj.gguf': a }, adapters: { 'lora.gguf': lora } })
    assert.equal(lines.filter((l) => l.status === 'parsing GGUF').length, 3)
    const { json } = await manifestOf(storage, 'multi')
    // Files sorted by name (a-proj before z-model), then the adapter; no `from` on uploaded files.
    assert.deepEqual(json.layers.map((l) => [l.mediaType, l.digest, l.from]), [
      ['application/vnd.ollama.image.projector', a, undefined],
      ['application/vnd.ollama.image.model', b, undefined],
      ['application/vnd.ollama.image.adapter', lora, undefined],
    ])
    const config = JSON.parse(await blobText(storage, json.config.digest as string))
    assert.deepEqual(config.model_families, ['llama'], 'only model layers count as families')
  })
})

describe('createModel: GGUF kinds in files', () => {
  it('a file with general.type=adapter becomes an adapter layer; a split GGUF part is refused in-band', async () => {
    const storage = new MemoryStorage()
    const base = await put(storage, sampleGguf())
    const lora = await put(storage, buildGguf({ metadata: { 'general.architecture': 'llama', 'general.type': 'adapter' } }))
    await run(storage, { model: 'with-lora', files: { 'a.gguf': base, 'b.gguf': lora } })
    const { json } = await manifestOf(storage, 'with-lora')
    assert.deepEqual(json.layers.map((l) => l.mediaType), ['application/vnd.ollama.image.model', 'application/vnd.ollama.image.adapter'])
    const part = await put(storage, sampleGguf({ 'split.count': gguf.u16(2), 'split.no': gguf.u16(0) }))
    await assert.rejects(run(storage, { model: 'split', files: { 'm-00001-of-00002.gguf': part } }), /one part of a split GGUF model/)
    assert.equal(await storage.readManifest(parseModelName('split')), undefined)
  })
})

describe('createModel from a local model', () => {
  async function parentStore() {
    const storage = new MemoryStorage()
    const digest = await put(storage, sampleGguf())
    await run(storage, {
      model: 'team/base:v1',
      files: { 'base.gguf': digest },
      template: 'T1',
      system: 'S1',
      license: 'L1',
      parameters: { temperature: 0.7, top_k: 40 },
      messages: [{ role: 'user', content: 'm1' }],
    })
    return { storage, digest }
  }

  it('keeps the parent layers with "from", replaces template/system/params/messages (moved to the end), appends licenses', async () => {
    const { storage, digest } = await parentStore()
    const lines = await run(storage, { model: 'child', from: 'team/base:v1', system: 'S2', license: 'L2', parameters: { temperature: 0.1 } })
    assert.equal(lines[0]!.status, `using existing layer ${digest}`, 'no parsing line for from-only creates')
    const { json } = await manifestOf(storage, 'child')
    const kinds = json.layers.map((l) => `${String(l.mediaType).slice(29)}${l.from ? `<${String(l.from)}` : ''}`)
    assert.deepEqual(kinds, ['model<team/base:v1', 'template<team/base:v1', 'license<team/base:v1', 'messages<team/base:v1', 'system', 'license', 'params'])
    const params = json.layers.find((l) => l.mediaType === 'application/vnd.ollama.image.params')!
    assert.equal(await blobText(storage, params.digest as string), '{"temperature":0.1,"top_k":40}\n', 'parent values merged under the new ones')
    const config = JSON.parse(await blobText(storage, json.config.digest as string))
    assert.deepEqual([config.model_family, config.model_type, config.file_type, config.model_families], ['llama', '5K', 'Q4_K_M', ['llama']])
  })

  it('a full-name parent keeps its host in "from"; a new template replaces the parent one', async () => {
    const { storage } = await parentStore()
    await run(storage, { model: 'registry.example.com:5000/x/copy', from: 'team/base:v1' })
    await run(storage, { model: 'grandchild', from: 'registry.example.com:5000/x/copy', template: 'T2' })
    const { json } = await manifestOf(storage, 'grandchild')
    assert.equal(json.layers[0]!.from, 'registry.example.com:5000/x/copy:latest')
    const templates = json.layers.filter((l) => l.mediaType === 'application/vnd.ollama.image.template')
    assert.equal(templates.length, 1)
    assert.equal(await blobText(storage, templates[0]!.digest as string), 'T2')
  })

  it('500 before any event when the parent lacks one of its blobs, and nothing is written', async () => {
    const { storage } = await parentStore()
    await storage.deleteBlob(sha('S1'))
    const error = await firstError(storage, { model: 'orphan', from: 'team/base:v1' })
    assert.equal(error.status, 500)
    assert.match(error.message, /model "team\/base:v1" is incomplete: its blob sha256:[0-9a-f]{64} is missing/)
    assert.equal(await storage.readManifest(parseModelName('orphan')), undefined)
  })

  it('404 for an unknown parent, never pulled, before any event', async () => {
    const storage = new MemoryStorage()
    const error = await firstError(storage, { model: 'x', from: 'nowhere/model:tag' })
    assert.equal(error.status, 404)
    assert.equal(error.message, 'model "nowhere/model:tag" not found')
  })
})

describe('createModel: re-create, failures, aborts', () => {
  it('re-creating a name replaces its manifest and removes the blobs nothing else uses', async () => {
    const storage = new MemoryStorage()
    const digest = await put(storage, sampleGguf())
    await run(storage, { model: 'a', files: { 'm.gguf': digest }, system: 'old system', license: 'shared' })
    await run(storage, { model: 'b', files: { 'm.gguf': digest }, license: 'shared' })
    const old = await manifestOf(storage, 'a')
    await run(storage, { model: 'a', files: { 'm.gguf': digest }, system: 'new system' })
    assert.equal(await storage.statBlob(sha('old system')), undefined, 'old system blob pruned')
    assert.equal(await storage.statBlob(old.json.config.digest as string), undefined, 'old config pruned')
    assert.ok(await storage.statBlob(sha('shared')), 'a license b still uses stays')
    assert.ok(await storage.statBlob(digest), 'the weights stay')
    assert.ok(await storage.statBlob(sha('new system')))
  })

  it('fails before the first event with 400 for a missing blob, a non-GGUF blob, and 501 for a read-only store', async () => {
    const storage = new MemoryStorage()
    const missing = sha('nothing')
    let error = await firstError(storage, { model: 'x', files: { 'm.gguf': missing } })
    assert.equal(error.status, 400)
    assert.match(error.message, /not in the store/)
    const zip = await put(storage, Buffer.from('PK\x03\x04 not a model'))
    error = await firstError(storage, { model: 'x', files: { 'm.gguf': zip } })
    assert.deepEqual([error.status, error.message], [400, 'supplied file "m.gguf" was not in GGUF format'])
    error = await firstError(storage, { model: 'x', files: { 'm.safetensors': zip } })
    assert.match(error.message, /only GGUF files are supported/)
    const readOnly = { readManifest: storage.readManifest.bind(storage), statBlob: storage.statBlob.bind(storage), openBlob: storage.openBlob.bind(storage) }
    try {
      await createModel(validateCreateBody({ model: 'x', files: { 'm.gguf': zip } }, DEFAULT), { storage: readOnly }).next()
      assert.fail('expected 501')
    } catch (e) {
      assert.equal((e as ModelPushError).status, 501)
    }
    assert.deepEqual(await storage.listModels(), [], 'nothing was created')
  })

  it('a GGUF cut short fails in-band after "parsing GGUF" and leaves no manifest and no new blob', async () => {
    const storage = new MemoryStorage()
    const whole = sampleGguf()
    const digest = await put(storage, whole.subarray(0, 200))
    const lines: PushProgress[] = []
    await assert.rejects(async () => {
      for await (const line of createModel(validateCreateBody({ model: 'cut', files: { 'm.gguf': digest }, system: 'unused' }, DEFAULT), { storage })) lines.push(line)
    }, /file "m.gguf" is not a usable GGUF file: .*truncated/)
    assert.deepEqual(lines, [{ status: 'parsing GGUF' }])
    assert.deepEqual(await storage.listModels(), [])
    assert.equal(await storage.statBlob(sha('unused')), undefined)
  })

  it('an abort after the layers were written removes the blobs it made and writes no manifest', async () => {
    const storage = new MemoryStorage()
    const digest = await put(storage, sampleGguf())
    const controller = new AbortController()
    const events = createModel(validateCreateBody({ model: 'ab', files: { 'm.gguf': digest }, system: 'made then taken back' }, DEFAULT), { storage }, { signal: controller.signal })
    // The consumer reads on after the abort: the create itself must see the signal and stop with
    // ABORTED (a consumer that stops iterating is the next test).
    await assert.rejects(async () => {
      for await (const line of events) {
        if (line.status.startsWith('creating new layer') && !controller.signal.aborted) {
          assert.ok(await storage.statBlob(sha('made then taken back')), 'the blob was written')
          controller.abort()
        }
      }
    }, { code: 'ABORTED' })
    assert.deepEqual(await storage.listModels(), [])
    assert.equal(await storage.statBlob(sha('made then taken back')), undefined, 'removed again')
    assert.ok(await storage.statBlob(digest), 'the upload itself stays')
  })

  it('a consumer that stops iterating after the layers were written gets the same clean-up', async () => {
    const storage = new MemoryStorage()
    const digest = await put(storage, sampleGguf())
    const events = createModel(validateCreateBody({ model: 'ab', files: { 'm.gguf': digest }, system: 'made then taken back' }, DEFAULT), { storage })
    for await (const line of events) {
      if (line.status.startsWith('creating new layer')) {
        assert.ok(await storage.statBlob(sha('made then taken back')), 'the blob was written')
        break // as the router does when the client goes away
      }
    }
    assert.deepEqual(await storage.listModels(), [])
    assert.equal(await storage.statBlob(sha('made then taken back')), undefined, 'removed again')
  })
})

describe('validateCreateBody', () => {
  const status = (body: unknown) => {
    try {
      validateCreateBody(body, DEFAULT)
      return 'ok'
    } catch (error) {
      return `${(error as ModelPushError).status} ${(error as Error).message}`
    }
  }
  const d = `sha256:${'a'.repeat(64)}`

  it("answers Ollama's 400s", () => {
    assert.equal(status({ model: 'x', files: { '../m.gguf': d } }), '400 file path must be relative')
    assert.equal(status({ model: 'x', files: { '/etc/m.gguf': d } }), '400 file path must be relative')
    assert.equal(status({ model: 'x', files: { 'a//b': d } }), '400 file path must be relative')
    assert.equal(status({ model: 'x', files: { 'm.gguf': '' } }), '400 invalid digest format')
    assert.equal(status({ model: 'x', files: { 'm.gguf': 'sha256:abc' } }), '400 invalid digest format')
    assert.equal(status({ model: 'x' }), "400 neither 'from' or 'files' was specified")
    assert.equal(status({ files: { 'm.gguf': d } }), '400 model is required')
    assert.equal(status({ model: 'x', files: { 'm.gguf': d }, adapters: { a: d, b: d } }), '400 only one adapter is currently supported')
    assert.match(status({ model: 'x', from: 'y', quantize: 'q4_K_M' }), /^400 quantize is not supported/)
    assert.match(status({ model: 'x', from: 'y', quantization: 'q8_0' }), /^400 quantize is not supported/)
    assert.match(status({ model: '../x', from: 'y' }), /^400 invalid model name/)
    assert.match(status({ model: 'x', from: 'a/b/c/d' }), /^400 invalid model name/)
    assert.match(status({ model: 'x', from: 'y', parameters: { stop: { nested: 1 } } }), /^400 /)
    assert.match(status({ model: 'x', from: 'y', license: 5 }), /^400 /)
    assert.match(status({ model: 'x', from: 'y', files: { 'm.gguf': d } }), /^400 give either/)
    assert.equal(status({ name: 'x', from: 'y', quantize: '' }), 'ok', '`name` works, empty quantize is no request')
  })

  it('normalises digests and sorts files; relative-path rule as Go fs.ValidPath', () => {
    const request: CreateRequest = validateCreateBody({ model: 'x', files: { 'b.gguf': `sha256-${'A'.repeat(64)}`, 'a.gguf': d } }, DEFAULT)
    assert.deepEqual(request.files, [{ file: 'a.gguf', digest: d }, { file: 'b.gguf', digest: `sha256:${'a'.repeat(64)}` }])
    assert.equal(request.stream, true)
    for (const ok of ['m.gguf', 'dir/m.gguf', '...']) assert.ok(isRelativePath(ok), ok)
    for (const bad of ['', '.', '/m', 'a/../m', 'a/./m', 'a/', 'a\\b', 'a\0b']) assert.ok(!isRelativePath(bad), JSON.stringify(bad))
  })

  it('goJson escapes like Go and sorts map keys by bytes', () => {
    assert.equal(goJson({ b: 1, a: '<&>\u2028', B: [{ z: 1, y: 2 }] }, { sortKeys: true }).toString(), '{"B":[{"y":2,"z":1}],"a":"\\u003c\\u0026\\u003e\\u2028","b":1}\n')
  })
})
