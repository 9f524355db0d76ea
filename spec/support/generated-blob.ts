/**
 * Large deterministic blobs that are never held in memory: 1 MiB chunks of one base block, each
 * stamped with its index (so a lost or repeated chunk changes the digest). For ingest tests and the
 * ingest benchmark.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'

const CHUNK = 1024 * 1024

function* chunks(size: number, seed: number): Generator<Buffer> {
  const base = Buffer.alloc(CHUNK)
  for (let i = 0; i + 4 <= CHUNK; i += 4) base.writeUInt32LE((Math.imul(i + seed, 2654435761) ^ seed) >>> 0, i)
  for (let offset = 0, index = 0; offset < size; offset += CHUNK, index++) {
    const chunk = Buffer.from(base.subarray(0, Math.min(CHUNK, size - offset)))
    if (chunk.length >= 8) chunk.writeDoubleLE(index, 0)
    yield chunk
  }
}

/** A fresh stream of the blob (`size` bytes of `seed`). */
export function generatedBlob(size: number, seed: number): Readable {
  return Readable.from(chunks(size, seed), { objectMode: false })
}

/** `sha256:<hex>` of the blob, computed chunk by chunk. */
export function generatedDigest(size: number, seed: number): string {
  const hash = createHash('sha256')
  for (const chunk of chunks(size, seed)) hash.update(chunk)
  return `sha256:${hash.digest('hex')}`
}
