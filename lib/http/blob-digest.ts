/**
 * The `:digest` of `/api/blobs/:digest`: `sha256:<hex>` or `sha256-<hex>` (Ollama's
 * `^sha256[:-][0-9a-fA-F]{64}$`), hex in either case. Returns the one form the package stores,
 * `sha256:<64 lowercase hex>`, or `undefined` for anything else (which never becomes a path).
 */
export function parseBlobDigest(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const match = /^sha256[:-]([0-9a-fA-F]{64})$/.exec(value)
  return match ? `sha256:${match[1]!.toLowerCase()}` : undefined
}
