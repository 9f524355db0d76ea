// A loopback TCP proxy in front of a registry that carries each connection's request bytes at a fixed
// rate: uploads are slow but always moving, like a registry behind a modest uplink. Connections
// (and so pooled sockets held by uploads) are counted.
import net from 'node:net'

export interface ThrottleProxy {
  /** `127.0.0.1:PORT`, for model names. */
  readonly host: string
  /** Connections accepted so far, and the most open at once. */
  readonly stats: { connections: number; mostAtOnce: number }
  close(): Promise<void>
}

/** Forward to `upstream`, client → registry at `bytesPerSecond` per connection (answers unthrottled). */
export async function startThrottleProxy(upstream: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>()
  const stats = { connections: 0, mostAtOnce: 0 }
  let open = 0
  const server = net.createServer((client) => {
    stats.connections++
    stats.mostAtOnce = Math.max(stats.mostAtOnce, ++open)
    const registry = net.connect(upstream.port, upstream.host)
    sockets.add(client).add(registry)
    client.on('data', (chunk: Buffer) => {
      registry.write(chunk)
      // Hold the next chunk back for as long as this one takes at the rate.
      client.pause()
      setTimeout(() => client.resume(), Math.ceil((chunk.length / bytesPerSecond) * 1000))
    })
    registry.pipe(client)
    const end = () => {
      if (sockets.delete(client)) open--
      sockets.delete(registry)
      client.destroy()
      registry.destroy()
    }
    client.on('error', end).on('close', end)
    registry.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    stats,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
