import { StorageError } from '../errors.js'
import { isSha256Digest } from '../model/digest.js'
import type { Descriptor, StoredManifest } from '../model/types.js'

/**
 * Local manifests: the JSON Ollama writes to `manifests/<host>/<namespace>/<model>/<tag>` (ollama
 * `manifest/manifest.go`: `schemaVersion`, `mediaType`, `config`, `layers`; each descriptor has
 * `mediaType`, `digest`, `size`, and Ollama adds `from`/`name` on some layers, which are kept in the
 * bytes and otherwise ignored).
 */

/** The media type Ollama writes, and the one assumed when a manifest has no `mediaType`. */
export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json'
/** Ollama's config blob media type. */
export const DOCKER_CONFIG_V1 = 'application/vnd.docker.container.image.v1+json'
/** Largest manifest accepted: the default limit of distribution (registry) itself, 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

// RFC 6838 type/subtype with optional +suffix and parameters kept out: registries match it exactly.
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/

export { isSha256Digest }

/**
 * Parse a manifest's bytes. The bytes are kept untouched in the result (they are pushed
 * byte-exact). Throws `StorageError` with code `BLOB_INVALID` saying what is wrong, never quoting
 * more than a short, escaped piece of the content. `label` names the manifest in messages.
 */
export function parseStoredManifest(bytes: Buffer, label = 'manifest'): StoredManifest {
  const invalid = (why: string) => new StorageError(`${label} is invalid: ${why}`, { code: 'BLOB_INVALID' })
  if (!Buffer.isBuffer(bytes)) throw invalid('not a Buffer')
  if (bytes.length > MAX_MANIFEST_BYTES) throw invalid(`larger than ${MAX_MANIFEST_BYTES} bytes`)

  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw invalid('not UTF-8')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw invalid('not JSON')
  }
  if (!isRecord(json)) throw invalid('not a JSON object')
  if (json.schemaVersion !== 2) throw invalid(`schemaVersion is ${short(json.schemaVersion)}, expected 2`)

  let mediaType = DOCKER_MANIFEST_V2
  if (json.mediaType !== undefined) {
    if (typeof json.mediaType !== 'string' || !MEDIA_TYPE.test(json.mediaType)) throw invalid(`mediaType ${short(json.mediaType)} is not a media type`)
    mediaType = json.mediaType
  }

  const config = descriptor(json.config, 'config', invalid)
  if (!Array.isArray(json.layers)) throw invalid('layers is not an array')
  const layers = json.layers.map((layer, i) => descriptor(layer, `layers[${i}]`, invalid))
  return Object.freeze({ bytes, mediaType, config, layers: Object.freeze(layers) })
}

/**
 * Manifest bytes as Ollama writes them (Go's `json.Encoder`: compact, fields in this order, one
 * trailing newline). For tests, `MemoryStorage.addModel` and ingest; never used to re-serialise a
 * stored manifest.
 */
export function serializeManifest(config: Descriptor, layers: readonly Descriptor[], mediaType = DOCKER_MANIFEST_V2): Buffer {
  const plain = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })
  return Buffer.from(`${JSON.stringify({ schemaVersion: 2, mediaType, config: plain(config), layers: layers.map(plain) })}\n`)
}

function descriptor(value: unknown, where: string, invalid: (why: string) => StorageError): Descriptor {
  if (!isRecord(value)) throw invalid(`${where} is not an object`)
  const { mediaType, digest, size, from } = value
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType)) throw invalid(`${where}.mediaType ${short(mediaType)} is not a media type`)
  if (!isSha256Digest(digest)) throw invalid(`${where}.digest ${short(digest)} is not "sha256:" and 64 lowercase hex digits`)
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size ${short(size)} is not a non-negative integer`)
  return Object.freeze(typeof from === 'string' && from !== '' ? { mediaType, digest, size, from } : { mediaType, digest, size })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A value for a message: at most ~40 characters, JSON-escaped (no control characters, no bulk). */
function short(value: unknown): string {
  if (value === undefined) return 'missing'
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object'
  const text = typeof value === 'string' && value.length > 40 ? JSON.stringify(value.slice(0, 40)) : (JSON.stringify(value) ?? typeof value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}
