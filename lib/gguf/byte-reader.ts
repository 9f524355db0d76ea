import { GgufError } from './gguf-error.js'

/**
 * Pulls bytes out of a chunked stream on demand: keeps only the unread rest of the current chunk
 * (plus, briefly, what one read needs), so walking a multi-GiB file costs a few chunks of memory.
 * `offset` counts every byte consumed. `limit`, when known (the blob's size), lets a length field
 * be refused before anything is read for it.
 */
export class ByteReader {
  readonly #chunks: AsyncIterator<Buffer | Uint8Array | string>
  #buffer: Buffer = Buffer.alloc(0)
  #position = 0
  #offset = 0
  littleEndian = true

  constructor(
    source: AsyncIterable<Buffer | Uint8Array | string>,
    readonly limit: number | undefined,
  ) {
    this.#chunks = source[Symbol.asyncIterator]()
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset
  }

  /** Bytes left before `limit` (Infinity when the size is unknown). */
  get remaining(): number {
    return this.limit === undefined ? Number.POSITIVE_INFINITY : this.limit - this.#offset
  }

  /** Fail early when a length field claims more bytes than the file has left. */
  expect(bytes: number | bigint, what: string): void {
    if (BigInt(bytes) > BigInt(Number.isFinite(this.remaining) ? this.remaining : Number.MAX_SAFE_INTEGER)) {
      throw new GgufError(`${what} needs ${bytes} bytes but only ${this.remaining} remain (file truncated or not GGUF)`)
    }
  }

  /** Whether `n` bytes can be taken without waiting (the hot path of long string arrays stays synchronous). */
  has(n: number): boolean {
    return this.#buffer.length - this.#position >= n
  }

  /** The next `n` bytes without consuming them (only after `has(n)`). */
  peek(n: number): Buffer {
    return this.#buffer.subarray(this.#position, this.#position + n)
  }

  /** Take `n` bytes that `has(n)` promised. */
  take(n: number): Buffer {
    const out = this.#buffer.subarray(this.#position, this.#position + n)
    this.#position += n
    this.#offset += n
    return out
  }

  async bytes(n: number, what: string): Promise<Buffer> {
    await this.#fill(n, what)
    const out = this.#buffer.subarray(this.#position, this.#position + n)
    this.#position += n
    this.#offset += n
    return out
  }

  async skip(n: number, what: string): Promise<void> {
    this.expect(n, what)
    let left = n
    while (left > 0) {
      const available = this.#buffer.length - this.#position
      if (available === 0) {
        if (!(await this.#next())) throw truncated(what)
        continue
      }
      const step = Math.min(available, left)
      this.#position += step
      this.#offset += step
      left -= step
    }
  }

  async u8(what: string): Promise<number> {
    return (await this.bytes(1, what)).readUInt8(0)
  }

  async u32(what: string): Promise<number> {
    const b = await this.bytes(4, what)
    return this.littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0)
  }

  async u64(what: string): Promise<bigint> {
    const b = await this.bytes(8, what)
    return this.littleEndian ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0)
  }

  /** Release the source (stops a file stream that is still open). */
  async close(): Promise<void> {
    await this.#chunks.return?.()
  }

  async #fill(n: number, what: string): Promise<void> {
    if (this.#buffer.length - this.#position >= n) return
    this.expect(n, what)
    const parts = [this.#buffer.subarray(this.#position)]
    let have = parts[0]!.length
    while (have < n) {
      const result = await this.#chunks.next()
      if (result.done) throw truncated(what)
      const chunk = toBuffer(result.value)
      parts.push(chunk)
      have += chunk.length
    }
    this.#buffer = Buffer.concat(parts)
    this.#position = 0
  }

  async #next(): Promise<boolean> {
    const result = await this.#chunks.next()
    if (result.done) return false
    this.#buffer = toBuffer(result.value)
    this.#position = 0
    return true
  }
}

function toBuffer(value: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value)
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

function truncated(what: string): GgufError {
  return new GgufError(`file ends inside ${what} (truncated or not GGUF)`)
}
