// A loopback TCP proxy in front of a registry that cuts a connection in the middle of a PATCH body:
// once it has carried `cutAfter` body bytes of an armed PATCH, both sides are destroyed. Armed once
// at start; `arm(n)` arms the next cut (e.g. one per push, at a random offset).
import net, { type AddressInfo } from 'node:net'

export interface CuttingProxy {
  /** `127.0.0.1:PORT`, for model names. */
  readonly host: string
  /** How many connections were cut. */
  readonly cuts: number
  /** Cut the next PATCH that carries `cutAfter` body bytes. */
  arm(cutAfter: number): void
  close(): Promise<void>
}

export async function startCuttingProxy(upstream: { host: string; port: number }, cutAfter: number): Promise<CuttingProxy> {
  const sockets = new Set<net.Socket>()
  const state = { cuts: 0, cutAfter: cutAfter as number | undefined }
  const server = net.createServer((client) => {
    const registry = net.connect(upstream.port, upstream.host)
    sockets.add(client).add(registry)
    let patchBytes = -1 // bytes seen since a PATCH request line on this connection, -1 = none yet
    client.on('data', (chunk: Buffer) => {
      if (state.cutAfter !== undefined) {
        if (patchBytes < 0) {
          const at = chunk.indexOf('PATCH /v2/')
          if (at >= 0) patchBytes = chunk.length - at
        } else patchBytes += chunk.length
        if (patchBytes >= state.cutAfter) {
          state.cuts++
          state.cutAfter = undefined
          client.destroy()
          registry.destroy()
          return
        }
      }
      if (!registry.write(chunk)) {
        client.pause()
        registry.once('drain', () => client.resume())
      }
    })
    registry.pipe(client)
    client.on('end', () => registry.end())
    for (const socket of [client, registry]) {
      socket.on('error', () => {
        client.destroy()
        registry.destroy()
      })
      socket.on('close', () => sockets.delete(socket))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get cuts() {
      return state.cuts
    },
    arm(next: number) {
      state.cutAfter = next
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
