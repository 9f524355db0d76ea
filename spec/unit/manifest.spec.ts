// Parsing stored manifests: the bytes stay untouched, the descriptors are checked, and a corrupt
// manifest becomes a short BLOB_INVALID StorageError that never echoes the content.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { StorageError } from '../../lib/errors.js'
import { DOCKER_MANIFEST_V2, isSha256Digest, MAX_MANIFEST_BYTES, parseStoredManifest, serializeManifest } from '../../lib/storage/manifest.js'

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`
const config = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha('config'), size: 6 }
const weights = { mediaType: 'application/vnd.ollama.image.model', digest: sha('weights'), size: 7 }
const template = { mediaType: 'application/vnd.ollama.image.template', digest: sha('template'), size: 8 }

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

function invalid(input: Buffer, reason: RegExp) {
  assert.throws(
    () => parseStoredManifest(input, 'manifest of llama3'),
    (e: unknown) => {
      assert.ok(e instanceof StorageError)
      assert.equal(e.code, 'BLOB_INVALID')
      assert.equal(e.source, 'storage')
      assert.match(e.message, /^manifest of llama3 is invalid: /)
      assert.match(e.message, reason)
      assert.ok(e.message.length < 200, `short message: ${e.message}`)
      return true
    },
  )
}

describe('parseStoredManifest', () => {
  it("parses a manifest exactly as Ollama writes it, keeping the bytes (extra fields, trailing newline) untouched", () => {
    const text = `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST_V2}","config":${JSON.stringify(config)},"layers":[${JSON.stringify({ ...weights, from: '/x' })},${JSON.stringify({ ...template, name: 'n' })}]}\n`
    const input = Buffer.from(text)
    const manifest = parseStoredManifest(input)
    assert.equal(manifest.bytes, input, 'the very same Buffer')
    assert.equal(manifest.mediaType, DOCKER_MANIFEST_V2)
    assert.deepEqual(manifest.config, config)
    assert.deepEqual(manifest.layers, [{ ...weights, from: '/x' }, template], "Ollama's `from` is carried (a mount hint); other extra fields are dropped from the parsed view only")
  })

  it('defaults the media type to Docker v2 schema 2 and keeps an explicit OCI one', () => {
    assert.equal(parseStoredManifest(bytes({ schemaVersion: 2, config, layers: [] })).mediaType, DOCKER_MANIFEST_V2)
    const oci = 'application/vnd.oci.image.manifest.v1+json'
    assert.equal(parseStoredManifest(bytes({ schemaVersion: 2, mediaType: oci, config, layers: [weights] })).mediaType, oci)
  })

  it('accepts zero sizes and an empty layer list', () => {
    const empty = { ...weights, size: 0 }
    assert.deepEqual(parseStoredManifest(bytes({ schemaVersion: 2, config, layers: [empty] })).layers, [empty])
    assert.deepEqual(parseStoredManifest(bytes({ schemaVersion: 2, config, layers: [] })).layers, [])
  })

  it('refuses what is not a manifest, saying what is wrong', () => {
    const base = { schemaVersion: 2, config, layers: [weights] }
    invalid(Buffer.from(''), /not JSON/)
    invalid(Buffer.from('{"schemaVersion":2,'), /not JSON/)
    invalid(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), /not UTF-8/)
    invalid(bytes([base]), /not a JSON object/)
    invalid(bytes(null), /not a JSON object/)
    invalid(bytes({ ...base, schemaVersion: 1 }), /schemaVersion is 1, expected 2/)
    invalid(bytes({ ...base, schemaVersion: '2' }), /schemaVersion is "2"/)
    invalid(bytes({ config, layers: [] }), /schemaVersion is missing/)
    invalid(bytes({ ...base, mediaType: 42 }), /mediaType 42/)
    invalid(bytes({ ...base, mediaType: 'not a media type' }), /mediaType/)
    invalid(bytes({ ...base, config: undefined }), /config is not an object/)
    invalid(bytes({ ...base, config: [] }), /config is not an object/)
    invalid(bytes({ ...base, layers: undefined }), /layers is not an array/)
    invalid(bytes({ ...base, layers: {} }), /layers is not an array/)
    invalid(bytes({ ...base, layers: [weights, 'x'] }), /layers\[1\] is not an object/)
  })

  it('refuses descriptors with a bad digest, size or media type, naming the descriptor', () => {
    const bad: Array<[object, RegExp]> = [
      [{ ...weights, digest: weights.digest.toUpperCase().replace('SHA256', 'sha256') }, /layers\[0\]\.digest/],
      [{ ...weights, digest: `sha512:${'a'.repeat(128)}` }, /layers\[0\]\.digest/],
      [{ ...weights, digest: 'sha256:abc' }, /layers\[0\]\.digest "sha256:abc"/],
      [{ ...weights, digest: `sha256:${'a'.repeat(64)}/../x` }, /layers\[0\]\.digest/],
      [{ ...weights, digest: undefined }, /layers\[0\]\.digest missing/],
      [{ ...weights, size: -1 }, /layers\[0\]\.size -1/],
      [{ ...weights, size: 1.5 }, /layers\[0\]\.size 1.5/],
      [{ ...weights, size: '7' }, /layers\[0\]\.size "7"/],
      [{ ...weights, size: 2 ** 53 }, /layers\[0\]\.size/],
      [{ ...weights, size: undefined }, /layers\[0\]\.size missing/],
      [{ ...weights, mediaType: '' }, /layers\[0\]\.mediaType/],
      [{ ...weights, mediaType: undefined }, /layers\[0\]\.mediaType missing/],
    ]
    for (const [layer, reason] of bad) invalid(bytes({ schemaVersion: 2, config, layers: [layer] }), reason)
    invalid(bytes({ schemaVersion: 2, config: { ...config, digest: '' }, layers: [] }), /config\.digest ""/)
  })

  it('never echoes bulk content or control characters in its messages', () => {
    const secret = 'x'.repeat(10_000)
    invalid(bytes({ schemaVersion: 2, config: { ...config, digest: secret }, layers: [] }), /config\.digest "x{1,40}/)
    invalid(bytes({ schemaVersion: 2, config: { ...config, mediaType: '\u001b[31m\u0000evil' }, layers: [] }), /config\.mediaType "\\u001b/)
    invalid(bytes({ schemaVersion: { deep: secret }, config, layers: [] }), /schemaVersion is an object/)
  })

  it(`refuses manifests over ${MAX_MANIFEST_BYTES} bytes without parsing them`, () => {
    invalid(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), /larger than/)
  })
})

describe('serializeManifest', () => {
  it('writes what Ollama writes (compact, field order, one trailing newline) and parses back', () => {
    const out = serializeManifest(config, [weights, template])
    assert.equal(
      out.toString(),
      `{"schemaVersion":2,"mediaType":"${DOCKER_MANIFEST_V2}","config":${JSON.stringify(config)},"layers":[${JSON.stringify(weights)},${JSON.stringify(template)}]}\n`,
    )
    assert.deepEqual(parseStoredManifest(out).layers, [weights, template])
  })
})

describe('isSha256Digest', () => {
  it('accepts only sha256: and 64 lowercase hex digits', () => {
    assert.ok(isSha256Digest(sha('x')))
    for (const bad of [sha('x').toUpperCase(), `sha256-${'a'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(65)}`, `sha256:${'g'.repeat(64)}`, 42, undefined]) {
      assert.ok(!isSha256Digest(bad), String(bad))
    }
  })
})
