/**
 * A fully qualified model name, after Ollama's defaults have been applied.
 *
 * `registry.example.com:5000/team/llama:q4` becomes
 * `{ host: 'registry.example.com:5000', namespace: 'team', model: 'llama', tag: 'q4' }`.
 */
export interface ModelName {
  /** Registry host, with `:port` when one was given. Default `registry.ollama.ai` (or `defaultRegistry`). */
  readonly host: string
  /** Namespace (the registry repository's first path segment). Default `library`. */
  readonly namespace: string
  /** Model name (the registry repository's second path segment). */
  readonly model: string
  /** Tag. Default `latest`. */
  readonly tag: string
}

/** An OCI content descriptor: what adapters exchange instead of bytes. */
export interface Descriptor {
  /** Media type of the content, e.g. `application/vnd.ollama.image.model`. */
  readonly mediaType: string
  /** `sha256:<64 lowercase hex>`. */
  readonly digest: string
  /** Size in bytes. */
  readonly size: number
  /**
   * Ollama's `from` on a layer taken from a parent model (`/api/create` with `FROM`): the parent's
   * name, e.g. `llama3.2` or `registry.example.com/team/base:1`. A push offers the registry a
   * cross-repository mount from the parent's repository before uploading. Optional.
   */
  readonly from?: string | undefined
}

/** A manifest as stored locally: the exact bytes plus what was parsed out of them. */
export interface StoredManifest {
  /** The manifest file's bytes, untouched. They are pushed byte-exact (never re-serialised). */
  readonly bytes: Buffer
  /** The manifest's media type (`mediaType` field, or the Docker v2 schema 2 type when absent). */
  readonly mediaType: string
  /** The config blob. */
  readonly config: Descriptor
  /** Layer blobs, in manifest order. */
  readonly layers: readonly Descriptor[]
  /**
   * When the manifest was last written (a file's mtime), if the store knows. `GET /api/tags` shows it
   * as `modified_at` (Ollama uses the manifest file's mtime too); absent, it shows the Unix epoch.
   */
  readonly modifiedAt?: Date | undefined
}

/** A progress event, exactly as Ollama writes it on `/api/push` (zero-valued fields are omitted). */
export interface PushProgress {
  /** `retrieving manifest`, `pushing <first 12 hex of digest>`, `pushing manifest` or `success`. */
  status: string
  digest?: string | undefined
  total?: number | undefined
  completed?: number | undefined
}

/** Username and password for a registry. Never logged, never echoed in errors. */
export interface Credentials {
  username: string
  password: string
}

/** Options that every adapter and uploader method accepts. */
export interface OperationOptions {
  /** Fires when the push is cancelled (client gone, host shutdown). Stop promptly and clean up. */
  signal?: AbortSignal | undefined
}

/** A minimal logger (pino, winston, bunyan and `console` all fit). Secrets are never passed to it. */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void
  info?(message: string, fields?: Record<string, unknown>): void
  warn?(message: string, fields?: Record<string, unknown>): void
  error?(message: string, fields?: Record<string, unknown>): void
}
