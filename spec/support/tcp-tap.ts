// A loopback TCP listener that records every connection and the bytes clients send, optionally
// forwarding them to an upstream port (e.g. a real registry); without one it hangs up at once. Proves "nothing reached a socket" and
// "what went over the wire" without trusting the code under test to say so.
import { connect, createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface TcpTap {
  /** `127.0.0.1:PORT`, for a model name. */
  readonly host: string
  /** Connections accepted so far. */
  readonly connections: number
  /** Everything clients sent, as latin1 text (headers are ASCII). */
  received(): string
  close(): Promise<void>
}

export async function startTcpTap(upstreamPort?: number): Promise<TcpTap> {
  const chunks: Buffer[] = []
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createServer((client) => {
    connections++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('data', (chunk: Buffer) => chunks.push(chunk))
    client.on('error', () => {})
    // Without an upstream, hang up at once: a client that got this far fails fast instead of waiting.
    if (upstreamPort === undefined) return void client.end()
    const upstream = connect(upstreamPort, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    get connections() {
      return connections
    },
    received: () => Buffer.concat(chunks).toString('latin1'),
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    }),
  }
}
