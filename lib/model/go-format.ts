/**
 * Go's `fmt` renderings that Ollama's `/api/show` text relies on: `%v` and `%#v` of the values a
 * params blob decodes to (float64, string, bool), and the Modelfile parser's `quote`.
 */

/** `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6 on (`1e+06`). */
export function goFloat(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0'
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf'
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string]
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+'
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`
  }
  return String(value)
}

/** `%#v` of a string (`strconv.Quote`): Go escapes, printable characters kept. */
export function goQuote(text: string): string {
  let out = '"'
  for (const char of text) {
    const c = char.codePointAt(0)!
    switch (c) {
      case 0x07: out += '\\a'; break
      case 0x08: out += '\\b'; break
      case 0x0c: out += '\\f'; break
      case 0x0a: out += '\\n'; break
      case 0x0d: out += '\\r'; break
      case 0x09: out += '\\t'; break
      case 0x0b: out += '\\v'; break
      case 0x5c: out += '\\\\'; break
      case 0x22: out += '\\"'; break
      default:
        if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
        else if ((c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029 || c === 0xfeff) out += `\\u${c.toString(16).padStart(4, '0')}`
        else out += char
    }
  }
  return `${out}"`
}

/** `%#v` of a decoded JSON value (Ollama's show `parameters` column). */
export function goSharpV(value: unknown): string {
  if (typeof value === 'string') return goQuote(value)
  if (typeof value === 'number') return goFloat(value)
  return String(value)
}

/** `%v` of a decoded JSON value (Ollama's Modelfile `PARAMETER` arguments). */
export function goV(value: unknown): string {
  if (typeof value === 'number') return goFloat(value)
  return String(value)
}

/** The Modelfile parser's `quote`: multi-line or space-edged text in `"…"`, or `"""…"""` when it holds a `"`. */
export function modelfileQuote(text: string): string {
  if (text.includes('\n') || text.startsWith(' ') || text.endsWith(' ')) return text.includes('"') ? `"""${text}"""` : `"${text}"`
  return text
}
