/**
 * Which registry hosts get Ollama's signed-key auth (`ollamaHosts`). A security rule: only these
 * hosts ever receive signatures made with the Ollama key.
 *
 * Patterns: `host` or `host:port`, lower-cased; a leading `*.` matches any subdomain (not the name
 * itself). A pattern without a port matches the host only when the name has no port either.
 */

/** The default: Ollama's registry and ollama.com, with their subdomains. */
export const DEFAULT_OLLAMA_HOSTS: readonly string[] = Object.freeze(['registry.ollama.ai', '*.registry.ollama.ai', 'ollama.com', '*.ollama.com'])

/** A valid pattern: optional `*.`, DNS labels or an IPv4 address, optional `:port`. */
export const OLLAMA_HOST_PATTERN = /^(\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/i

/** Whether `host` (`name[:port]` as in a model name) matches one of `patterns`. */
export function matchesOllamaHost(host: string, patterns: readonly string[]): boolean {
  const candidate = host.toLowerCase()
  return patterns.some((pattern) => {
    const wanted = pattern.toLowerCase()
    if (!wanted.startsWith('*.')) return candidate === wanted
    const suffix = wanted.slice(1) // ".example.com[:port]"
    const [suffixHost, suffixPort] = splitPort(suffix)
    const [name, port] = splitPort(candidate)
    return port === suffixPort && name.endsWith(suffixHost) && name.length > suffixHost.length
  })
}

function splitPort(host: string): [string, string | undefined] {
  const colon = host.lastIndexOf(':')
  return colon < 0 ? [host, undefined] : [host.slice(0, colon), host.slice(colon + 1)]
}
