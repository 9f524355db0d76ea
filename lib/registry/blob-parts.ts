/**
 * How a blob is cut into parts, exactly as Ollama cuts them (server/upload.go): part size =
 * size / 16 (integer division), clamped to [minPartSize, maxPartSize] (Ollama: 100 MB and 1 GB,
 * decimal), parts of that size from the start, the last one taking the remainder. An empty blob has
 * no parts. Examples: 1 073 741 824 B → 10 × 100 000 000 + 73 741 824; 4 661 211 809 B → 16 ×
 * 291 325 738 + 1.
 */
import { Readable } from 'node:stream'

export const DEFAULT_MIN_PART_SIZE = 100_000_000
export const DEFAULT_MAX_PART_SIZE = 1_000_000_000

export interface BlobPart {
  /** First byte. */
  readonly start: number
  /** Byte after the last (exclusive). */
  readonly end: number
}

export function blobParts(size: number, minPartSize = DEFAULT_MIN_PART_SIZE, maxPartSize = DEFAULT_MAX_PART_SIZE): BlobPart[] {
  const partSize = Math.max(1, Math.min(maxPartSize, Math.max(minPartSize, Math.floor(size / 16))))
  const parts: BlobPart[] = []
  for (let start = 0; start < size; start += partSize) parts.push({ start, end: Math.min(size, start + partSize) })
  return parts
}

/**
 * The first `length` bytes of `source`, for a storage that does not end its stream at the part's
 * end. Slices the last chunk (no copy) and destroys the source once enough went through.
 */
export function takeBytes(source: Readable, length: number): Readable {
  let left = length
  const out = new Readable({
    highWaterMark: 0,
    read() {
      source.resume()
    },
    destroy(error, callback) {
      source.destroy()
      callback(error)
    },
  })
  if (left === 0) {
    out.push(null)
    source.destroy()
    return out
  }
  source.on('data', (chunk: Buffer) => {
    if (left <= 0) return
    const piece = chunk.length > left ? chunk.subarray(0, left) : chunk
    left -= piece.length
    if (!out.push(piece)) source.pause()
    if (left === 0) {
      out.push(null)
      source.destroy()
    }
  })
  source.once('end', () => {
    if (left > 0) out.push(null)
  })
  source.once('error', (error) => out.destroy(error))
  source.pause()
  return out
}
