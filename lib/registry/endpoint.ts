/**
 * Which scheme and TLS policy a registry gets, and which URLs may carry its credentials.
 *
 * Docker's insecure-registry behaviour: a registry marked insecure is tried over https without
 * certificate verification, and only when it does not speak TLS at all (the handshake fails with a
 * protocol error, e.g. OpenSSL's "wrong version number" from a plain-http server) over plain http.
 * That finding is cached per host. A registry not marked insecure is https only, verified.
 */
import { RegistryError } from '../errors.js'
import type { Logger } from '../model/types.js'
import { isTlsProtocolError } from './registry-error.js'
import { redactUrl } from './redact.js'
import type { RegistryTarget } from './uploader.js'

export class EndpointResolver {
  /** Insecure hosts found not to speak TLS. */
  readonly #plainHttp = new Set<string>()
  readonly #logger: Logger | undefined

  constructor(logger: Logger | undefined) {
    this.#logger = logger
  }

  /** `https://host` or, for an insecure host known to be plain, `http://host`. */
  origin(target: RegistryTarget): string {
    const plain = target.insecure && this.#plainHttp.has(target.host.toLowerCase())
    return `${plain ? 'http' : 'https'}://${target.host}`
  }

  /**
   * After a failed https request to an insecure target's own host: when the failure was a TLS
   * protocol error, remember the host as plain http and return the http form of `url` to retry with.
   */
  fallBackToHttp(target: RegistryTarget, url: string, error: unknown): string | undefined {
    if (!target.insecure || !isTlsProtocolError(error)) return undefined
    const parsed = new URL(url)
    if (parsed.protocol !== 'https:' || !isRegistryUrl(target, parsed)) return undefined
    const host = target.host.toLowerCase()
    if (!this.#plainHttp.has(host)) {
      this.#plainHttp.add(host)
      this.#logger?.info?.('insecure registry does not speak TLS, using plain http', { host: target.host })
    }
    parsed.protocol = 'http:'
    return parsed.toString()
  }
}

/** Whether TLS certificates are verified for requests made for `target` (Docker skips verification for everything an insecure registry sends us to). */
export function verifiesTls(target: RegistryTarget): boolean {
  return !target.insecure
}

/** Refuse URLs a target may not use: anything but https for a registry not marked insecure. */
export function assertUrlAllowed(target: RegistryTarget, url: string, action: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new RegistryError('REGISTRY_FAILED', `${action}: registry sent an invalid URL`, { cause: error instanceof Error ? new Error(error.message) : undefined })
  }
  if (parsed.protocol === 'https:') return parsed
  if (parsed.protocol === 'http:' && target.insecure) return parsed
  throw new RegistryError(
    'REGISTRY_FAILED',
    parsed.protocol === 'http:'
      ? `${action}: registry sent a plain-http URL; http is only used for registries marked insecure`
      : `${action}: registry sent an unsupported URL scheme ${JSON.stringify(parsed.protocol)}`,
    { url: redactUrl(parsed) },
  )
}

function effectivePort(protocol: string, port: string): string {
  if (port !== '') return port
  return protocol === 'http:' ? '80' : '443'
}

/**
 * Whether `url` points at the registry itself (same host name and port; a missing port means the
 * URL scheme's default). Only such URLs carry the registry's credentials or tokens.
 */
export function isRegistryUrl(target: RegistryTarget, url: URL | string): boolean {
  const parsed = typeof url === 'string' ? new URL(url) : url
  let registry: URL
  try {
    registry = new URL(`${parsed.protocol}//${target.host}`)
  } catch {
    return false
  }
  return (
    parsed.hostname.toLowerCase() === registry.hostname.toLowerCase() &&
    effectivePort(parsed.protocol, parsed.port) === effectivePort(registry.protocol, registry.port)
  )
}

/** Loopback hosts: plain http to them never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const name = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}
