import Joi from 'joi'
import type { Logger } from '../model/types.js'
import { DEFAULT_MAX_PART_SIZE, DEFAULT_MIN_PART_SIZE } from './blob-parts.js'
import { DEFAULT_OLLAMA_HOSTS } from './ollama/hosts.js'
import { ollamaHostsSchema, ollamaKeySchema } from './ollama/options-schema.js'
import { DEFAULT_USER_AGENT } from './version.js'

/** Options of `OciRegistryUploader`. Checked once, in the constructor; every problem is reported in one `TypeError`. */
export interface OciRegistryUploaderOptions {
  /**
   * Extra CA certificates (PEM) to trust besides Node's bundled root store, for registries and token
   * realms served over https. Default: none.
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  /** Receives request-level debug lines and restart warnings. URLs are redacted; never credentials or tokens. Default: none. */
  logger?: Logger | undefined
  /** `User-Agent` of every request. Default `express-model-push/<version>`. */
  userAgent?: string | undefined
  /**
   * How long the registry may stay silent, in ms: the time to an answer for requests without a body,
   * and, while a blob streams, the longest stretch without progress (sending, or the answer once sent).
   * Default 60 000.
   */
  timeoutMs?: number | undefined
  /**
   * The retry budget of each step: how many times a step that failed (network error, 5xx, 429) is
   * tried again. Each step has its own: pre-flight POST, HEAD, a blob's POST, commit PUT, manifest PUT,
   * cancel DELETE; one that uses it up fails the push. A failed PATCH or a lost session restarts the
   * blob from POST, at most this many times per blob. A refused connection gets at most 3. Default 8.
   */
  retries?: number | undefined
  /** First retry delay in ms, doubled on each retry (with jitter, at most 10 s; `Retry-After` wins when larger). Default 250. */
  retryDelayMs?: number | undefined
  /** Most concurrent connections per registry origin. Default 16. */
  maxSockets?: number | undefined
  /**
   * Smallest and largest part a blob is cut into (bytes). Parts are cut as Ollama cuts them: size/16
   * clamped to [minPartSize, maxPartSize], the last part taking the remainder; each part is one
   * PATCH. Lower `maxPartSize` for registries (or proxies in front of them) with a request size
   * limit. Defaults 100 000 000 and 1 000 000 000 (Ollama's).
   */
  minPartSize?: number | undefined
  maxPartSize?: number | undefined
  /**
   * Proxy for registry and token requests: a URL (`http://proxy:3128`, credentials in the URL are
   * allowed and never logged) that all requests go through, or `false` for none. Default: the server
   * process's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (and lower-case forms). https
   * is tunnelled with CONNECT, so the registry's certificate is still verified.
   */
  proxy?: string | false | undefined
  /**
   * The Ollama key for registries in `ollamaHosts`: a path to an OpenSSH ed25519 private key file,
   * or the file's text. Read when a token is needed, not here. Default `$HOME/.ollama/id_ed25519`
   * (the key `ollama serve` creates for the user running it).
   */
  ollamaKey?: string | undefined
  /**
   * Registry hosts (`host` or `host:port`, a leading `*.` for subdomains) whose Bearer challenges are
   * answered with Ollama's signed token request instead of the Docker token flow. `[]` turns it off.
   * Default `['registry.ollama.ai', '*.registry.ollama.ai', 'ollama.com', '*.ollama.com']`.
   */
  ollamaHosts?: readonly string[] | undefined
}

/** Options after defaults. */
export interface ResolvedUploaderOptions {
  readonly ca: ReadonlyArray<string | Buffer> | undefined
  readonly logger: Logger | undefined
  readonly userAgent: string
  readonly timeoutMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly maxSockets: number
  readonly minPartSize: number
  readonly maxPartSize: number
  readonly proxy: string | false | undefined
  readonly ollamaKey: string | undefined
  readonly ollamaHosts: readonly string[]
}

const KNOWN = ['ca', 'logger', 'userAgent', 'timeoutMs', 'retries', 'retryDelayMs', 'maxSockets', 'minPartSize', 'maxPartSize', 'proxy', 'ollamaKey', 'ollamaHosts']

// Joi.any().custom keeps object identity (Joi.object().keys() would clone a logger).
const loggerSchema = Joi.any().custom((value: unknown, helpers) => {
  if (value === null || typeof value !== 'object') return helpers.message({ custom: '{{#label}} must be a logger object (debug/info/warn/error methods)' })
  const record = value as Record<string, unknown>
  const wrong = ['debug', 'info', 'warn', 'error'].filter((level) => record[level] !== undefined && typeof record[level] !== 'function')
  if (wrong.length > 0) return helpers.message({ custom: `{{#label}} has non-function ${wrong.join(', ')}` })
  return value
})

const pemSchema = Joi.any().custom((value: unknown, helpers) => {
  const isPem = (item: unknown) => (typeof item === 'string' && item.trim() !== '') || (Buffer.isBuffer(item) && item.length > 0)
  if (isPem(value) || (Array.isArray(value) && value.length > 0 && value.every(isPem))) return value
  return helpers.message({ custom: '{{#label}} must be a PEM string or Buffer, or a non-empty array of them' })
})

const schema = Joi.object<OciRegistryUploaderOptions>({
  ca: pemSchema,
  logger: loggerSchema,
  userAgent: Joi.string().trim().min(1).max(200).pattern(/^[\x20-\x7e]+$/, 'printable ASCII'),
  timeoutMs: Joi.number().integer().min(1).max(3_600_000),
  retries: Joi.number().integer().min(0).max(10),
  retryDelayMs: Joi.number().integer().min(0).max(60_000),
  maxSockets: Joi.number().integer().min(1).max(1024),
  minPartSize: Joi.number().integer().min(1).max(Number.MAX_SAFE_INTEGER),
  maxPartSize: Joi.number().integer().min(Joi.ref('minPartSize', { adjust: (min: unknown) => (typeof min === 'number' ? min : 1) })).max(Number.MAX_SAFE_INTEGER),
  proxy: Joi.alternatives().try(Joi.valid(false), Joi.string().uri({ scheme: ['http', 'https'] })),
  ollamaKey: ollamaKeySchema,
  ollamaHosts: ollamaHostsSchema,
})
  .messages({ 'object.unknown': `{{#label}} is not an option of OciRegistryUploader (known options: ${KNOWN.join(', ')})` })
  .prefs({ abortEarly: false, convert: false })

/** Validate and resolve; never mutates `options`. */
export function resolveUploaderOptions(options: OciRegistryUploaderOptions | undefined): ResolvedUploaderOptions {
  const given = options ?? {}
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new TypeError('OciRegistryUploader options must be an object')
  const { error } = schema.validate(given)
  if (error !== undefined) throw new TypeError(`invalid OciRegistryUploader options: ${error.details.map((detail) => detail.message).join('; ')}`)
  const ca = given.ca === undefined ? undefined : Array.isArray(given.ca) ? [...(given.ca as ReadonlyArray<string | Buffer>)] : [given.ca as string | Buffer]
  return {
    ca,
    logger: given.logger,
    userAgent: given.userAgent ?? DEFAULT_USER_AGENT,
    timeoutMs: given.timeoutMs ?? 60_000,
    retries: given.retries ?? 8,
    retryDelayMs: given.retryDelayMs ?? 250,
    maxSockets: given.maxSockets ?? 16,
    minPartSize: given.minPartSize ?? DEFAULT_MIN_PART_SIZE,
    maxPartSize: given.maxPartSize ?? Math.max(DEFAULT_MAX_PART_SIZE, given.minPartSize ?? 0),
    proxy: given.proxy,
    ollamaKey: given.ollamaKey,
    ollamaHosts: Object.freeze([...(given.ollamaHosts ?? DEFAULT_OLLAMA_HOSTS)]),
  }
}
