// A loopback TCP proxy in front of a registry that holds one connection still once it has carried
// `stallAfter` bytes towards the registry (a PATCH body in flight), until `release()`: a push that is
// provably running while the test acts. Other connections pass freely; request lines are recorded.
import { once } from 'node:events'
import net from 'node:net'

export interface StallProxy {
  /** `127.0.0.1:PORT`, for model names. */
  readonly host: string
  /** Resolves when a connection is being held. */
  readonly stalled: Promise<void>
  /** Let the held connection go on. */
  release(): void
  /** `METHOD /path` of every request line seen (query strings cut). */
  readonly requests: string[]
  /** `METHOD /path` of the request held (the last one started on the held connection), once one is. */
  readonly held: string | undefined
  close(): Promise<void>
}

export async function startStallProxy(upstream: { host: string; port: number }, stallAfter: number): Promise<StallProxy> {
  let markStalled!: () => void
  const stalled = new Promise<void>((resolve) => (markStalled = resolve))
  let held: net.Socket | undefined
  let heldRequest: string | undefined
  let released = false
  const requests: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const registry = net.connect(upstream.port, upstream.host)
    sockets.add(client).add(registry)
    let carried = 0
    let last: string | undefined
    client.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString('latin1').matchAll(/(?:^|\r\n)(GET|HEAD|POST|PATCH|PUT|DELETE) (\/v2\/[^ ?]*)/g)) {
        last = `${match[1]} ${match[2]}`
        requests.push(last)
      }
      carried += chunk.length
      if (!registry.write(chunk)) client.pause()
      if (!released && held === undefined && carried >= stallAfter) {
        held = client
        heldRequest = last
        client.pause()
        markStalled()
      }
    })
    registry.on('drain', () => {
      if (client !== held || released) client.resume()
    })
    registry.pipe(client)
    const closeBoth = () => {
      client.destroy()
      registry.destroy()
      sockets.delete(client)
      sockets.delete(registry)
    }
    client.on('error', closeBoth).on('close', closeBoth)
    registry.on('error', closeBoth).on('close', closeBoth)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    stalled,
    requests,
    get held() {
      return heldRequest
    },
    release() {
      released = true
      held?.resume()
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
