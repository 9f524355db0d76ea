import { ByteReader } from './byte-reader.js'
import { GgufError } from './gguf-error.js'

/**
 * A streaming reader of GGUF metadata (ggml's `docs/gguf.md`; versions 1–3, either byte order):
 * header, every key/value pair and the tensor index, summing the parameter count. Tensor data is
 * never read: the walk stops at the end of the tensor index, and the caller's stream is closed.
 *
 * Memory stays bounded: arrays longer than `maxArrayLength` are skipped element by element (their
 * value becomes `null`, as in Ollama's non-verbose show), strings and arrays have Ollama's limits
 * (16 MiB per string, 64 Mi elements per array), and tensor infos are summed, not kept.
 */

/** One metadata value: numbers (64-bit integers as `bigint`), booleans, strings, arrays; `null` for a skipped array. */
export type GgufValue = number | bigint | boolean | string | GgufValue[] | null

export interface GgufInfo {
  /** 1, 2 or 3. */
  version: number
  littleEndian: boolean
  tensorCount: number
  /** Every key/value pair in file order. */
  metadata: Map<string, GgufValue>
  /** Sum over tensors of the product of their dimensions (`general.parameter_count` in Ollama). */
  parameterCount: bigint
}

export interface ReadGgufOptions {
  /** Size of the file in bytes, when known: length fields that point past it fail at once. */
  size?: number | undefined
  /** Longest array kept; longer ones are skipped and read as `null`. -1 keeps every array. Default -1. */
  maxArrayLength?: number | undefined
  /** Fires to stop reading. */
  signal?: AbortSignal | undefined
}

/** Ollama's limits (`fs/gguf`: `MaxStringLength`, `MaxArraySize`). */
export const MAX_STRING_BYTES = 16 << 20
export const MAX_ARRAY_ELEMENTS = 64 << 20
/** ggml allows 4 dimensions (`GGML_MAX_DIMS`); anything above 8 is garbage. */
const MAX_DIMS = 8
/** More tensors or keys than this is garbage, not a model. */
const MAX_COUNT = 1n << 32n
const MAX_NESTING = 8

const enum T {
  U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64,
}
/** Byte width of the fixed-size value types (string and array are variable). */
const WIDTH: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }

/** `GGUF` read as a little-endian uint32, and as a big-endian one. */
const MAGIC = Buffer.from('GGUF', 'latin1')

/** Read the metadata of a GGUF file from a stream of its bytes (a file or blob stream). */
export async function readGguf(source: AsyncIterable<Buffer | Uint8Array | string>, options: ReadGgufOptions = {}): Promise<GgufInfo> {
  const reader = new ByteReader(source, options.size)
  try {
    return await walk(reader, options)
  } finally {
    await reader.close()
  }
}

async function walk(r: ByteReader, options: ReadGgufOptions): Promise<GgufInfo> {
  const maxArray = options.maxArrayLength ?? -1
  if ((options.size ?? 8) < 8) throw new GgufError('not a GGUF file (too short for a header)')
  const magic = await r.bytes(4, 'the GGUF magic')
  if (!magic.equals(MAGIC)) throw new GgufError('not a GGUF file (no "GGUF" magic)')
  // The version's byte order tells the file's: a big-endian file has its version in the high bytes.
  const versionBytes = await r.bytes(4, 'the GGUF version')
  let version = versionBytes.readUInt32LE(0)
  if (version > 0xffff) {
    r.littleEndian = false
    version = versionBytes.readUInt32BE(0)
  }
  if (version < 1 || version > 3) throw new GgufError(`unsupported GGUF version ${version} (1 to 3 are known)`)
  const v1 = version === 1
  const count = async (what: string): Promise<bigint> => (v1 ? BigInt(await r.u32(what)) : await r.u64(what))
  const tensorCount = await count('the tensor count')
  const kvCount = await count('the key/value count')
  if (tensorCount >= MAX_COUNT || kvCount >= MAX_COUNT) throw new GgufError('GGUF header counts are implausible (not a GGUF file)')

  const lengthWidth = v1 ? 4 : 8
  /**
   * A string read without awaiting when it is already buffered (tokenizer arrays hold hundreds of
   * thousands of short strings); `undefined` when it is not, or is too long: then `string` reads it.
   */
  const quickString = (keep: boolean): string | undefined => {
    if (!r.has(lengthWidth)) return undefined
    const b = r.peek(lengthWidth)
    const length = v1 ? (r.littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0)) : Number(r.littleEndian ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0))
    if (length > MAX_STRING_BYTES || !r.has(lengthWidth + length)) return undefined
    const text = r.take(lengthWidth + length).subarray(lengthWidth)
    return keep ? text.toString('utf8') : ''
  }

  const string = async (what: string, keep: boolean): Promise<string> => {
    const quick = quickString(keep)
    if (quick !== undefined) return quick
    const length = await count(`the length of ${what}`)
    if (length > BigInt(MAX_STRING_BYTES)) throw new GgufError(`${what} is ${length} bytes long; at most ${MAX_STRING_BYTES} are allowed`)
    const n = Number(length)
    if (!keep) {
      await r.skip(n, what)
      return ''
    }
    return (await r.bytes(n, what)).toString('utf8')
  }

  const scalar = async (type: number, what: string): Promise<GgufValue> => {
    const width = WIDTH[type]
    if (width === undefined) throw new GgufError(`${what} has unknown value type ${type}`)
    const b = await r.bytes(width, what)
    const le = r.littleEndian
    switch (type) {
      case T.U8: return b.readUInt8(0)
      case T.I8: return b.readInt8(0)
      case T.U16: return le ? b.readUInt16LE(0) : b.readUInt16BE(0)
      case T.I16: return le ? b.readInt16LE(0) : b.readInt16BE(0)
      case T.U32: return le ? b.readUInt32LE(0) : b.readUInt32BE(0)
      case T.I32: return le ? b.readInt32LE(0) : b.readInt32BE(0)
      case T.F32: return shortestFloat32(le ? b.readFloatLE(0) : b.readFloatBE(0))
      case T.BOOL: return b.readUInt8(0) !== 0
      case T.U64: return le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0)
      case T.I64: return le ? b.readBigInt64LE(0) : b.readBigInt64BE(0)
      default: return le ? b.readDoubleLE(0) : b.readDoubleBE(0)
    }
  }

  const value = async (type: number, what: string, keep: boolean, depth: number): Promise<GgufValue> => {
    options.signal?.throwIfAborted()
    if (type === T.STRING) return string(what, keep)
    if (type !== T.ARRAY) {
      if (!keep) {
        const width = WIDTH[type]
        if (width === undefined) throw new GgufError(`${what} has unknown value type ${type}`)
        await r.skip(width, what)
        return null
      }
      return scalar(type, what)
    }
    if (depth >= MAX_NESTING) throw new GgufError(`${what} nests arrays more than ${MAX_NESTING} deep`)
    const elementType = await r.u32(`the element type of ${what}`)
    const length = await count(`the length of ${what}`)
    if (length > BigInt(MAX_ARRAY_ELEMENTS)) throw new GgufError(`${what} has ${length} elements; at most ${MAX_ARRAY_ELEMENTS} are allowed`)
    const n = Number(length)
    const width = WIDTH[elementType]
    if (width === undefined && elementType !== T.STRING && elementType !== T.ARRAY) {
      throw new GgufError(`${what} has unknown element type ${elementType}`)
    }
    // Every element takes at least its width (or a length field): refuse counts the file cannot hold.
    r.expect(BigInt(n) * BigInt(width ?? (v1 ? 4 : 8)), what)
    const keepAll = keep && (maxArray < 0 || n <= maxArray)
    if (!keepAll && width !== undefined) {
      await r.skip(n * width, what)
      return null
    }
    const items: GgufValue[] = []
    const element = `an element of ${what}`
    if (elementType === T.STRING) {
      for (let i = 0; i < n; i++) {
        const item = quickString(keepAll) ?? (await string(element, keepAll))
        if (keepAll) items.push(item)
      }
    } else {
      for (let i = 0; i < n; i++) {
        const item = await value(elementType, element, keepAll, depth + 1)
        if (keepAll) items.push(item)
      }
    }
    return keepAll ? items : null
  }

  const metadata = new Map<string, GgufValue>()
  for (let i = 0n; i < kvCount; i++) {
    const key = await string(`key ${i}`, true)
    const type = await r.u32(`the type of "${printable(key)}"`)
    metadata.set(key, await value(type, `the value of "${printable(key)}"`, true, 0))
  }

  let parameterCount = 0n
  for (let i = 0n; i < tensorCount; i++) {
    options.signal?.throwIfAborted()
    await string(`the name of tensor ${i}`, false)
    const dims = await r.u32(`the dimension count of tensor ${i}`)
    if (dims > MAX_DIMS) throw new GgufError(`tensor ${i} claims ${dims} dimensions (not a GGUF file)`)
    let elements = 1n
    for (let d = 0; d < dims; d++) elements *= await count(`dimension ${d} of tensor ${i}`)
    await r.u32(`the type of tensor ${i}`)
    await r.u64(`the offset of tensor ${i}`)
    parameterCount += elements
  }
  if (parameterCount >= 1n << 64n) throw new GgufError('the tensor index sums to more than 2^64 parameters (not a GGUF file)')

  return { version, littleEndian: r.littleEndian, tensorCount: Number(tensorCount), metadata, parameterCount }
}

/**
 * The shortest decimal that reads back as the same float32 (what Go prints for a float32, e.g.
 * `0.1` rather than the widened double `0.10000000149011612`).
 */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value
  for (let digits = 1; digits < 10; digits++) {
    const candidate = Number(value.toPrecision(digits))
    if (Math.fround(candidate) === value) return candidate
  }
  return value
}

/** A key for a message: at most 60 characters, control characters escaped. */
function printable(key: string): string {
  const cut = key.length > 60 ? `${key.slice(0, 57)}...` : key
  return JSON.stringify(cut).slice(1, -1)
}
