// An HTTP proxy in front of a real registry that answers a seeded share of requests with 503
// (optionally with Retry-After) and forwards the rest unchanged. Start the registry with
// `relativeUrls: true` so upload Locations keep pointing at the proxy.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FaultProxy {
  /** `127.0.0.1:PORT`, for a model name. */
  readonly host: string
  readonly stats: { requests: number; faults: number; byMethod: Record<string, number> }
  close(): Promise<void>
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FaultProxyOptions {
  /** Share of requests answered 503 (0 for none). */
  rate: number
  seed: number
  retryAfterSeconds?: number
}

export async function startFaultProxy(upstream: string, options: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(options.seed)
  const stats = { requests: 0, faults: 0, byMethod: {} as Record<string, number> }
  const agent = new http.Agent({ keepAlive: true })
  const target = new URL(upstream)
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    stats.requests++
    stats.byMethod[req.method ?? '?'] = (stats.byMethod[req.method ?? '?'] ?? 0) + 1
    if (random() < options.rate) {
      stats.faults++
      req.resume()
      const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' }
      if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds)
      res.writeHead(503, headers)
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}')
      return
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.destroy())
    req.on('error', () => forward.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      agent.destroy()
      server.close(() => resolve())
    }),
  }
}
