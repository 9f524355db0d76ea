import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable, Transform } from 'node:stream'
import { BlobTooLargeError, DigestMismatchError, InvalidRequestError, ModelPushError, UnsupportedError } from '../errors.js'
import { resolveOptions, type ModelRouterOptions, type ResolvedOptions } from '../options.js'
import { parseBlobDigest } from './blob-digest.js'
import { multipartBlobReceiver } from './multipart-blob.js'
import { sendEmpty, sendFailure, sendJson, type ModelRequestHandler } from './respond.js'

type BlobRequest = IncomingMessage & { body?: unknown; params?: Record<string, string> }

/** An unread body up to this size is drained after an early answer (keeps the connection); a larger one closes it, as Go's server does. */
const DRAIN_LIMIT = 256 * 1024

/**
 * `HEAD` and `POST /api/blobs/:digest` on their own, for mounting on any path with a `:digest`
 * parameter (`app.all('/blobs/:digest', blobHandler())`). Other methods get 405.
 */
export function blobHandler(options: ModelRouterOptions = {}): ModelRequestHandler {
  const resolved = resolveOptions(options, 'model')
  const post = postBlob(resolved)
  return async (req, res) => {
    if (req.method === 'HEAD') return handleHeadBlob(resolved, req, res)
    if (req.method === 'POST') return post(req, res)
    res.setHeader('Allow', 'HEAD, POST')
    sendJson(res, 405, { error: 'method not allowed' })
  }
}

/** `HEAD /api/blobs/:digest`: 200 present, 404 absent, 400 malformed digest (no body on HEAD). */
export async function handleHeadBlob(options: ResolvedOptions, req: BlobRequest, res: ServerResponse): Promise<void> {
  try {
    const digest = blobDigest(req)
    const stat = await options.storage.statBlob(digest)
    if (stat === undefined) sendJson(res, 404, { error: `blob "${digest}" not found` })
    else sendEmpty(res, 200)
  } catch (error) {
    sendFailure(res, error, options.logger, 'blob check')
  }
}

/**
 * `POST /api/blobs/:digest`: the raw body, or a `multipart/form-data` body with one file part,
 * streamed into `storage.writeBlob`, which verifies the digest while writing and keeps nothing
 * unless it matches. 201 stored, 200 already present (body left unread), 400 malformed digest or
 * digest mismatch, 413 past `maxBlobBytes`, 501 without `writeBlob`.
 */
export function postBlob(options: ResolvedOptions): (req: BlobRequest, res: ServerResponse) => Promise<void> {
  const receiveMultipart = multipartBlobReceiver(options.maxBlobBytes)
  const { storage, maxBlobBytes } = options
  return async (req, res) => {
    // Cancel the write when the client goes away: the body stops short of its end, or the
    // connection closes before the answer is sent. (A request also emits 'close' once its body was
    // read to the end; that is not a disconnect.)
    const controller = new AbortController()
    const onRequestClose = () => {
      if (!req.complete) controller.abort()
    }
    const onResponseClose = () => {
      if (!res.writableFinished) controller.abort()
    }
    req.on('close', onRequestClose)
    res.on('close', onResponseClose)
    try {
      const digest = blobDigest(req)
      if (typeof storage.writeBlob !== 'function') throw new UnsupportedError('this server\'s storage cannot store blobs (its adapter has no writeBlob)')
      if ((await storage.statBlob(digest)) !== undefined) {
        leaveBodyUnread(req, res)
        sendEmpty(res, 200)
        return
      }
      const declared = declaredLength(req)
      if (maxBlobBytes !== undefined && declared !== undefined && declared > maxBlobBytes) throw new BlobTooLargeError(maxBlobBytes)
      if (isMultipart(req)) {
        await receiveMultipart(req, res, storage, digest, controller.signal)
      } else {
        await storage.writeBlob(digest, rawBody(req, maxBlobBytes, declared), { signal: controller.signal })
      }
      sendEmpty(res, 201)
    } catch (error) {
      if (controller.signal.aborted) return
      leaveBodyUnread(req, res)
      sendFailure(res, asBlobFailure(error), options.logger, 'blob upload')
    } finally {
      req.off('close', onRequestClose)
      res.off('close', onResponseClose)
    }
  }
}

function blobDigest(req: BlobRequest): string {
  const raw = req.params?.digest ?? lastSegment(req.url)
  const digest = parseBlobDigest(raw)
  if (digest === undefined) throw new InvalidRequestError('invalid digest format')
  return digest
}

/** Without Express's params (a bare http server), the digest is the last path segment. */
function lastSegment(url: string | undefined): string | undefined {
  const path = (url ?? '').split('?')[0] ?? ''
  try {
    return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1))
  } catch {
    return undefined
  }
}

function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\s*(;|$)/i.test(req.headers['content-type'] ?? '')
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length']
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined
}

/**
 * The request body as a stream: the request itself (never buffered), or the Buffer a body parser
 * such as `express.raw()` already made. Without a trustworthy Content-Length, a limit counts bytes.
 */
function rawBody(req: BlobRequest, maxBytes: number | undefined, declared: number | undefined): Readable {
  if (req.readableEnded || (req.body !== undefined && Buffer.isBuffer(req.body))) {
    if (Buffer.isBuffer(req.body)) {
      if (maxBytes !== undefined && req.body.length > maxBytes) throw new BlobTooLargeError(maxBytes)
      return Readable.from([req.body])
    }
    throw new InvalidRequestError('the request body was already read by a body parser; mount the blob route before it')
  }
  // Node's parser stops at Content-Length, so a declared length within the limit needs no counting.
  if (maxBytes === undefined || declared !== undefined) return req
  let seen = 0
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length
      callback(seen > maxBytes ? new BlobTooLargeError(maxBytes) : null, chunk)
    },
  })
  req.on('error', (error) => limiter.destroy(error))
  return req.pipe(limiter)
}

/**
 * Answering before the body is read: a small rest is drained by Node (the connection stays usable);
 * a large or unknown one closes the connection after the answer instead of reading gigabytes for nothing.
 */
function leaveBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.readableEnded || res.headersSent) return
  const declared = declaredLength(req)
  if (declared === undefined || declared > DRAIN_LIMIT) res.setHeader('Connection', 'close')
}

/** Ollama's answers for a blob that does not match its digest: 400, naming both digests. */
function asBlobFailure(error: unknown): unknown {
  if (error instanceof DigestMismatchError) {
    return new ModelPushError('BLOB_INVALID', `digest mismatch, expected "${error.expected}", got "${error.actual}"`, 'request', { status: 400, cause: error })
  }
  if (error instanceof ModelPushError && error.code === 'BLOB_INVALID') return new ModelPushError('BLOB_INVALID', error.message, 'request', { status: 400, cause: error })
  return error
}
