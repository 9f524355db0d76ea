import type { OperationOptions } from '../model/types.js'
import type { StorageAdapter } from './adapter.js'

/** Text and JSON blobs (configs, params, templates) are small; anything larger is not read whole. */
export const MAX_SMALL_BLOB_BYTES = 1024 * 1024

/**
 * The bytes of a small blob (config, params, template, license…), or `undefined` when it is absent
 * or larger than `limit`: such blobs are the only ones ever read whole.
 */
export async function readSmallBlob(storage: StorageAdapter, digest: string, options: OperationOptions & { limit?: number } = {}): Promise<Buffer | undefined> {
  const limit = options.limit ?? MAX_SMALL_BLOB_BYTES
  const stat = await storage.statBlob(digest, options)
  if (stat === undefined || stat.size > limit) return undefined
  const stream = await storage.openBlob(digest, { signal: options.signal })
  const chunks: Buffer[] = []
  let length = 0
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      length += chunk.length
      if (length > limit) return undefined
      chunks.push(Buffer.from(chunk))
    }
  } finally {
    stream.destroy()
  }
  return Buffer.concat(chunks)
}

/** A small blob parsed as a JSON object; `{}` when absent, too large or not an object. */
export async function readJsonObject(storage: StorageAdapter, digest: string, options: OperationOptions = {}): Promise<Record<string, unknown>> {
  const bytes = await readSmallBlob(storage, digest, options)
  if (bytes === undefined) return {}
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
