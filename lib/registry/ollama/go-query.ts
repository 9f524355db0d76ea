/**
 * Go's `url.Values.Encode()`, which Ollama uses to build the token request it signs: keys sorted
 * (byte order), each value `QueryEscape`d. The signature covers the exact string, so ours must
 * match byte for byte.
 *
 * `QueryEscape` (net/url `shouldEscape` with `encodeQueryComponent`) leaves only ASCII letters,
 * digits and `-` `_` `.` `~` as they are, turns a space into `+` and everything else, byte by byte
 * of its UTF-8 form, into `%XX` with upper-case hex. `encodeURIComponent` differs only in leaving
 * `!'()*` alone and writing a space as `%20`.
 */

export function goQueryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/** `url.Values.Encode()`: `k=v` pairs joined by `&`, keys sorted by their bytes, values of one key in order. */
export function goEncodeValues(values: ReadonlyMap<string, readonly string[]>): string {
  const keys = [...values.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
  const pairs: string[] = []
  for (const key of keys) {
    for (const value of values.get(key) ?? []) pairs.push(`${goQueryEscape(key)}=${goQueryEscape(value)}`)
  }
  return pairs.join('&')
}

/** Parse a query string as Go's `url.ParseQuery` would for well-formed input (`+` is a space). */
export function goParseQuery(search: string): Map<string, string[]> {
  const values = new Map<string, string[]>()
  for (const [key, value] of new URLSearchParams(search)) {
    const list = values.get(key)
    if (list === undefined) values.set(key, [value])
    else list.push(value)
  }
  return values
}
