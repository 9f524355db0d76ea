/**
 * `OciRegistryUploader`: the default `RegistryUploader`, speaking the OCI distribution API. It owns
 * what outlives one push — connections (keep-alive agents, proxies), learnt auth challenges and
 * tokens, http fallbacks of insecure hosts, the uploads in flight and where blobs were seen — and
 * opens one `OciPush` session per push (lib/registry/oci-push.ts has the protocol steps).
 */
import type { OperationOptions } from '../model/types.js'
import { RegistryAuth } from './auth.js'
import { EndpointResolver } from './endpoint.js'
import { HttpTransport } from './http-client.js'
import { OciPush } from './oci-push.js'
import { ollamaTokenSelector } from './ollama/select.js'
import { resolveUploaderOptions, type OciRegistryUploaderOptions, type ResolvedUploaderOptions } from './options.js'
import { RegistryClient } from './registry-client.js'
import { BlobSightings, SharedUploads } from './shared-uploads.js'
import type { RegistryPush, RegistryTarget, RegistryUploader } from './uploader.js'
import { secretForms } from './redact.js'
import { scrubbing, scrubbingLogger, scrubbingPush } from './secret-scrubbing.js'

export type { OciRegistryUploaderOptions } from './options.js'

export class OciRegistryUploader implements RegistryUploader {
  readonly #options: ResolvedUploaderOptions
  readonly #transport: HttpTransport
  readonly #client: RegistryClient
  readonly #uploads = new SharedUploads()
  readonly #sightings = new BlobSightings()
  readonly #redirectHosts = new Set<string>()

  constructor(options?: OciRegistryUploaderOptions) {
    this.#options = resolveUploaderOptions(options)
    const { logger, timeoutMs } = this.#options
    this.#transport = new HttpTransport({ ca: this.#options.ca, userAgent: this.#options.userAgent, maxSockets: this.#options.maxSockets, proxy: this.#options.proxy })
    // Ollama's signed-key token requests for its hosts; the Docker token flow for every other.
    const tokenSource = ollamaTokenSelector({ key: this.#options.ollamaKey, hosts: this.#options.ollamaHosts, transport: this.#transport, timeoutMs, logger })
    const auth = new RegistryAuth({ transport: this.#transport, logger, timeoutMs, tokenSource })
    this.#client = new RegistryClient({ transport: this.#transport, auth, endpoints: new EndpointResolver(logger), logger, timeoutMs })
  }

  /**
   * Open a push session. The pre-flight proves reachability, authentication and push permission
   * by opening the first upload session (a pull-only token is refused here with 401/403); the
   * session keeps it for the first blob that needs one, or cancels it on `close()`.
   */
  async open(target: RegistryTarget, options: OperationOptions = {}): Promise<RegistryPush> {
    const { retries, retryDelayMs, timeoutMs, minPartSize, maxPartSize } = this.#options
    // The session's errors and log lines are scrubbed of this push's password in every form.
    const forms = secretForms(target.credentials)
    const logger = scrubbingLogger(this.#options.logger, forms)
    const push = await scrubbing(forms, () =>
      OciPush.open(
        { client: this.#client, logger, retries, retryDelayMs, timeoutMs, minPartSize, maxPartSize, uploads: this.#uploads, sightings: this.#sightings, redirectHosts: this.#redirectHosts },
        target,
        options,
      ),
    )
    return scrubbingPush(push, target.credentials)
  }

  /** Close idle keep-alive connections. The uploader must not be used afterwards. */
  close(): void {
    this.#transport.close()
  }
}
