// The GGUF metadata reader against the test writer (and the writer against hand-checked bytes):
// every value type, versions 1–3, both byte orders, skipped arrays, parameter counts, and clear
// GgufErrors (never a hang or a crash) for truncated or garbled files.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { fileTypeName } from '../../lib/gguf/file-type.js'
import { GgufError } from '../../lib/gguf/gguf-error.js'
import { readGguf, type ReadGgufOptions } from '../../lib/gguf/read-gguf.js'
import { humanNumber } from '../../lib/model/human-number.js'
import { buildGguf, gguf, sampleGguf } from '../support/gguf-writer.js'

/** Deliver `bytes` in chunks of `size` (1 byte at a time proves no read assumes a chunk boundary). */
function chunks(bytes: Buffer, size = 7): Readable {
  const parts: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size))
  return Readable.from(parts)
}

const read = (bytes: Buffer, options: ReadGgufOptions = {}, size?: number) => readGguf(chunks(bytes, size), { size: bytes.length, ...options })

describe('GGUF writer (spec/support)', () => {
  it('writes the header, a KV pair, a tensor info, alignment padding and aligned tensor data, byte for byte', () => {
    const bytes = buildGguf({ metadata: { a: gguf.u32(7) }, tensors: [{ name: 't', dims: [3] }] })
    const expected = Buffer.concat([
      Buffer.from('GGUF'), u32(3), u64(1), u64(1), // magic, version, tensor count, kv count
      u64(1), Buffer.from('a'), u32(4), u32(7), // key "a", type u32, 7
      u64(1), Buffer.from('t'), u32(1), u64(3), u32(0), u64(0), // tensor t: 1 dim of 3, F32, offset 0
    ])
    assert.deepEqual(bytes.subarray(0, expected.length), expected)
    const dataStart = 96 // first multiple of 32 after the 74 header bytes
    assert.equal(expected.length, 74)
    assert.deepEqual(bytes.subarray(expected.length, dataStart), Buffer.alloc(dataStart - expected.length))
    assert.deepEqual(bytes.subarray(dataStart, dataStart + 12), Buffer.alloc(12, 1), 'tensor data: 3 F32')
    assert.equal(bytes.length, dataStart + 32, 'the data is padded to the alignment')
  })
})

describe('readGguf', () => {
  it('reads every value type, nested arrays and the parameter count of a v3 file, one byte per chunk', async () => {
    const bytes = buildGguf({
      metadata: {
        u8: gguf.u8(255), i8: gguf.i8(-128), u16: gguf.u16(65535), i16: gguf.i16(-32768), u32: gguf.u32(4294967295),
        i32: gguf.i32(-2147483648), f32: gguf.f32(0.5), f32short: gguf.f32(0.1), f64: gguf.f64(Math.PI), bool: gguf.bool(true), no: gguf.bool(false),
        u64: gguf.u64(2n ** 64n - 1n), i64: gguf.i64(-(2n ** 63n)), s: 'héllo\nworld', empty: '',
        strings: ['x', 'yy'], nested: gguf.array('array', [gguf.array('u8', [gguf.u8(1), gguf.u8(2)]), gguf.array('string', ['z'])]),
        none: gguf.array('i32', []),
      },
      tensors: [{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [5] }, { name: 'c', dims: [] }],
    })
    const info = await read(bytes, {}, 1)
    assert.equal(info.version, 3)
    assert.equal(info.littleEndian, true)
    assert.equal(info.tensorCount, 3)
    assert.equal(info.parameterCount, 24n + 5n + 1n)
    assert.deepEqual(Object.fromEntries(info.metadata), {
      u8: 255, i8: -128, u16: 65535, i16: -32768, u32: 4294967295, i32: -2147483648, f32: 0.5, f32short: 0.1, f64: Math.PI, bool: true, no: false,
      u64: 2n ** 64n - 1n, i64: -(2n ** 63n), s: 'héllo\nworld', empty: '', strings: ['x', 'yy'], nested: [[1, 2], ['z']], none: [],
    })
    assert.deepEqual([...info.metadata.keys()].slice(0, 3), ['u8', 'i8', 'u16'], 'file order')
  })

  for (const version of [1, 2] as const) {
    it(`reads version ${version} (32-bit counts in v1)`, async () => {
      const info = await read(buildGguf({ version, metadata: { 'general.architecture': 'x', list: [1, 2, 3] }, tensors: [{ name: 'w', dims: [10, 10] }] }))
      assert.equal(info.version, version)
      assert.deepEqual(Object.fromEntries(info.metadata), { 'general.architecture': 'x', list: [1, 2, 3] })
      assert.equal(info.parameterCount, 100n)
    })
  }

  it('reads a big-endian file', async () => {
    const info = await read(buildGguf({ bigEndian: true, metadata: { n: gguf.u32(258), big: gguf.u64(1n << 40n) }, tensors: [{ name: 'w', dims: [7, 3] }] }))
    assert.equal(info.littleEndian, false)
    assert.deepEqual(Object.fromEntries(info.metadata), { n: 258, big: 1n << 40n })
    assert.equal(info.parameterCount, 21n)
  })

  it('skips arrays longer than maxArrayLength (value null) and keeps shorter ones', async () => {
    const bytes = sampleGguf({ small: ['a', 'b'], nums: gguf.array('u32', [1, 2, 3].map(gguf.u32)) })
    const info = await read(bytes, { maxArrayLength: 2 })
    assert.equal(info.metadata.get('tokenizer.ggml.tokens'), null)
    assert.equal(info.metadata.get('tokenizer.ggml.scores'), null)
    assert.equal(info.metadata.get('nums'), null)
    assert.deepEqual(info.metadata.get('small'), ['a', 'b'])
    assert.equal(info.metadata.get('general.architecture'), 'llama', 'later keys still read correctly')
    const none = await read(bytes, { maxArrayLength: 0 })
    assert.equal(none.metadata.get('small'), null)
  })

  it('never reads tensor data: the stream is left after the tensor index and closed', async () => {
    const bytes = sampleGguf()
    let delivered = 0
    let closed = false
    const source = new Readable({
      read() {
        // 16-byte chunks; the data region (a megabyte here) must not be asked for.
        const next = bytes.subarray(delivered, delivered + 16)
        delivered += next.length
        this.push(next.length > 0 ? next : null)
      },
    })
    source.on('close', () => (closed = true))
    const bigData = Buffer.concat([bytes, Buffer.alloc(1 << 20)])
    await readGguf(source, { size: bigData.length })
    assert.ok(delivered < bytes.length, `read ${delivered} of ${bytes.length} bytes`)
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(closed || source.destroyed, 'the source stream is released')
  })

  it('refuses what is not GGUF, or an unknown version, with a GgufError', async () => {
    await assert.rejects(read(Buffer.from('PK\x03\x04 zip file here')), (e: unknown) => e instanceof GgufError && /not a GGUF file/.test(e.message))
    await assert.rejects(read(Buffer.from('GGU')), GgufError)
    const v4 = buildGguf()
    v4.writeUInt32LE(4, 4)
    await assert.rejects(read(v4), /unsupported GGUF version 4/)
  })

  it('fails with a GgufError, never a hang or another error, when the file is cut anywhere before the data', async () => {
    const bytes = sampleGguf()
    const headerEnd = bytes.indexOf(Buffer.from('output_norm.weight')) + 'output_norm.weight'.length + 4 + 8 + 4 + 8
    for (let cut = 0; cut < headerEnd; cut++) {
      const part = bytes.subarray(0, cut)
      // With the size known the reader refuses early; without it, it must meet the end of the stream.
      await assert.rejects(read(part), GgufError, `cut at ${cut} with size`)
      await assert.rejects(readGguf(chunks(part, 5)), GgufError, `cut at ${cut} without size`)
    }
  })

  it('survives garbled bytes: each flip parses or fails with a GgufError, and lengths past the file fail fast', async () => {
    const bytes = sampleGguf()
    let seed = 12345
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    for (let round = 0; round < 400; round++) {
      const copy = Buffer.from(bytes)
      for (let k = 0; k < 3; k++) copy[Math.floor(random() * 400)] = Math.floor(random() * 256)
      try {
        await read(copy)
      } catch (error) {
        assert.ok(error instanceof GgufError, `round ${round}: ${String(error)}`)
        assert.ok((error as Error).message.length < 300)
      }
    }
    // A string longer than Ollama's limit is refused by its length alone.
    const huge = buildGguf({ metadata: { k: 'v' } })
    huge.writeBigUInt64LE(1n << 40n, 24)
    await assert.rejects(read(huge), /at most 16777216/)
    // Also when the whole string is already buffered (one big chunk).
    const long = buildGguf({ metadata: { k: 'x'.repeat((16 << 20) + 1) } })
    await assert.rejects(readGguf(Readable.from([long])), /at most 16777216/)
    // With the size known, a length past the end fails before anything is read for it.
    huge.writeBigUInt64LE(1n << 20n, 24)
    await assert.rejects(read(huge), /needs 1048576 bytes but only \d+ remain/)
  })

  it('stops when its signal fires', async () => {
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(read(sampleGguf(), { signal: controller.signal }), { name: 'AbortError' })
  })
})

describe('fileTypeName and humanNumber (Ollama format.HumanNumber)', () => {
  it('names file types as Ollama does; 0, retired and unknown values are "unknown"', () => {
    assert.equal(fileTypeName(1), 'F16')
    assert.equal(fileTypeName(15), 'Q4_K_M')
    assert.equal(fileTypeName(7), 'Q8_0')
    assert.equal(fileTypeName(32), 'BF16')
    assert.equal(fileTypeName(40), 'Q1_0')
    assert.equal(fileTypeName(0), 'unknown')
    assert.equal(fileTypeName(4), 'unknown')
    assert.equal(fileTypeName(41), 'unknown')
    assert.equal(fileTypeName(undefined), 'unknown')
    assert.equal(fileTypeName(2n), 'Q4_0')
  })

  it('rounds like Go: whole values bare, ties to even on the exact float', () => {
    const cases: Array<[number, string]> = [
      [0, '0'], [999, '999'], [1000, '1K'], [1500, '2K'], [2500, '2K'], [999_999, '1000K'], [1_000_000, '1M'], [1_234_567, '1.23M'],
      [1_005_000, '1.00M'], [135_000_000, '135M'], [999_999_999, '1000.00M'], [1_000_000_000, '1B'], [1_250_000_000, '1.2B'],
      [1_350_000_000, '1.4B'], [7_241_732_096, '7.2B'], [8_030_261_248, '8.0B'], [1_999_999_999, '2.0B'], [9_950_000_000, '9.9B'],
    ]
    for (const [n, text] of cases) assert.equal(humanNumber(n), text, String(n))
    assert.equal(humanNumber(4608n), '5K')
  })
})

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(n))
  return b
}
