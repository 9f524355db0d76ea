import type { ModelRouterOptions } from '../options.js'
import type { Logger } from '../model/types.js'
import { defaultModelsDirectory, FilesystemStorage } from '../storage/filesystem.js'
import { LOG_LEVELS, type LogLevel } from './logger.js'

/** The standalone server's settings, read from the environment by `readServerConfig`. */
export interface ServerConfig {
  port: number
  host: string
  /** The models directory (absolute or relative to the working directory). */
  models: string
  logLevel: LogLevel
  /** How long running requests may finish after SIGTERM/SIGINT before they are cancelled. */
  shutdownGraceMs: number
  /** Router options taken from the environment when set (see `SERVER_ENVIRONMENT`). */
  ollamaKey?: string | undefined
  ollamaHosts?: string[] | undefined
  ollamaAccountUrl?: string | undefined
  maxBlobBytes?: number | undefined
  allowedRegistries?: string[] | undefined
  allowInsecure?: boolean | string[] | undefined
}

/** One environment variable: its name, default, meaning (for `--help` and the README), and reader. */
export interface EnvVariable {
  readonly name: string
  /** The default, as shown to people. */
  readonly default: string
  readonly meaning: string
  /** Read the (non-empty) value into `config`; return a problem to report, or undefined. */
  readonly read: (value: string, config: ServerConfig) => string | undefined
}

function integer(min: number, max: number, apply: (n: number, config: ServerConfig) => void) {
  return (value: string, config: ServerConfig): string | undefined => {
    const n = Number(value)
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) return `must be an integer from ${min} to ${max}`
    apply(n, config)
    return undefined
  }
}

/** A comma-separated list of host patterns. */
function hostList(value: string): string[] {
  return value.split(',').map((host) => host.trim()).filter((host) => host !== '')
}

/**
 * Every variable the standalone server reads. Adding one is adding a row here (and, when it maps to
 * a router option, a line in `routerOptionsFrom`); `--help` and the README's table show this list.
 */
export const SERVER_ENVIRONMENT: readonly EnvVariable[] = [
  {
    name: 'PORT',
    default: '11434',
    meaning: "Port to listen on (Ollama's; 0 picks a free one).",
    read: integer(0, 65535, (n, c) => (c.port = n)),
  },
  {
    name: 'HOST',
    default: '127.0.0.1',
    meaning: 'Address to listen on (0.0.0.0 for every interface).',
    read: (value, c) => void (c.host = value.trim()),
  },
  {
    name: 'OLLAMA_MODELS',
    default: '~/.ollama/models',
    meaning: "The models directory, in Ollama's layout (manifests/, blobs/).",
    read: () => undefined, // read through defaultModelsDirectory, which trims it as Ollama does
  },
  {
    name: 'LOG_LEVEL',
    default: 'info',
    meaning: 'debug (also every registry request), info (a line per push and per error), warn, error or silent.',
    read: (value, c) => {
      const level = value.trim().toLowerCase()
      if (!(LOG_LEVELS as readonly string[]).includes(level)) return `must be one of ${LOG_LEVELS.join(', ')}`
      c.logLevel = level as LogLevel
      return undefined
    },
  },
  {
    name: 'SHUTDOWN_GRACE_MS',
    default: '8000',
    meaning: 'On SIGTERM/SIGINT: how long running pushes may finish before they are cancelled (upload sessions closed).',
    read: integer(0, 3_600_000, (n, c) => (c.shutdownGraceMs = n)),
  },
  {
    name: 'MAX_BLOB_BYTES',
    default: 'none',
    meaning: 'Largest blob POST /api/blobs accepts, in bytes (413 past it); none means no limit, as Ollama.',
    read: integer(0, Number.MAX_SAFE_INTEGER, (n, c) => (c.maxBlobBytes = n)),
  },
  {
    name: 'ALLOWED_REGISTRIES',
    default: 'every registry',
    meaning: 'Comma-separated registry hosts (host, host:port, *.domain) pushes may go to; any other answers 403 before a connection.',
    read: (value, c) => void (c.allowedRegistries = hostList(value)),
  },
  {
    name: 'ALLOW_INSECURE',
    default: 'true',
    meaning: 'Whether requests may ask for insecure (plain http, unverified TLS): true, false, or comma-separated hosts that may.',
    read: (value, c) => {
      const text = value.trim().toLowerCase()
      c.allowInsecure = text === 'true' ? true : text === 'false' ? false : hostList(value)
      return undefined
    },
  },
  {
    name: 'OLLAMA_KEY',
    default: '~/.ollama/id_ed25519',
    meaning: "The Ollama key (an OpenSSH ed25519 private key file) that signs token requests to ollama.com's registry and POST /api/me.",
    read: (value, c) => void (c.ollamaKey = value.trim()),
  },
  {
    name: 'OLLAMA_REGISTRY_HOSTS',
    default: 'registry.ollama.ai,ollama.com and subdomains',
    meaning: "Comma-separated registry hosts (host, host:port, *.domain) that use Ollama's signed-key auth.",
    read: (value, c) => void (c.ollamaHosts = hostList(value)),
  },
  {
    name: 'OLLAMA_ACCOUNT_URL',
    default: 'https://ollama.com',
    meaning: 'Where POST /api/me asks who the Ollama key belongs to.',
    read: (value, c) => void (c.ollamaAccountUrl = value.trim()),
  },
]

/** Read the server's settings from `env`; throws one `TypeError` naming every bad variable. */
export function readServerConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const config: ServerConfig = { port: 11434, host: '127.0.0.1', models: defaultModelsDirectory(env), logLevel: 'info', shutdownGraceMs: 8000 }
  const problems: string[] = []
  for (const variable of SERVER_ENVIRONMENT) {
    const value = env[variable.name]
    if (value === undefined || value.trim() === '') continue
    const problem = variable.read(value, config)
    if (problem) problems.push(`${variable.name} ${problem}`)
  }
  if (problems.length > 0) throw new TypeError(`invalid environment: ${problems.join('; ')}`)
  return config
}

/** The router options the server serves with: the one place env settings meet the router. */
export function routerOptionsFrom(config: ServerConfig, runtime: { logger: Logger; signal: AbortSignal }): ModelRouterOptions {
  return {
    storage: new FilesystemStorage({ root: config.models }),
    logger: runtime.logger,
    signal: runtime.signal,
    ollamaKey: config.ollamaKey,
    ollamaHosts: config.ollamaHosts,
    ollamaAccountUrl: config.ollamaAccountUrl,
    maxBlobBytes: config.maxBlobBytes,
    allowedRegistries: config.allowedRegistries,
    allowInsecure: config.allowInsecure,
  }
}

/** `--help`: usage and the variables, from the table above. */
export function helpText(): string {
  const width = Math.max(...SERVER_ENVIRONMENT.map((v) => v.name.length))
  const rows = SERVER_ENVIRONMENT.map((v) => `  ${v.name.padEnd(width)}  ${v.meaning} Default: ${v.default}.`)
  return [
    'Usage: express-model-push [--help]',
    '',
    "Serves Ollama's POST /api/push from a local models directory, pushing models to OCI registries.",
    'Stops on SIGTERM/SIGINT: running pushes get SHUTDOWN_GRACE_MS to finish, then are cancelled.',
    '',
    'Environment variables:',
    ...rows,
    '',
  ].join('\n')
}
