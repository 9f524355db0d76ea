/**
 * Proxies as Ollama users rely on them. Which proxy a request takes:
 * - option `proxy` undefined (default): the server process's `HTTPS_PROXY` / `HTTP_PROXY` /
 *   `ALL_PROXY` / `NO_PROXY` (and lower-case forms), read per request by `proxy-from-env` (the
 *   resolver axios itself uses; it implements NO_PROXY's host, `.domain`, `*` and port forms);
 * - a URL: every registry and token request goes through that proxy (the environment is ignored);
 * - `false`: never a proxy.
 * https goes through a CONNECT tunnel (`https-proxy-agent`), so TLS still ends at the registry and
 * is verified there (with the `ca` option); plain http is forwarded (`http-proxy-agent`). Both are
 * the agents most of npm uses (the `proxy-agent` family, maintained together); axios's own `proxy`
 * support forwards https requests without tunnelling, so it stays off.
 */
import type http from 'node:http'
import type tls from 'node:tls'
import { HttpProxyAgent } from 'http-proxy-agent'
import { HttpsProxyAgent } from 'https-proxy-agent'
import { getProxyForUrl } from 'proxy-from-env'

export type ProxySetting = string | false | undefined

export interface ProxyAgentOptions {
  readonly ca?: ReadonlyArray<string | Buffer> | undefined
  readonly maxSockets: number
}

export class ProxyAgents {
  readonly #setting: ProxySetting
  readonly #options: ProxyAgentOptions
  readonly #agents = new Map<string, http.Agent>()

  constructor(setting: ProxySetting, options: ProxyAgentOptions) {
    this.#setting = setting
    this.#options = options
  }

  /** The proxy URL a request to `url` goes through, or undefined for a direct connection. */
  proxyFor(url: string): string | undefined {
    if (this.#setting === false) return undefined
    const proxy = this.#setting ?? getProxyForUrl(url)
    return proxy === '' ? undefined : proxy
  }

  /** The agent for `url` when it goes through a proxy; undefined for a direct connection. */
  agentFor(url: string, verifyTls: boolean): http.Agent | undefined {
    const proxy = this.proxyFor(url)
    if (proxy === undefined) return undefined
    const secure = url.startsWith('https:')
    const key = `${secure ? (verifyTls ? 'https' : 'https-unverified') : 'http'}\n${proxy}`
    let agent = this.#agents.get(key)
    if (agent === undefined) {
      const pool = { keepAlive: true, maxSockets: this.#options.maxSockets }
      agent = secure
        ? new TunnellingAgent(proxy, pool, { rejectUnauthorized: verifyTls, ...(this.#options.ca === undefined ? {} : { ca: [...this.#options.ca] }) })
        : new HttpProxyAgent(proxy, pool)
      this.#agents.set(key, agent)
    }
    return agent
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy()
    this.#agents.clear()
  }
}

/**
 * https-proxy-agent takes the TLS options for the registry (behind the tunnel) from each request,
 * and axios passes none: they are added here, so the registry's certificate is verified with the
 * `ca` option (or not at all for an insecure registry) exactly as without a proxy.
 */
class TunnellingAgent extends HttpsProxyAgent<string> {
  readonly #tls: tls.ConnectionOptions

  constructor(proxy: string, options: ConstructorParameters<typeof HttpsProxyAgent<string>>[1], tlsOptions: tls.ConnectionOptions) {
    super(proxy, options)
    this.#tls = tlsOptions
  }

  override connect(request: http.ClientRequest, options: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    return super.connect(request, { ...options, ...this.#tls })
  }
}
