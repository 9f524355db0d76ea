import Joi from 'joi'
import { parseModelName } from './model/name.js'
import type { Credentials, Logger } from './model/types.js'
import { OciRegistryUploader } from './registry/oci-uploader.js'
import { DEFAULT_OLLAMA_ACCOUNT_URL } from './registry/ollama/account.js'
import { OllamaKey } from './registry/ollama/key.js'
import { ollamaHostsSchema, ollamaKeySchema } from './registry/ollama/options-schema.js'
import type { RegistryUploader } from './registry/uploader.js'
import type { StorageAdapter } from './storage/adapter.js'
import { FilesystemStorage } from './storage/filesystem.js'
import { isHostPattern } from './policy/host-pattern.js'
import { DEFAULT_CLIENT_STALL_TIMEOUT_MS } from './http/ndjson.js'
import type { AllowedRegistries } from './policy/registry-allowed.js'
import type { AllowInsecure } from './policy/insecure-allowed.js'
import { DEFAULT_PROGRESS_INTERVAL_MS, DEFAULT_UPLOAD_CONCURRENCY } from './push/push-model.js'

/**
 * Options of `createPushRouter` and `pushHandler`. Checked once, when the router is made; every
 * problem is reported in one `TypeError`.
 */
export interface PushRouterOptions {
  /** Where local models live. Default: `new FilesystemStorage()` (`$OLLAMA_MODELS` or `~/.ollama/models`). */
  storage?: StorageAdapter | undefined
  /** How blobs and manifests reach registries. Default: `new OciRegistryUploader({ ca, logger, proxy })`. */
  uploader?: RegistryUploader | undefined
  /**
   * Proxy for the default uploader: a URL, or `false` for none. Default: the server process's
   * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`. Ignored with a custom `uploader`.
   */
  proxy?: string | false | undefined
  /** Registry host for names without one (`host` or `host:port`). Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
  /**
   * Host-configured secrets: called with the registry host (`host[:port]`) of each push; return the
   * credentials to use, or `undefined` for none. Request-body credentials, when allowed and given, win.
   */
  credentials?: ((host: string) => Credentials | undefined | Promise<Credentials | undefined>) | undefined
  /** Accept `username`/`password` in the request body. Default `true`. */
  allowRequestCredentials?: boolean | undefined
  /** Extra CA certificates (PEM) the default uploader trusts besides the system ones. Ignored with a custom `uploader`. */
  ca?: string | Buffer | Array<string | Buffer> | undefined
  /** Receives a line per push (start, finish, failure). Never receives credentials. Default: none. */
  logger?: Logger | undefined
  /** Least time between two byte-progress lines of one blob, in ms (10–10000). Default 50. */
  progressIntervalMs?: number | undefined
  /** How many blobs of one push upload at once (1–8). Default 2. */
  uploadConcurrency?: number | undefined
  /**
   * Shuts the router down when it fires: running requests are cancelled (their registry upload
   * sessions closed) and answer `SHUTTING_DOWN`; later requests get 503. The standalone server fires
   * it when the shutdown grace period has passed. Default: none.
   */
  signal?: AbortSignal | undefined
  /**
   * The Ollama key: a path to an OpenSSH ed25519 private key file, or the file's text. Signs token
   * requests to `ollamaHosts` (default uploader only) and `POST /api/me`. Read when needed, never at
   * construction. Default `$HOME/.ollama/id_ed25519`.
   */
  ollamaKey?: string | undefined
  /**
   * Registry hosts using Ollama's signed-key auth (`host`, `host:port`, leading `*.` for subdomains;
   * `[]` for none). Default uploader only. Default `registry.ollama.ai`, `ollama.com` and their subdomains.
   */
  ollamaHosts?: readonly string[] | undefined
  /** Base URL of the account API that `POST /api/me` asks (`<url>/api/me`). Default `https://ollama.com`. */
  ollamaAccountUrl?: string | undefined
  /**
   * Which registries a push may go to: host patterns (`host`, `host:port`, `*.domain`; ports are
   * matched exactly, `host` alone means no port) or a predicate called with the registry host
   * (`host[:port]`). A push anywhere else answers 403 naming the host, before any connection.
   * Default: every registry (Ollama's behaviour). See docs/security.md.
   */
  allowedRegistries?: AllowedRegistries | undefined
  /**
   * Whether a request may ask for `insecure: true` (plain http or unverified TLS): `true` any
   * registry, `false` none (403, nothing contacted), or the host patterns that may. Credentials
   * from `credentials(host)` travel on an insecure push only to hosts listed in such an array;
   * otherwise the push proceeds without them. Default `true`.
   */
  allowInsecure?: AllowInsecure | undefined
  /**
   * How long a streaming response waits for a client that stopped reading its progress lines, in
   * ms (1000–3 600 000). Then the response is closed and the push (or create) cancelled, its
   * registry sessions closed. Default 120 000.
   */
  clientStallTimeoutMs?: number | undefined
}

/**
 * Options of `createModelRouter` and the model-management handlers (`blobHandler`, `copyHandler`, ...):
 * everything `createPushRouter` takes, plus limits for ingest.
 */
export interface ModelRouterOptions extends PushRouterOptions {
  /**
   * Largest blob `POST /api/blobs/:digest` accepts, in bytes; a larger upload is answered 413 and
   * nothing is stored. Default: no limit (as Ollama).
   */
  maxBlobBytes?: number | undefined
}

/** Options after defaults: what the handler uses at request time. */
export interface ResolvedOptions {
  readonly storage: StorageAdapter
  readonly uploader: RegistryUploader
  readonly defaultRegistry: string
  readonly credentials: PushRouterOptions['credentials']
  readonly allowRequestCredentials: boolean
  readonly logger: Logger | undefined
  readonly progressIntervalMs: number
  readonly uploadConcurrency: number
  readonly allowedRegistries: AllowedRegistries | undefined
  readonly allowInsecure: AllowInsecure
  readonly clientStallTimeoutMs: number
  /** Largest blob accepted by ingest, in bytes; `undefined` for no limit. */
  readonly maxBlobBytes: number | undefined
  readonly signal: AbortSignal | undefined
  /** The Ollama key (not yet read), for `POST /api/me`. */
  readonly ollamaKey: OllamaKey
  readonly ollamaAccountUrl: string
}

/** A duck-type check that keeps the caller's object (Joi.object().keys() would clone it). */
function implementing(kind: string, required: string[], optional: string[]) {
  return Joi.any().custom((value: unknown, helpers) => {
    if (value === null || typeof value !== 'object') return helpers.message({ custom: `{{#label}} must be a ${kind} object` })
    const record = value as Record<string, unknown>
    const missing = required.filter((method) => typeof record[method] !== 'function')
    const wrong = optional.filter((method) => record[method] !== undefined && typeof record[method] !== 'function')
    if (missing.length > 0) return helpers.message({ custom: `{{#label}} must implement ${kind}: missing ${missing.join(', ')}` })
    if (wrong.length > 0) return helpers.message({ custom: `{{#label}} has non-function ${wrong.join(', ')}` })
    return value
  })
}

const pem = Joi.alternatives().try(Joi.string(), Joi.binary())

const hostPatterns = Joi.array().items(
  Joi.string().custom((value: string, helpers) => (isHostPattern(value) ? value : helpers.message({ custom: '{{#label}} must be a registry host pattern: "host", "host:port" or "*.domain"' }))),
)

const schema = Joi.object<ModelRouterOptions>({
  storage: implementing('StorageAdapter', ['readManifest', 'statBlob', 'openBlob'], ['writeBlob', 'writeManifest', 'deleteModel', 'listModels', 'deleteBlob']),
  uploader: implementing('RegistryUploader', ['open'], []),
  defaultRegistry: Joi.string().custom((value: string, helpers) => {
    try {
      parseModelName(`${value}/library/probe:latest`)
      return value
    } catch {
      return helpers.message({ custom: '"defaultRegistry" must be a registry host such as "registry.example.com" or "localhost:5000"' })
    }
  }),
  credentials: Joi.func().maxArity(1),
  allowRequestCredentials: Joi.boolean(),
  ca: Joi.alternatives().try(pem, Joi.array().items(pem).min(1)),
  logger: implementing('Logger', [], ['debug', 'info', 'warn', 'error']),
  progressIntervalMs: Joi.number().integer().min(10).max(10_000),
  uploadConcurrency: Joi.number().integer().min(1).max(8),
  proxy: Joi.alternatives().try(Joi.valid(false), Joi.string().uri({ scheme: ['http', 'https'] })),
  ollamaKey: ollamaKeySchema,
  ollamaHosts: ollamaHostsSchema,
  ollamaAccountUrl: Joi.string().uri({ scheme: ['http', 'https'] }),
  allowedRegistries: Joi.alternatives().try(hostPatterns, Joi.func().maxArity(1)),
  allowInsecure: Joi.alternatives().try(Joi.boolean(), hostPatterns),
  clientStallTimeoutMs: Joi.number().integer().min(1_000).max(3_600_000),
  signal: Joi.any().custom((value: unknown, helpers) => (value instanceof AbortSignal ? value : helpers.message({ custom: '{{#label}} must be an AbortSignal' }))),
})
const KNOWN = 'storage, uploader, defaultRegistry, credentials, allowRequestCredentials, ca, logger, progressIntervalMs, uploadConcurrency, proxy, signal, ollamaKey, ollamaHosts, ollamaAccountUrl, allowedRegistries, allowInsecure, clientStallTimeoutMs'
const pushSchema = schema.messages({ 'object.unknown': `{{#label}} is not an option (known options: ${KNOWN})` })
// The model router takes the push options plus the ingest limits.
const modelSchema = schema
  .keys({ maxBlobBytes: Joi.number().integer().min(0) })
  .messages({ 'object.unknown': `{{#label}} is not an option (known options: ${KNOWN}, maxBlobBytes)` })

/**
 * Validate and resolve the options; throws one `TypeError` naming every problem. `kind` says which
 * set is allowed: `push` (createPushRouter, pushHandler) or `model` (also the ingest limits).
 */
export function resolveOptions(options: ModelRouterOptions = {}, kind: 'push' | 'model' = 'push'): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('express-model-push: options must be an object')
  const { error } = (kind === 'model' ? modelSchema : pushSchema).validate(options, { abortEarly: false, convert: false })
  if (error) throw new TypeError(`express-model-push: invalid options: ${error.details.map((d) => d.message).join('; ')}`)
  return Object.freeze({
    storage: options.storage ?? new FilesystemStorage(),
    uploader:
      options.uploader ??
      new OciRegistryUploader({
        ca: options.ca,
        logger: options.logger,
        ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
        ...(options.ollamaKey === undefined ? {} : { ollamaKey: options.ollamaKey }),
        ...(options.ollamaHosts === undefined ? {} : { ollamaHosts: options.ollamaHosts }),
      }),
    defaultRegistry: options.defaultRegistry ?? 'registry.ollama.ai',
    credentials: options.credentials,
    allowRequestCredentials: options.allowRequestCredentials ?? true,
    logger: options.logger,
    progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    uploadConcurrency: options.uploadConcurrency ?? DEFAULT_UPLOAD_CONCURRENCY,
    maxBlobBytes: options.maxBlobBytes,
    signal: options.signal,
    ollamaKey: new OllamaKey(options.ollamaKey),
    ollamaAccountUrl: options.ollamaAccountUrl ?? DEFAULT_OLLAMA_ACCOUNT_URL,
    // Copies: a caller mutating its array later must not change the policy.
    allowedRegistries: Array.isArray(options.allowedRegistries) ? Object.freeze([...options.allowedRegistries]) : options.allowedRegistries,
    clientStallTimeoutMs: options.clientStallTimeoutMs ?? DEFAULT_CLIENT_STALL_TIMEOUT_MS,
    allowInsecure: Array.isArray(options.allowInsecure) ? Object.freeze([...options.allowInsecure]) : (options.allowInsecure ?? true),
  })
}
