// proxy-from-env ships no types: the one function this package uses.
declare module 'proxy-from-env' {
  /** The proxy URL for `url` from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY (and lower-case forms), or '' for none. */
  export function getProxyForUrl(url: string | URL): string
}
