/**
 * Writes small but valid GGUF files for tests (ggml `docs/gguf.md`): header, typed key/value pairs
 * (arrays and nested arrays included), tensor infos, padding to `general.alignment` (default 32)
 * and tensor data, each tensor aligned. Version 3 little-endian by default; 1, 2 and big-endian on
 * request, so the reader's tests can cover them.
 */

export type ScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64'
export type GgufWriterValue =
  | { type: ScalarType; value: number | bigint | boolean | string }
  | { type: 'array'; elementType: ScalarType | 'array'; values: GgufWriterValue[] }
/** Plain values are shorthands: string → string, boolean → bool, integer → u32, other number → f32, bigint → u64. */
export type GgufInput = GgufWriterValue | string | boolean | number | bigint | GgufInput[]

export interface GgufTensor {
  name: string
  dims: number[]
  /** ggml tensor type. Default 0 (F32). */
  type?: number
  /** Data bytes of the tensor. Default: elements × 4 for F32, × 2 for F16 (1), else elements. */
  bytes?: number
}

export interface GgufSpec {
  version?: 1 | 2 | 3
  bigEndian?: boolean
  metadata?: Record<string, GgufInput>
  tensors?: GgufTensor[]
}

const TYPE_ID: Record<ScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
}

export const gguf = {
  u8: (value: number): GgufWriterValue => ({ type: 'u8', value }),
  i8: (value: number): GgufWriterValue => ({ type: 'i8', value }),
  u16: (value: number): GgufWriterValue => ({ type: 'u16', value }),
  i16: (value: number): GgufWriterValue => ({ type: 'i16', value }),
  u32: (value: number): GgufWriterValue => ({ type: 'u32', value }),
  i32: (value: number): GgufWriterValue => ({ type: 'i32', value }),
  f32: (value: number): GgufWriterValue => ({ type: 'f32', value }),
  f64: (value: number): GgufWriterValue => ({ type: 'f64', value }),
  u64: (value: number | bigint): GgufWriterValue => ({ type: 'u64', value: BigInt(value) }),
  i64: (value: number | bigint): GgufWriterValue => ({ type: 'i64', value: BigInt(value) }),
  bool: (value: boolean): GgufWriterValue => ({ type: 'bool', value }),
  str: (value: string): GgufWriterValue => ({ type: 'string', value }),
  array: (elementType: ScalarType | 'array', values: GgufInput[]): GgufWriterValue => ({ type: 'array', elementType, values: values.map(typed) }),
}

function typed(input: GgufInput): GgufWriterValue {
  if (typeof input === 'string') return gguf.str(input)
  if (typeof input === 'boolean') return gguf.bool(input)
  if (typeof input === 'bigint') return gguf.u64(input)
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? gguf.u32(input) : gguf.f32(input)
  if (Array.isArray(input)) {
    const values = input.map(typed)
    return { type: 'array', elementType: values[0]?.type ?? 'string', values }
  }
  return input
}

/** Bytes of one GGUF file. */
export function buildGguf(spec: GgufSpec = {}): Buffer {
  const version = spec.version ?? 3
  const le = !spec.bigEndian
  const out: Buffer[] = []
  let length = 0
  const push = (b: Buffer) => {
    out.push(b)
    length += b.length
  }
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    if (le) b.writeUInt32LE(n)
    else b.writeUInt32BE(n)
    push(b)
  }
  const u64 = (n: number | bigint) => {
    const b = Buffer.alloc(8)
    if (le) b.writeBigUInt64LE(BigInt(n))
    else b.writeBigUInt64BE(BigInt(n))
    push(b)
  }
  const count = (n: number | bigint) => (version === 1 ? u32(Number(n)) : u64(n))
  const string = (s: string) => {
    const bytes = Buffer.from(s, 'utf8')
    count(bytes.length)
    push(bytes)
  }
  const scalar = (type: ScalarType, v: number | bigint | boolean | string) => {
    if (type === 'string') return string(String(v))
    const widths: Record<string, number> = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }
    const b = Buffer.alloc(widths[type]!)
    const E = le ? 'LE' : 'BE'
    switch (type) {
      case 'u8': b.writeUInt8(Number(v)); break
      case 'i8': b.writeInt8(Number(v)); break
      case 'bool': b.writeUInt8(v ? 1 : 0); break
      case 'u16': b[`writeUInt16${E}`](Number(v)); break
      case 'i16': b[`writeInt16${E}`](Number(v)); break
      case 'u32': b[`writeUInt32${E}`](Number(v)); break
      case 'i32': b[`writeInt32${E}`](Number(v)); break
      case 'f32': b[`writeFloat${E}`](Number(v)); break
      case 'u64': b[`writeBigUInt64${E}`](BigInt(v as number | bigint)); break
      case 'i64': b[`writeBigInt64${E}`](BigInt(v as number | bigint)); break
      case 'f64': b[`writeDouble${E}`](Number(v)); break
    }
    push(b)
  }
  const value = (v: GgufWriterValue, withType: boolean) => {
    if (withType) u32(TYPE_ID[v.type])
    if (v.type !== 'array') return scalar(v.type, v.value)
    u32(TYPE_ID[v.elementType])
    count(v.values.length)
    for (const item of v.values) value(item, false)
  }

  const metadata = spec.metadata ?? {}
  const tensors = spec.tensors ?? []
  push(Buffer.from('GGUF', 'latin1'))
  u32(version)
  count(tensors.length)
  count(Object.keys(metadata).length)
  for (const [key, input] of Object.entries(metadata)) {
    string(key)
    value(typed(input), true)
  }
  const alignmentInput = metadata['general.alignment']
  const alignment = alignmentInput === undefined ? 32 : Number((typed(alignmentInput) as { value: number }).value)
  const pad = (n: number) => (n % alignment === 0 ? 0 : alignment - (n % alignment))
  let dataOffset = 0
  const sizes: number[] = []
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1)
    const type = tensor.type ?? 0
    const bytes = tensor.bytes ?? elements * (type === 0 ? 4 : type === 1 ? 2 : 1)
    string(tensor.name)
    u32(tensor.dims.length)
    for (const d of tensor.dims) count(d)
    u32(type)
    u64(dataOffset)
    sizes.push(bytes)
    dataOffset += bytes + pad(bytes)
  }
  push(Buffer.alloc(pad(length)))
  sizes.forEach((bytes, i) => {
    // Recognisable, non-zero data: a tensor's index repeated.
    push(Buffer.alloc(bytes, (i + 1) & 0xff))
    push(Buffer.alloc(pad(bytes)))
  })
  return Buffer.concat(out)
}

/** A typical little model: llama architecture, Q4_K_M, a chat template, a tokenizer, three tensors. */
export function sampleGguf(overrides: Partial<Record<string, GgufInput>> = {}, tensors?: GgufTensor[]): Buffer {
  const metadata: Record<string, GgufInput> = {
    'general.architecture': 'llama',
    'general.name': 'tiny test model',
    'general.file_type': gguf.u32(15),
    'llama.context_length': gguf.u32(4096),
    'llama.embedding_length': gguf.u32(64),
    'llama.block_count': gguf.u32(2),
    'llama.rope.freq_base': gguf.f32(10000),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': ['<s>', '</s>', 'a', 'b', 'c', 'd', 'e'],
    'tokenizer.ggml.scores': gguf.array('f32', [0, 0, -1, -2, -3, -4, -5].map((n) => gguf.f32(n))),
    'tokenizer.ggml.bos_token_id': gguf.u32(0),
    'tokenizer.chat_template': '{% for m in messages %}{{ m.content }}{% endfor %}',
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete metadata[key]
    else metadata[key] = value
  }
  return buildGguf({
    metadata,
    tensors: tensors ?? [
      { name: 'token_embd.weight', dims: [64, 7] },
      { name: 'blk.0.attn_q.weight', dims: [64, 64], type: 1 },
      { name: 'output_norm.weight', dims: [64] },
    ],
  })
}
