/**
 * Redaction of secrets from URLs and free text before they reach an error message, an error's
 * `url`, or a logger. Upload locations carry distribution's signed `_state`; storage redirects carry
 * signatures; token realms may echo tokens. None of it is ever shown.
 */

/** Query parameters removed from URLs: exact names, compared lower-cased. */
const SECRET_PARAMS = new Set([
  '_state',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'signature',
  'sig',
  'key',
  'api_key',
  'apikey',
  'auth',
  'authorization',
  'code',
  'jwt',
])

/** Query parameter names containing one of these are removed too (X-Amz-Signature, X-Goog-Credential, ...). */
const SECRET_PARAM_PART = /token|secret|signature|credential|password|passwd|auth|session|_state|jwt/i

/** Whether a query parameter name looks like it carries a secret. */
export function isSecretParam(name: string): boolean {
  let decoded = name
  try {
    decoded = decodeURIComponent(name.replace(/\+/g, ' '))
  } catch {
    // keep the raw name
  }
  const lower = decoded.toLowerCase()
  return SECRET_PARAMS.has(lower) || SECRET_PARAM_PART.test(lower)
}

/**
 * The URL without userinfo, fragment and secret-looking query parameters. Other parameters are
 * kept byte-for-byte. Something that does not parse as a URL comes back as free-text-redacted.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return redactText(String(url))
  }
  const query = parsed.search.startsWith('?') ? parsed.search.slice(1) : parsed.search
  const kept = query === '' ? [] : query.split('&').filter((part) => part !== '' && !isSecretParam(part.split('=', 1)[0] ?? ''))
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${kept.length > 0 ? `?${kept.join('&')}` : ''}`
}

const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi
const AUTH_HEADER_VALUE = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9\-._~+/]+=*/gi
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g
const SECRET_ASSIGNMENT = /([?&\s"'{,]|^)(_state|token|access_token|refresh_token|password|passwd|secret|signature|sig)(\s*=\s*["']?|["']\s*:\s*["'])[^\s&"',}]+/gi

/** Free text (an error message, a registry's `message`) with URLs, auth values, JWTs and `key=secret` pairs scrubbed. */
export function redactText(text: string): string {
  return text
    .replace(URL_IN_TEXT, (match) => redactUrl(match))
    .replace(AUTH_HEADER_VALUE, '$1 [redacted]')
    .replace(JWT, '[redacted]')
    .replace(SECRET_ASSIGNMENT, (_match, before: string, name: string) => (name.toLowerCase() === '_state' ? before : `${before}${name}=[redacted]`))
}

/**
 * Forms at least this long are replaced wherever they occur. Shorter ones (a 1–3 character
 * password, or its base64) are replaced only as a whole token, between characters that are not
 * letters or digits: every `abc` inside a word would hide more than it protects, but `"abc"` echoed
 * by a registry is the password.
 */
const MIN_SECRET_LENGTH = 4

/** A form to redact: a string replaced wherever it occurs, or a pattern for a short one. */
export type SecretForm = string | RegExp

/**
 * The forms in which a registry may echo this push's password: raw, URL-encoded, and base64 of
 * `user:password` (a Basic header value) and of the password alone. Longest first, so a longer
 * form is replaced whole; short ones last, as whole tokens.
 */
export function secretForms(credentials: { username: string; password: string } | undefined): SecretForm[] {
  if (credentials === undefined || credentials.password === '') return []
  const { username, password } = credentials
  const forms = new Set([
    password,
    encodeURIComponent(password),
    Buffer.from(`${username}:${password}`).toString('base64'),
    Buffer.from(`${username}:${password}`).toString('base64').replace(/=+$/, ''),
    Buffer.from(password).toString('base64').replace(/=+$/, ''),
  ])
  const long = [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length)
  const short = [...forms].filter((form) => form.length < MIN_SECRET_LENGTH).map((form) => new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(form)}(?![A-Za-z0-9])`, 'g'))
  return [...long, ...short]
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
}

/** `text` with every occurrence of `forms` replaced by `[redacted]`. */
export function redactSecrets(text: string, forms: readonly SecretForm[]): string {
  let out = text
  for (const form of forms) out = typeof form === 'string' ? out.split(form).join('[redacted]') : out.replace(form, '[redacted]')
  return out
}
