/**
 * A `WWW-Authenticate` parser (RFC 7235 §4.1 and §2.1, RFC 9110 §11.6.1):
 *
 *     WWW-Authenticate = 1#challenge
 *     challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *     auth-param       = token BWS "=" BWS ( token / quoted-string )
 *     token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * Commas separate both challenges and the parameters inside one, so a new challenge is recognised
 * by a token that is *not* followed by `=`. Several header lines arrive joined with `, `, which the
 * grammar covers too.
 */

/** One challenge. */
export interface AuthChallenge {
  /** The auth scheme, lower-cased (schemes are case-insensitive): `basic`, `bearer`, ... */
  scheme: string
  /** Parameters by lower-cased name (names are case-insensitive), values unquoted and unescaped. The first of duplicates wins. */
  params: Record<string, string>
  /** The token68 form (`Negotiate abc==`), when the challenge used it instead of parameters. */
  token68?: string
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/

/** Parse every challenge in a `WWW-Authenticate` value. Malformed parts are skipped, never thrown on. */
export function parseChallenges(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return []
  const input = typeof header === 'string' ? header : header.join(', ')
  const out: AuthChallenge[] = []
  let i = 0

  const skipSpace = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++
  }
  const skipSeparators = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t' || input[i] === ',')) i++
  }
  const readToken = (): string => {
    const start = i
    while (i < input.length && TCHAR.test(input[i]!)) i++
    return input.slice(start, i)
  }
  const readQuoted = (): string | undefined => {
    // at the opening quote
    i++
    let value = ''
    while (i < input.length) {
      const ch = input[i]!
      if (ch === '\\' && i + 1 < input.length) {
        value += input[i + 1]
        i += 2
      } else if (ch === '"') {
        i++
        return value
      } else {
        value += ch
        i++
      }
    }
    return undefined // unterminated
  }
  /** Skip to the next comma at top level (outside quotes): recovery from a malformed part. */
  const skipToComma = () => {
    while (i < input.length && input[i] !== ',') {
      if (input[i] === '"') readQuoted()
      else i++
    }
  }
  /** After a token, is there `BWS "="` (and not a token68 tail)? Leaves `i` unchanged. */
  const followedByEquals = (): boolean => {
    let j = i
    while (j < input.length && (input[j] === ' ' || input[j] === '\t')) j++
    return input[j] === '='
  }

  while (i < input.length) {
    skipSeparators()
    if (i >= input.length) break
    const scheme = readToken()
    if (scheme === '') {
      skipToComma()
      continue
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} }
    out.push(challenge)
    skipSpace()

    // token68: the whole remainder up to a comma (or the end) has token68 form.
    const tail = TOKEN68.exec(input.slice(i))
    if (tail !== null) {
      let j = i + tail[0].length
      while (j < input.length && (input[j] === ' ' || input[j] === '\t')) j++
      if (j >= input.length || input[j] === ',') {
        // `realm=` alone would also match; a parameter needs a value, so only treat it as token68
        // when it is not `name=value`.
        challenge.token68 = tail[0]
        i = j
        continue
      }
    }

    // auth-params, until a token not followed by "=" starts the next challenge.
    for (;;) {
      skipSeparators()
      if (i >= input.length) break
      const start = i
      const name = readToken()
      if (name === '') {
        skipToComma()
        continue
      }
      if (!followedByEquals()) {
        i = start // the next challenge's scheme
        break
      }
      skipSpace()
      i++ // "="
      skipSpace()
      let value: string | undefined
      if (input[i] === '"') value = readQuoted()
      else {
        value = readToken()
        if (value === '') value = undefined
      }
      if (value === undefined) {
        skipToComma()
        continue
      }
      const key = name.toLowerCase()
      // defineProperty: a parameter named `__proto__` must stay a plain own property.
      if (!Object.hasOwn(challenge.params, key)) {
        Object.defineProperty(challenge.params, key, { value, enumerable: true, writable: true, configurable: true })
      }
      skipSpace()
      if (i < input.length && input[i] !== ',') skipToComma()
    }
  }
  return out
}
