import type { IncomingMessage, ServerResponse } from 'node:http'
import multer, { MulterError } from 'multer'
import { BlobTooLargeError, InvalidRequestError } from '../errors.js'
import type { StorageAdapter } from '../storage/adapter.js'

/** What one multipart upload writes, handed from the route to the storage engine. */
interface Upload {
  readonly storage: StorageAdapter
  readonly digest: string
  readonly signal: AbortSignal
  size?: number
}

const uploads = new WeakMap<IncomingMessage, Upload>()

/**
 * A multer `StorageEngine` that streams the file part straight into the storage adapter's
 * `writeBlob` (which verifies the digest while writing): no copy in memory, no temp file of multer's.
 * `_removeFile` keeps what was stored: a blob is only ever stored verified, and it may be shared.
 */
const engine: multer.StorageEngine = {
  _handleFile(req, file, callback) {
    const upload = uploads.get(req)
    if (upload === undefined || typeof upload.storage.writeBlob !== 'function') {
      file.stream.resume()
      callback(new Error('multipart blob upload without its context'))
      return
    }
    // busboy cuts the part short at the size limit; stop the write there instead of hashing the rest.
    const cut = new AbortController()
    file.stream.once('limit', () => cut.abort())
    upload.storage.writeBlob(upload.digest, file.stream, { signal: AbortSignal.any([upload.signal, cut.signal]) }).then(
      ({ size }) => {
        upload.size = size
        callback(null, { size })
      },
      (error: unknown) => callback(error),
    )
  },
  _removeFile(_req, _file, callback) {
    callback(null)
  },
}

/**
 * Receive a `multipart/form-data` body with exactly one file part (any field name; a few small
 * text fields are ignored) into blob `digest`. Resolves the stored size; rejects with the
 * adapter's error, `BlobTooLargeError` past `maxBytes`, or `InvalidRequestError` for a bad form.
 */
export function multipartBlobReceiver(maxBytes: number | undefined) {
  const middleware = multer({
    storage: engine,
    limits: { files: 1, fields: 16, fieldSize: 64 * 1024, parts: 32, ...(maxBytes === undefined ? {} : { fileSize: maxBytes }) },
  }).any()
  return (req: IncomingMessage, res: ServerResponse, storage: StorageAdapter, digest: string, signal: AbortSignal): Promise<number> => {
    const upload: Upload = { storage, digest, signal }
    uploads.set(req, upload)
    return new Promise<number>((resolve, reject) => {
      middleware(req as never, res as never, (error?: unknown) => {
        uploads.delete(req)
        if (error instanceof MulterError) {
          if (error.code === 'LIMIT_FILE_SIZE' && maxBytes !== undefined) reject(new BlobTooLargeError(maxBytes))
          else if (error.code === 'LIMIT_FILE_COUNT') reject(new InvalidRequestError('multipart body must hold exactly one file part'))
          else reject(new InvalidRequestError(`invalid multipart body: ${error.message}`))
        } else if (error !== undefined) {
          reject(isFormError(error) ? new InvalidRequestError(`invalid multipart body: ${(error as Error).message}`) : error)
        } else if (upload.size === undefined) {
          reject(new InvalidRequestError('multipart body must hold exactly one file part'))
        } else resolve(upload.size)
      })
    })
  }
}

/** busboy's own parse errors (malformed form, missing boundary): plain Errors without a code. */
function isFormError(error: unknown): boolean {
  return error instanceof Error && !('code' in error) && error.constructor === Error && /multipart|boundary|form/i.test(error.message)
}
