/**
 * The registry layer's hook: for a push target on one of `ollamaHosts`, a `TokenSource` that signs
 * with the Ollama key and sends over the uploader's own transport (its CA and TLS policy); for any
 * other host, undefined (the Docker token flow applies).
 */
import type { Logger } from '../../model/types.js'
import { verifiesTls } from '../endpoint.js'
import type { HttpTransport } from '../http-client.js'
import type { RegistryTarget } from '../uploader.js'
import { matchesOllamaHost } from './hosts.js'
import { OllamaKey } from './key.js'
import { ollamaTokenSource, type TokenSource } from './token-source.js'

export interface OllamaTokenSelectorOptions {
  /** `ollamaKey`: path or text; undefined for `$HOME/.ollama/id_ed25519`. */
  key: string | undefined
  hosts: readonly string[]
  transport: HttpTransport
  timeoutMs: number
  logger: Logger | undefined
}

export function ollamaTokenSelector(options: OllamaTokenSelectorOptions): (target: RegistryTarget) => TokenSource | undefined {
  const key = new OllamaKey(options.key)
  return (target) => {
    if (!matchesOllamaHost(target.host, options.hosts)) return undefined
    return ollamaTokenSource(key, {
      logger: options.logger,
      send: (request) =>
        options.transport.send({ method: 'GET', url: request.url, headers: { ...request.headers }, signal: request.signal, timeoutMs: options.timeoutMs, verifyTls: verifiesTls(target) }),
    })
  }
}
