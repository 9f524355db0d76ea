/**
 * Append `name=value` to a URL's query, keeping the existing query byte-for-byte (an upload
 * location's `_state` is signed, so it must not be re-encoded by a round trip through
 * URLSearchParams). Works whether or not the URL already has a query; drops any fragment.
 */
export function appendQueryParam(url: string, name: string, value: string): string {
  const hash = url.indexOf('#')
  const base = hash === -1 ? url : url.slice(0, hash)
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&'
  return `${base}${separator}${encodeURIComponent(name)}=${encodeURIComponent(value)}`
}
