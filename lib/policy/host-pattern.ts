/**
 * Registry host patterns of the policy options: `host`, `host:port` and `*.domain` (optionally
 * `*.domain:port`). Matching is case-insensitive and exact about ports: `host` matches only a
 * name written without a port (https on 443), `host:port` only that port. `*.domain` matches every
 * sub-domain (`a.domain`, `a.b.domain`), never `domain` itself.
 */

const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/i

/** Whether `pattern` is a well-formed host pattern (for option validation). */
export function isHostPattern(pattern: string): boolean {
  return HOST_PATTERN.test(pattern) && !(pattern.startsWith('*.[')) && portOf(pattern) <= 65_535
}

function portOf(hostWithPort: string): number {
  const match = /:(\d+)$/.exec(hostWithPort)
  return match?.[1] === undefined || hostWithPort.endsWith(']') ? 0 : Number(match[1])
}

/** Split `host[:port]` (IPv6 in brackets) into a lower-cased name and the port text ('' when none). */
export function splitHost(hostWithPort: string): { name: string; port: string } {
  const match = /^(.*?)(?::(\d+))?$/.exec(hostWithPort.toLowerCase())
  const name = match?.[1] ?? hostWithPort.toLowerCase()
  return { name, port: match?.[2] ?? '' }
}

/** Whether registry host `host` (`name[:port]`, as in a model name) matches `pattern`. */
export function hostMatches(host: string, pattern: string): boolean {
  const target = splitHost(host)
  const wanted = splitHost(pattern)
  if (wanted.port !== target.port) return false
  if (wanted.name.startsWith('*.')) {
    const suffix = wanted.name.slice(1) // `.domain`
    return target.name.length > suffix.length && target.name.endsWith(suffix)
  }
  return wanted.name === target.name
}
