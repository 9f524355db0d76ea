// showModel and Go's value formatting it relies on: %v / %#v of params values, the Modelfile
// quoting, capabilities, and models whose weights are not GGUF (made by other tools).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { createModel } from '../../lib/create/create-model.js'
import { validateCreateBody } from '../../lib/create/create-request.js'
import { goFloat, goQuote, modelfileQuote } from '../../lib/model/go-format.js'
import { parseModelName } from '../../lib/model/name.js'
import { showModel } from '../../lib/model/show.js'
import { MemoryStorage } from '../../lib/storage/memory.js'
import { buildGguf, gguf, sampleGguf } from '../support/gguf-writer.js'

const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

async function created(storage: MemoryStorage, body: Record<string, unknown>, weights: Buffer) {
  const digest = sha(weights)
  if (!(await storage.statBlob(digest))) await storage.writeBlob(digest, Readable.from([weights]))
  for await (const _ of createModel(validateCreateBody({ files: { 'm.gguf': digest }, ...body }, 'registry.ollama.ai'), { storage })) {
    // drain
  }
}

describe('Go formatting for show', () => {
  it('goFloat is %v of a float64: shortest digits, exponent below 1e-4 and from 1e6', () => {
    const cases: Array<[number, string]> = [[0, '0'], [1, '1'], [0.7, '0.7'], [4096, '4096'], [123456, '123456'], [1e6, '1e+06'], [1234567, '1.234567e+06'], [0.0001, '0.0001'], [1e-5, '1e-05'], [-2.5, '-2.5'], [1e21, '1e+21'], [1.5e-300, '1.5e-300']]
    for (const [value, text] of cases) assert.equal(goFloat(value), text, String(value))
  })

  it('goQuote is strconv.Quote; modelfileQuote is the Modelfile parser quote', () => {
    assert.equal(goQuote('a"b\\c\n\t\x01\x7f é'), '"a\\"b\\\\c\\n\\t\\x01\\x7f é"')
    assert.equal(modelfileQuote('plain'), 'plain')
    assert.equal(modelfileQuote('two\nlines'), '"two\nlines"')
    assert.equal(modelfileQuote(' edged'), '" edged"')
    assert.equal(modelfileQuote('say "hi"\nthen'), '"""say "hi"\nthen"""')
  })
})

describe('showModel', () => {
  it('guesses capabilities as Ollama does from the template and GGUF metadata', async () => {
    const storage = new MemoryStorage()
    await created(storage, { model: 'chat', template: '{{ if .Tools }}{{ .Tools }}{{ end }}{{ .Suffix }}' }, sampleGguf())
    assert.deepEqual((await showModel(storage, parseModelName('chat'))).capabilities, ['completion', 'tools', 'insert'])
    await created(storage, { model: 'embed' }, buildGguf({ metadata: { 'general.architecture': 'bert', 'bert.pooling_type': gguf.u32(1) } }))
    assert.deepEqual((await showModel(storage, parseModelName('embed'))).capabilities, ['embedding'])
  })

  it('shows a model whose weights are not GGUF from its config alone, and 404s an unknown one', async () => {
    const storage = new MemoryStorage()
    storage.addModel('other', {
      config: Buffer.from('{"model_format":"gguf","model_family":"phi3","model_families":["phi3"],"model_type":"3.8B","file_type":"Q4_0"}\n'),
      layers: [{ mediaType: 'application/vnd.ollama.image.model', data: Buffer.from('not really weights') }, { mediaType: 'application/vnd.ollama.image.system', data: Buffer.from('sys') }],
    })
    const shown = await showModel(storage, parseModelName('other'))
    assert.deepEqual(shown.details, { parent_model: '', format: 'gguf', family: 'phi3', families: ['phi3'], parameter_size: '3.8B', quantization_level: 'Q4_0' })
    assert.deepEqual(shown.model_info, {})
    assert.equal(shown.system, 'sys')
    assert.equal(shown.capabilities, undefined)
    await assert.rejects(showModel(storage, parseModelName('team/none:v2')), (e: Error & { status?: number }) => e.status === 404 && e.message === "model 'team/none:v2' not found")
  })

  it('a system given to show replaces the model one in the answer and the Modelfile', async () => {
    const storage = new MemoryStorage()
    await created(storage, { model: 'sys', system: 'original' }, sampleGguf())
    const shown = await showModel(storage, parseModelName('sys'), { system: 'override' })
    assert.equal(shown.system, 'override')
    assert.match(shown.modelfile, /\nSYSTEM override\n/)
  })
})
