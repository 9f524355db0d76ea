/**
 * JSON the way Ollama writes its blobs and manifests (Go's `json.Encoder.Encode`): compact, one
 * trailing newline, `<`, `>`, `&`, U+2028 and U+2029 escaped, and keys of maps sorted. Objects
 * marked as maps (`sortKeys`) have their keys sorted at every depth; other objects keep the order
 * they were built in (Go structs encode in field order).
 */
export function goJson(value: unknown, options: { sortKeys?: boolean } = {}): Buffer {
  const text = JSON.stringify(options.sortKeys ? sortDeep(value) : value)
  return Buffer.from(`${escapeHtml(text)}\n`)
}

function escapeHtml(text: string): string {
  // These characters only ever appear inside JSON strings, so replacing them everywhere is safe.
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort(byteOrder)) out[key] = sortDeep((value as Record<string, unknown>)[key])
  return out
}

/** Go sorts map keys by their UTF-8 bytes; for JavaScript strings that is code point order. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
