import fs from 'node:fs'
import { Readable } from 'node:stream'

/**
 * A file stream that reads into a small ring of preallocated buffers instead of a fresh buffer per
 * read. `fs.createReadStream` allocates a new 1 MiB buffer for every read, and V8 frees them only at
 * a scavenge, which it triggers after ~32 MiB of young backing stores: ~30 MiB of dead buffers ride
 * along with every upload (measured by spec/bench; see docs/performance.md). Reusing buffers
 * removes them.
 *
 * A chunk is overwritten `slots - 1` reads after it was pushed, so this is only for a consumer that
 * writes each chunk out honouring backpressure and keeps no reference afterwards (the internal
 * read hint, storage/read-hint.ts): a pipe into an HTTP request, where a chunk as large as the socket's
 * highWaterMark makes `write()` return false and the next chunk comes only after 'drain'. With one
 * chunk buffered here, one being written and one being read, 3 slots suffice; 4 leave a margin.
 * Should that promise ever be broken, the registry's digest check refuses the blob: it cannot
 * land corrupted.
 */
export class ReusedBufferFileStream extends Readable {
  readonly #fd: number
  readonly #slots: Buffer[]
  #next = 0
  #position: number
  readonly #end: number
  /** Set while an fs.read is in flight, so destroy closes the fd only after it (an fd closed under a read could be reused by another open). */
  #reading: Promise<void> | undefined

  /** `end`: the byte after the last one to read (exclusive); default the end of the file. */
  /**
   * `ring`: buffers to read into, shared with earlier streams of the same consumer (one per blob
   * upload, reused part after part: a part is opened only once the previous one was answered, so
   * none of its chunks is still queued). Filled on first use; buffers of another size are replaced.
   */
  constructor(fd: number, options: { start: number; end?: number | undefined; chunkSize: number; slots?: number; ring?: Buffer[] | undefined }) {
    super({ highWaterMark: options.chunkSize })
    this.#fd = fd
    this.#position = options.start
    this.#end = options.end ?? Number.POSITIVE_INFINITY
    const ring = options.ring ?? []
    const slots = Math.max(3, options.slots ?? 4)
    if (ring.length !== slots || ring.some((buffer) => buffer.length !== options.chunkSize)) {
      ring.splice(0, ring.length, ...Array.from({ length: slots }, () => Buffer.allocUnsafeSlow(options.chunkSize)))
    }
    this.#slots = ring
  }

  override _read(): void {
    const buffer = this.#slots[this.#next]!
    this.#next = (this.#next + 1) % this.#slots.length
    const length = Math.min(buffer.length, this.#end - this.#position)
    if (length <= 0) return void this.push(null)
    this.#reading = new Promise((done) => {
      fs.read(this.#fd, buffer, 0, length, this.#position, (error, bytesRead) => {
        this.#reading = undefined
        done()
        if (this.destroyed) return
        if (error) return void this.destroy(error)
        if (bytesRead === 0) return void this.push(null)
        this.#position += bytesRead
        this.push(buffer.subarray(0, bytesRead))
      })
    })
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = () => fs.close(this.#fd, (closeError) => callback(error ?? closeError))
    if (this.#reading) void this.#reading.then(close)
    else close()
  }
}
