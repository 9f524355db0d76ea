import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * When a request is answered before its body was read to the end (refused as too large, or cut
 * short by an error), the rest of it is still on the connection; a client that sends its next
 * request on the same keep-alive socket then fails. Closing the connection after this answer
 * avoids that, without reading (possibly unbounded) bytes nobody wants.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close')
}
