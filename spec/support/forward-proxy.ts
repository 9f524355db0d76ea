/**
 * A small HTTP proxy for tests, on 127.0.0.1 and a free port, that counts what passed:
 * - `CONNECT host:port` opens a tunnel (how https goes through a proxy; TLS stays end to end) and
 *   records the target and the bytes sent up the tunnel;
 * - an absolute-URL request (`GET http://host/path`, how plain http goes through a proxy) is
 *   forwarded and recorded with its method, URL and headers (the body is streamed, never kept),
 *   and the registry's status once it answers. A client that goes away mid-request takes the
 *   forwarded request down with it, as over a direct connection. `withhold` keeps a matching
 *   request from the registry for good (its body is read and dropped, no answer comes): a push
 *   provably in flight, with the registry having seen nothing of that request. `delayAnswer`
 *   forwards a request but keeps the registry's answer from the client until released: the
 *   registry has acted on it, the client does not know yet.
 */
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'

export interface ProxiedTunnel {
  readonly target: string
  bytesUp: number
}

export interface ProxiedRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** The registry's answer; absent while it has not answered (or never will: the request was cut or withheld). */
  status?: number
}

export interface DelayedAnswer {
  readonly answered: Promise<ProxiedRequest>
  release(): void
}

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly tunnels: ProxiedTunnel[]
  readonly requests: ProxiedRequest[]
  /** Withhold the next request that `match` accepts (checked as requests arrive); resolves with it when it arrives. */
  withhold(match: (request: ProxiedRequest) => boolean): Promise<ProxiedRequest>
  /** Keep the registry's answer to the next request `match` accepts from its client until `release()`; `answered` resolves once the registry has answered. */
  delayAnswer(match: (request: ProxiedRequest) => boolean): DelayedAnswer
  stop(): Promise<void>
}

export async function startForwardProxy(): Promise<ForwardProxy> {
  const tunnels: ProxiedTunnel[] = []
  const requests: ProxiedRequest[] = []
  const sockets = new Set<net.Socket>()
  const withheld: Array<{ match: (request: ProxiedRequest) => boolean; reached: (request: ProxiedRequest) => void }> = []
  const delayed: Array<{ match: (request: ProxiedRequest) => boolean; answered: (request: ProxiedRequest) => void; released: Promise<void> }> = []
  const server = http.createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } }
    requests.push(record)
    let target: URL
    try {
      target = new URL(req.url ?? '')
    } catch {
      return void res.writeHead(400).end('absolute URL expected')
    }
    const headers = { ...req.headers }
    delete headers['proxy-connection']
    delete headers['proxy-authorization']
    const held = withheld.findIndex((hold) => hold.match(record))
    if (held >= 0) {
      withheld.splice(held, 1)[0]!.reached(record)
      // Keep reading (a paused socket would not notice the client leaving), forward nothing.
      return void req.resume()
    }
    const delay = delayed.findIndex((entry) => entry.match(record))
    const hold = delay < 0 ? undefined : delayed.splice(delay, 1)[0]
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: `${target.pathname}${target.search}`, headers },
      (answer) => {
        record.status = answer.statusCode
        hold?.answered(record)
        void (hold?.released ?? Promise.resolve()).then(() => {
          if (left) return void answer.resume()
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
      },
    )
    upstream.on('error', () => res.destroy())
    // The client left before the answer was complete: cut the forwarded request too.
    let left = false
    res.on('close', () => {
      if (res.writableFinished) return
      left = true
      upstream.destroy()
    })
    req.pipe(upstream)
  })
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const tunnel: ProxiedTunnel = { target: req.url ?? '', bytesUp: head.length }
    tunnels.push(tunnel)
    const [host, port] = (req.url ?? '').split(':')
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      client.on('data', (chunk: Buffer) => void (tunnel.bytesUp += chunk.length))
      client.pipe(upstream).pipe(client)
    })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    requests,
    withhold: (match) => new Promise((reached) => void withheld.push({ match, reached })),
    delayAnswer(match) {
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      const answered = new Promise<ProxiedRequest>((resolve) => void delayed.push({ match, answered: resolve, released }))
      return { answered, release }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
