/**
 * The registry layer's hook (`RegistryAuthOptions.tokenSource`): for a registry host on
 * `ollamaHosts`, a token source that signs with the Ollama key and sends over the uploader's own
 * transport (its CA, TLS policy and proxies); for any other host, undefined (the Docker token flow).
 */
import type { Logger } from '../../model/types.js'
import type { BearerTokenSource } from '../auth.js'
import { verifiesTls } from '../endpoint.js'
import type { HttpTransport } from '../http-client.js'
import { matchesOllamaHost } from './hosts.js'
import { OllamaKey } from './key.js'
import { ollamaTokenSource } from './token-source.js'

export interface OllamaTokenSelectorOptions {
  /** `ollamaKey`: path or text; undefined for `$HOME/.ollama/id_ed25519`. */
  key: string | undefined
  hosts: readonly string[]
  transport: HttpTransport
  timeoutMs: number
  logger: Logger | undefined
}

export function ollamaTokenSelector(options: OllamaTokenSelectorOptions): (host: string) => BearerTokenSource | undefined {
  const key = new OllamaKey(options.key)
  return (host) => {
    if (!matchesOllamaHost(host, options.hosts)) return undefined
    return async (challenge, context) => {
      const source = ollamaTokenSource(key, {
        logger: options.logger,
        send: (request) =>
          options.transport.send({ method: 'GET', url: request.url, headers: { ...request.headers }, signal: request.signal, timeoutMs: options.timeoutMs, verifyTls: verifiesTls(context.target) }),
      })
      // Ollama's tokens carry no lifetime the client reads; the layer keeps one 60 s (renewed at 54).
      return { token: await source(challenge, { registry: context.registry, signal: context.signal ?? new AbortController().signal }) }
    }
  }
}
