import type { StorageAdapter } from '../storage/adapter.js'
import type { OperationOptions, StoredManifest } from './types.js'

/** Every blob a manifest refers to: its config and its layers. */
export function manifestDigests(manifest: StoredManifest): string[] {
  return [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)]
}

/**
 * Remove the blobs among `candidates` that no stored manifest refers to any more, as Ollama's
 * `RemoveLayers` does after a delete (and after a create replaces a manifest). Resolves the digests
 * removed. Framework-free: `DELETE /api/delete` and `createModel` both call it.
 *
 * - Needs the adapter's `listModels` and `deleteBlob`; without either it removes nothing.
 * - Conservative: when any stored manifest cannot be read, nothing is removed (that manifest might
 *   refer to a candidate). A blob only some other tag uses always stays.
 * - Not atomic against a concurrent create that is about to refer to a candidate blob (Ollama has
 *   the same window); such a create finds the blob missing and fails cleanly.
 */
export async function pruneBlobs(storage: StorageAdapter, candidates: Iterable<string>, options: OperationOptions = {}): Promise<string[]> {
  const wanted = new Set(candidates)
  if (wanted.size === 0 || typeof storage.listModels !== 'function' || typeof storage.deleteBlob !== 'function') return []
  for (const name of await storage.listModels(options)) {
    let manifest: StoredManifest | undefined
    try {
      manifest = await storage.readManifest(name, options)
    } catch (error) {
      if (options.signal?.aborted) throw error
      return []
    }
    if (manifest === undefined) continue
    for (const digest of manifestDigests(manifest)) wanted.delete(digest)
    if (wanted.size === 0) return []
  }
  const removed: string[] = []
  for (const digest of wanted) {
    if (await storage.deleteBlob(digest, options)) removed.push(digest)
  }
  return removed
}
