// Model names: Ollama's defaults and rules (types/model/name.go), the stricter refusals this package
// adds, and the display/repository forms the push uses.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidNameError } from '../../lib/errors.js'
import { displayModelName, formatModelName, modelNameKey, parseModelName, repositoryOf, sameModelName } from '../../lib/model/name.js'
import type { ModelName } from '../../lib/model/types.js'

const n = (host: string, namespace: string, model: string, tag: string): ModelName => ({ host, namespace, model, tag })

describe('parseModelName', () => {
  it("fills Ollama's defaults: registry.ollama.ai, library, latest", () => {
    const cases: Array<[string, ModelName]> = [
      ['llama3', n('registry.ollama.ai', 'library', 'llama3', 'latest')],
      ['llama3:8b', n('registry.ollama.ai', 'library', 'llama3', '8b')],
      ['llama3.2:3b-instruct-q4_K_M', n('registry.ollama.ai', 'library', 'llama3.2', '3b-instruct-q4_K_M')],
      ['team/coder', n('registry.ollama.ai', 'team', 'coder', 'latest')],
      ['team/coder:v1.0', n('registry.ollama.ai', 'team', 'coder', 'v1.0')],
      ['registry.example.com/team/coder:v1', n('registry.example.com', 'team', 'coder', 'v1')],
      ['_private/_model:_tag', n('registry.ollama.ai', '_private', '_model', '_tag')],
      ['a/b-c_d/e.f-g_h:i.j-k_l', n('a', 'b-c_d', 'e.f-g_h', 'i.j-k_l')],
    ]
    for (const [input, expected] of cases) assert.deepEqual(parseModelName(input), expected, input)
  })

  it('accepts a host with a port, which needs the full host/namespace/model form', () => {
    assert.deepEqual(parseModelName('localhost:5000/team/coder:q4'), n('localhost:5000', 'team', 'coder', 'q4'))
    assert.deepEqual(parseModelName('127.0.0.1:65535/library/llama3'), n('127.0.0.1:65535', 'library', 'llama3', 'latest'))
    assert.deepEqual(parseModelName('registry_1.local/x/y'), n('registry_1.local', 'x', 'y', 'latest'))
  })

  it('uses defaultRegistry for names without a host, and validates it', () => {
    assert.deepEqual(parseModelName('llama3', { defaultRegistry: 'localhost:5000' }), n('localhost:5000', 'library', 'llama3', 'latest'))
    assert.deepEqual(parseModelName('team/coder:v2', { defaultRegistry: 'reg.example' }), n('reg.example', 'team', 'coder', 'v2'))
    assert.deepEqual(parseModelName('other.example/team/coder', { defaultRegistry: 'reg.example' }), n('other.example', 'team', 'coder', 'latest'))
    for (const bad of ['', 'https://reg.example', 'reg.example/path', 'host:0', 'host:99999', 'host:1:2']) {
      assert.throws(() => parseModelName('llama3', { defaultRegistry: bad }), (e: unknown) => e instanceof InvalidNameError && e.part === 'host', bad)
    }
  })

  it('keeps the case it was given (Ollama compares names ignoring case)', () => {
    const name = parseModelName('Registry.Example.com/Team/Llama3:Q4_K_M')
    assert.deepEqual(name, n('Registry.Example.com', 'Team', 'Llama3', 'Q4_K_M'))
    assert.ok(sameModelName(name, parseModelName('registry.example.com/team/llama3:q4_k_m')))
    assert.ok(!sameModelName(name, parseModelName('registry.example.com/team/llama3:q4')))
    assert.equal(modelNameKey(name), 'registry.example.com/team/llama3:q4_k_m')
  })

  it('accepts parts at their length limits (host 350, others 80) and refuses one more', () => {
    const host = `${'h'.repeat(345)}.test`
    const long = parseModelName(`${host}/${'n'.repeat(80)}/${'m'.repeat(80)}:${'t'.repeat(80)}`)
    assert.equal(long.host.length, 350)
    assert.equal(long.tag.length, 80)
    const over: Array<[string, string]> = [
      [`${'h'.repeat(351)}/n/m`, 'host'],
      [`h/${'n'.repeat(81)}/m`, 'namespace'],
      [`${'m'.repeat(81)}`, 'model'],
      [`m:${'t'.repeat(81)}`, 'tag'],
    ]
    for (const [input, part] of over) {
      assert.throws(() => parseModelName(input), (e: unknown) => e instanceof InvalidNameError && e.part === part && /longer than/.test(e.message), part)
    }
  })

  describe('refuses hostile and invalid names, naming the part', () => {
    const table: Array<[unknown, InvalidNameError['part'], RegExp?]> = [
      // the whole string
      ['', 'name', /empty/],
      [undefined, 'name', /string/],
      [null, 'name', /string/],
      [42, 'name', /string/],
      [['llama3'], 'name', /string/],
      [{ model: 'llama3' }, 'name', /string/],
      ['a/b/c/d', 'name', /segments/],
      ['host/ns/kind/model:tag', 'name', /segments/],
      ['a/b//c', 'name', /segments/],
      ['x'.repeat(600), 'name', /longer than/],
      // empty parts: leading, trailing, double "/", nothing after ":"
      ['/llama3', 'namespace', /empty/],
      ['llama3/', 'model', /empty/],
      ['team//llama3', 'namespace', /empty/],
      ['//llama3', 'host', /empty/],
      ['/', 'namespace', /empty/],
      ['llama3:', 'tag', /empty/],
      [':latest', 'model', /empty/],
      ['team/:latest', 'model', /empty/],
      // dots
      ['..', 'model', /start with/],
      ['../../etc/passwd', 'name', /segments/],
      ['../etc/passwd', 'host', /start with/],
      ['team/../llama3', 'namespace', /start with/],
      ['team/llama3/..', 'model', /start with/],
      ['llama..3', 'model', /"\.\."/],
      ['llama3:v1..2', 'tag', /"\.\."/],
      ['my..host/team/llama3', 'host', /"\.\."/],
      ['.hidden', 'model', /start with/],
      ['llama3:.tag', 'tag', /start with/],
      ['team.name/llama3', 'namespace', /namespaces cannot contain "\."/],
      // separators and escapes
      ['team\\llama3', 'model', /"\\"/],
      ['..\\..\\windows', 'model', /start with/],
      ['team/llama3\\..', 'model', /"\\"/],
      ['llama%2F3', 'model', /"%"/],
      ['llama3?x=1', 'model', /"\?"/],
      ['llama3#frag', 'model', /"#"/],
      // control characters and whitespace
      ['llama3\0', 'model', /U\+0000/],
      ['llama3:latest\0', 'tag', /U\+0000/],
      ['llama\n3', 'model', /U\+000A/],
      ['llama3\r', 'model', /U\+000D/],
      ['llama3\t', 'model', /U\+0009/],
      ['\u001b[31mllama3', 'model', /U\+001B/],
      [' llama3', 'model', /a space/],
      ['llama3 ', 'model', /a space/],
      ['team /llama3', 'namespace', /a space/],
      ['llama3: latest', 'tag', /a space/],
      ['llama\u00a03', 'model', /U\+00A0/],
      ['llama\u20283', 'model', /U\+2028/],
      ['llamа3', 'model', /non-ASCII character U\+0430/],
      ['\u{1F999}', 'model', /U\+1F999/],
      // digests and schemes
      [`llama3@sha256:${'a'.repeat(64)}`, 'tag', /digest/],
      [`llama3:latest@sha256:${'a'.repeat(64)}`, 'tag', /digest/],
      [`team/llama3@sha256:${'a'.repeat(64)}`, 'tag', /digest/],
      ['user@host.example/team/llama3', 'host', /"@"/],
      ['https://registry.example.com/team/llama3', 'host', /scheme/],
      ['http://localhost:5000/team/llama3:q4', 'host', /scheme/],
      ['file:///etc/passwd', 'host', /scheme/],
      ['oci://reg/ns/m', 'host', /scheme/],
      // ports and colons
      ['localhost:5000/llama3', 'namespace', /host\/namespace\/model/],
      ['host:/ns/model', 'host', /port/],
      ['host:abc/ns/model', 'host', /port/],
      ['host:0/ns/model', 'host', /port/],
      ['host:65536/ns/model', 'host', /port/],
      ['host:1:2/ns/model', 'host', /only one ":"/],
      ['llama3:8b:q4', 'model', /":"/],
      ['-llama3', 'model', /start with/],
      ['team/-x/llama3', 'namespace', /start with/],
      ['llama3:-rc', 'tag', /start with/],
      ['llama3+Q4_0', 'model', /"\+"/],
    ]
    for (const [input, part, message] of table) {
      it(`${JSON.stringify(input) ?? String(input)} -> ${part}`, () => {
        assert.throws(
          () => parseModelName(input as string),
          (e: unknown) => {
            assert.ok(e instanceof InvalidNameError, 'InvalidNameError')
            assert.equal(e.part, part)
            assert.equal(e.code, 'INVALID_NAME')
            assert.equal(e.status, 400)
            if (message) assert.match(e.message, message)
            assert.ok(!/[\u0000-\u001f\u007f]/.test(e.message), 'no raw control characters in the message')
            assert.ok(e.message.length < 200, 'short message')
            return true
          },
        )
      })
    }
  })

  it('reads skill/agent/mcp as ordinary namespaces, as Ollama main does (its kinds live on a branch)', () => {
    assert.deepEqual(parseModelName('agent/helper'), n('registry.ollama.ai', 'agent', 'helper', 'latest'))
    assert.deepEqual(parseModelName('registry.example.com/skill/helper'), n('registry.example.com', 'skill', 'helper', 'latest'))
    assert.deepEqual(parseModelName('localhost:5000/agent/helper:v1'), n('localhost:5000', 'agent', 'helper', 'v1'))
    assert.deepEqual(parseModelName('h/mcp/tool'), n('h', 'mcp', 'tool', 'latest'))
  })
})

describe('formatModelName, displayModelName, repositoryOf', () => {
  it('formats the full host/namespace/model:tag', () => {
    assert.equal(formatModelName(parseModelName('llama3')), 'registry.ollama.ai/library/llama3:latest')
    assert.equal(formatModelName(parseModelName('localhost:5000/Team/Coder:Q4')), 'localhost:5000/Team/Coder:Q4')
  })

  it("displays as Ollama's DisplayShortest: defaults left out, tag always shown, namespace kept with a host", () => {
    const cases: Array<[string, string]> = [
      ['llama3', 'llama3:latest'],
      ['llama3:8b', 'llama3:8b'],
      ['library/llama3', 'llama3:latest'],
      ['registry.ollama.ai/library/llama3:q4', 'llama3:q4'],
      ['REGISTRY.OLLAMA.AI/Library/Llama3', 'Llama3:latest'],
      ['team/coder', 'team/coder:latest'],
      ['registry.ollama.ai/team/coder:v1', 'team/coder:v1'],
      ['localhost:5000/library/llama3', 'localhost:5000/library/llama3:latest'],
      ['localhost:5000/team/coder:v1', 'localhost:5000/team/coder:v1'],
    ]
    for (const [input, shown] of cases) {
      assert.equal(displayModelName(parseModelName(input)), shown, input)
      assert.ok(sameModelName(parseModelName(shown), parseModelName(input)), `${shown} parses back`)
    }
  })

  it('displays relative to a custom default registry, so the display parses back the same way', () => {
    const options = { defaultRegistry: 'localhost:5000' }
    const name = parseModelName('team/coder:v1', options)
    assert.equal(displayModelName(name, options), 'team/coder:v1')
    assert.equal(displayModelName(name), 'localhost:5000/team/coder:v1')
    assert.equal(displayModelName(parseModelName('registry.ollama.ai/library/llama3'), options), 'registry.ollama.ai/library/llama3:latest')
  })

  it('gives the lowercase namespace/model as the OCI repository, leaving host and tag to the caller', () => {
    assert.equal(repositoryOf(parseModelName('llama3')), 'library/llama3')
    assert.equal(repositoryOf(parseModelName('Registry.Example.com/Team/Llama3.2:Q4_K_M')), 'team/llama3.2')
  })
})
