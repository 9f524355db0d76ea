/**
 * Starts Debian's `docker-registry` (distribution 2.8) for integration tests and the benchmark:
 * 127.0.0.1 only, a free port, a fresh temp dir per registry (storage, config, certs, htpasswd),
 * in one of three auth modes (`none`, htpasswd `basic`, `token` with our own issuer), optionally TLS.
 *
 * Processes never outlive the test process: each registry runs under a tiny `sh` watchdog that
 * kills it when our end of its stdin pipe closes (which the kernel does however Node dies, even
 * SIGKILL), stop() kills the whole process group, and an `exit` hook kills whatever is left.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { rmSync, type Dirent } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { makeSelfSignedCertificate, type CertificateFiles } from './certs.js'
import { basicAuthorization, rawRequest, streamRequest, type RawRequestOptions, type RawResponse } from './http-client.js'
import { startTokenIssuer, type ResourceActions, type TokenAlgorithm, type TokenIssuer } from './token-issuer.js'

export type RegistryAuthMode = 'none' | 'basic' | 'token'
export type RegistryUserRole = 'pusher' | 'reader'

export interface RegistryUser {
  readonly username: string
  readonly password: string
}

export interface StartRegistryOptions {
  /** Default `none`. */
  auth?: RegistryAuthMode
  /** Serve https with a self-signed cert for 127.0.0.1 (IP SAN); `ca` holds its PEM. Default false. */
  tls?: boolean
  /** Registry log level (`error`, `warn`, `info`, `debug`). Output is captured, shown only when start fails. Default `warn`. */
  logLevel?: string
  /** distribution's `http.relativeurls`: answer with relative `Location` headers. Default false (absolute). */
  relativeUrls?: boolean
  /** Token mode: JWT signing algorithm. Default `ES256`. */
  tokenAlgorithm?: TokenAlgorithm
  /** Token mode: `expires_in` of issued tokens, seconds. Default 300. */
  tokenExpiresIn?: number
  /**
   * Token mode: actions each role holds on every repository. Defaults: pusher `['pull','push']`,
   * reader `['pull']`, anonymous `[]`. (Cancelling an upload with DELETE needs `delete` in 2.8.)
   * `repositories`: per role, actions on particular repositories instead (`[]`: none there).
   */
  grants?: {
    pusher?: readonly string[]
    reader?: readonly string[]
    anonymous?: readonly string[]
    repositories?: { pusher?: Readonly<Record<string, readonly string[]>>; reader?: Readonly<Record<string, readonly string[]>> }
  }
  /** How long to wait for `/v2/` to answer. Default 15 000 ms. */
  startTimeoutMs?: number
}

export interface ManifestResponse {
  status: number
  bytes: Buffer
  contentType: string | undefined
  /** `Docker-Content-Digest` header. */
  digest: string | undefined
}

export interface StartedRegistry {
  /** `127.0.0.1:PORT`: what goes in a model name. */
  readonly host: string
  /** `http://127.0.0.1:PORT` or `https://…`. */
  readonly url: string
  readonly auth: RegistryAuthMode
  readonly tls: boolean
  /** PEM of the self-signed certificate (its own CA) when `tls`; also covers the token realm then. */
  readonly ca: string | undefined
  /** pusher: pull+push. reader: pull only in token mode; in basic mode htpasswd cannot restrict, so both push. */
  readonly users: { readonly pusher: RegistryUser; readonly reader: RegistryUser }
  readonly storageDir: string
  /** Token mode: the issuer (its `realm`, recorded `requests`, `mint`). */
  readonly tokenIssuer: TokenIssuer | undefined
  /** Token mode: the `service` the registry announces. */
  readonly service: string | undefined
  /** The `Authorization` header value for `role` (minted directly in token mode, not via the realm); undefined in `none` mode. */
  authorization(repository: string, options?: { role?: RegistryUserRole; actions?: readonly string[] }): string | undefined
  /** A raw request to a path of this registry (e.g. `/v2/`), as pusher unless `anonymous`. */
  request(path: string, options?: RawRequestOptions & { anonymous?: boolean; repository?: string }): Promise<RawResponse>
  /** GET a manifest as pusher, accepting the Docker v2 and OCI manifest/index types. */
  getManifest(repository: string, reference: string): Promise<ManifestResponse>
  /** Stream a blob and hash it: `sha256:<hex>` of the bytes served, undefined on 404. */
  blobDigest(repository: string, digest: string): Promise<string | undefined>
  /** HEAD a blob: true on 200, false on 404. */
  hasBlob(repository: string, digest: string): Promise<boolean>
  /** Seed a blob (POST + PUT ?digest=, monolithic) as pusher; returns its digest. */
  putBlob(repository: string, content: Buffer): Promise<string>
  /** Seed a manifest as pusher; returns the registry's `Docker-Content-Digest`. */
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType?: string): Promise<string>
  /**
   * Upload sessions still open in the registry's storage, as `<repository>/_uploads/<uuid>`, of one
   * repository or of all. Read from disk, not through the API, so it shows what the registry really
   * did: a session committed (PUT ?digest=) or cancelled (DELETE) loses its `startedat` file
   * (distribution 2.8 may keep its hash state), a session still open keeps it.
   */
  openUploads(repository?: string): Promise<string[]>
  /** The captured registry output (last 64 KiB). */
  output(): string
  /** Kill the registry (and token issuer) and remove every temp dir. Idempotent. */
  stop(): Promise<void>
}

/** Accept header for manifest GETs: without one distribution 2.8 tries to down-convert to schema 1. */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ')

export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json'

const TOKEN_SERVICE = 'express-model-push.test-registry'
const TOKEN_ISSUER = 'express-model-push.test-issuer'
const BINARY = process.env.DOCKER_REGISTRY_BIN ?? 'docker-registry'
const OUTPUT_LIMIT = 64 * 1024
const PORT_ATTEMPTS = 5

// Runs `$@` (the registry) and kills it once fd 3, our copy of the stdin pipe, reaches EOF: that
// happens when the test process exits or dies. Background jobs get /dev/null as stdin, hence fd 3.
// It also removes the registry's temp dir ($1) then, since Node's own cleanup never ran.
const WATCHDOG = [
  'root=$1; shift',
  'exec 3<&0 </dev/null',
  '"$@" &',
  'registry=$!',
  '{ cat <&3; kill -KILL "$registry"; rm -rf "$root"; } >/dev/null 2>&1 &',
  'wait "$registry"',
].join('\n')

/** Registries not yet stopped, killed synchronously if the process exits first. */
const live = new Set<{ child: ChildProcess; root: string }>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const entry of live) {
      killGroup(entry.child, 'SIGKILL')
      rmSync(entry.root, { recursive: true, force: true })
    }
    live.clear()
  })
}

/** Start a real registry. Rejects with the registry's own output when it cannot start. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<StartedRegistry> {
  const auth = options.auth ?? 'none'
  const tls = options.tls ?? false
  installExitHook()
  const root = await mkdtemp(join(tmpdir(), 'emp-registry-'))
  const storageDir = join(root, 'storage')
  let issuer: TokenIssuer | undefined
  try {
    await mkdir(storageDir)
    const users = {
      pusher: { username: 'pusher', password: `push-${randomBytes(9).toString('base64url')}` },
      reader: { username: 'reader', password: `read-${randomBytes(9).toString('base64url')}` },
    }
    const serverCert = tls
      ? await makeSelfSignedCertificate(root, { name: 'server', commonName: '127.0.0.1', altNames: ['IP:127.0.0.1', 'DNS:localhost'] })
      : undefined

    const authConfig: Record<string, unknown> = {}
    if (auth === 'basic') {
      // bcrypt cost 5 (htpasswd -B's default): distribution checks the hash on every request.
      const lines = Object.values(users).map((user) => `${user.username}:${bcrypt.hashSync(user.password, 5)}`)
      const path = join(root, 'htpasswd')
      await writeFile(path, lines.join('\n') + '\n')
      authConfig.htpasswd = { realm: 'express-model-push-test', path }
    } else if (auth === 'token') {
      const algorithm = options.tokenAlgorithm ?? 'ES256'
      const signing: CertificateFiles = await makeSelfSignedCertificate(root, {
        name: 'token-signing',
        commonName: 'token-issuer',
        algorithm: algorithm === 'ES256' ? 'ec' : 'rsa',
      })
      issuer = await startTokenIssuer({
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        signingKey: signing.key,
        signingCert: signing.cert,
        algorithm,
        users: {
          [users.pusher.username]: { password: users.pusher.password, actions: options.grants?.pusher ?? ['pull', 'push'], repositories: options.grants?.repositories?.pusher },
          [users.reader.username]: { password: users.reader.password, actions: options.grants?.reader ?? ['pull'], repositories: options.grants?.repositories?.reader },
        },
        anonymousActions: options.grants?.anonymous ?? [],
        expiresIn: options.tokenExpiresIn ?? 300,
        tls: serverCert === undefined ? undefined : { key: serverCert.key, cert: serverCert.cert },
      })
      authConfig.token = { realm: issuer.realm, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootcertbundle: signing.certPath }
    }

    const ca = serverCert?.cert
    const scheme = tls ? 'https' : 'http'
    let lastFailure = ''
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort()
      const host = `127.0.0.1:${port}`
      // JSON is valid YAML, so the config needs no YAML library.
      const config = {
        version: '0.1',
        log: { level: options.logLevel ?? 'warn', formatter: 'text', accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: storageDir },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
          addr: host,
          secret: randomBytes(16).toString('hex'), // else a warning, and sessions signed with a random one anyway
          relativeurls: options.relativeUrls ?? false,
          ...(serverCert === undefined ? {} : { tls: { certificate: serverCert.certPath, key: serverCert.keyPath } }),
        },
        ...(Object.keys(authConfig).length > 0 ? { auth: authConfig } : {}),
      }
      const configPath = join(root, 'config.yml')
      await writeFile(configPath, JSON.stringify(config, null, 2))

      const started = await launch(configPath, root, `${scheme}://${host}`, ca, options.startTimeoutMs ?? 15_000)
      if (started.ok) {
        return makeHandle({ child: started.child, output: started.output, root, host, url: `${scheme}://${host}`, auth, tls, ca, users, storageDir, issuer })
      }
      lastFailure = started.output()
      // Someone took the port between our probe and the registry's bind: try another one.
      if (!/address already in use/i.test(lastFailure)) break
    }
    const hint = /not found|No such file/i.test(lastFailure) ? '\n(is docker-registry installed? run: node spec/support/ensure-registry.mjs)' : ''
    throw new Error(`docker-registry (${auth}${tls ? ', tls' : ''}) did not start:\n${lastFailure.trim() || '(no output)'}${hint}`)
  } catch (error) {
    await issuer?.close()
    await rm(root, { recursive: true, force: true })
    throw error
  }
}

interface Launched {
  ok: boolean
  child: ChildProcess
  output: () => string
}

/** Spawn the registry under the watchdog and poll `/v2/` until it answers, it exits, or time runs out. */
async function launch(configPath: string, root: string, url: string, ca: string | undefined, timeoutMs: number): Promise<Launched> {
  // Strip REGISTRY_* variables: distribution reads them as config overrides.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')))
  const child = spawn('sh', ['-c', WATCHDOG, 'registry-watchdog', root, BINARY, 'serve', configPath], {
    detached: true, // own process group, so stop() can kill registry and watchdog together
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  })
  const entry = { child, root }
  live.add(entry)
  let output = ''
  const capture = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT)
  }
  child.stdout?.on('data', capture)
  child.stderr?.on('data', capture)
  // Don't let a forgotten registry keep `node --test` alive: the exit hook and watchdog clean up.
  child.unref()
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.()

  let exited = child.exitCode !== null || child.signalCode !== null
  let spawnError: Error | undefined
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      resolve()
    })
    child.once('error', (error) => {
      spawnError = error
      exited = true
      resolve()
    })
  })
  const result = (ok: boolean): Launched => ({ ok, child, output: () => (spawnError === undefined ? output : `${spawnError.message}\n${output}`) })

  const deadline = Date.now() + timeoutMs
  let delay = 5
  while (!exited && Date.now() < deadline) {
    try {
      await rawRequest(`${url}/v2/`, { ca, timeoutMs: 2_000 })
      return result(true) // 200 or 401: either way the registry is serving
    } catch {
      // not listening yet
    }
    // Wake on exit or after a short, growing interval: a bounded poll, not a fixed sleep.
    await Promise.race([exitedPromise, new Promise((resolve) => setTimeout(resolve, delay))])
    delay = Math.min(delay * 2, 50)
  }
  if (!exited) output += `\n(no answer from ${url}/v2/ within ${timeoutMs} ms)`
  // Kill what is left (the watchdog's helper too), then let the pipes deliver the registry's last
  // words before reporting them: 'close' fires once every stdio stream has ended.
  const closed = new Promise((resolve) => child.once('close', resolve))
  killGroup(child, 'SIGKILL')
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())])
  live.delete(entry)
  return result(false)
}

interface HandleParts {
  child: ChildProcess
  output: () => string
  root: string
  host: string
  url: string
  auth: RegistryAuthMode
  tls: boolean
  ca: string | undefined
  users: { pusher: RegistryUser; reader: RegistryUser }
  storageDir: string
  issuer: TokenIssuer | undefined
}

function makeHandle(parts: HandleParts): StartedRegistry {
  const { child, root, url, auth, ca, users, issuer } = parts
  let stopping: Promise<void> | undefined

  const authorization: StartedRegistry['authorization'] = (repository, options = {}) => {
    const user = users[options.role ?? 'pusher']
    if (auth === 'none') return undefined
    if (auth === 'basic') return basicAuthorization(user.username, user.password)
    const held = options.role === 'reader' ? ['pull'] : ['pull', 'push']
    const access: ResourceActions[] = [{ type: 'repository', name: repository, actions: [...(options.actions ?? held)] }]
    return `Bearer ${issuer!.mint(user.username, access)}`
  }

  const headersFor = (repository: string | undefined, extra: Record<string, string | number> | undefined, anonymous: boolean): Record<string, string | number> => {
    const headers: Record<string, string | number> = { ...extra }
    const value = anonymous ? undefined : authorization(repository ?? '', {})
    if (value !== undefined) headers.Authorization = value
    return headers
  }

  const request: StartedRegistry['request'] = (path, options = {}) => {
    const { anonymous = false, repository, ...rest } = options
    return rawRequest(new URL(path, url), { ...rest, ca, headers: headersFor(repository ?? repositoryOf(path), rest.headers, anonymous) })
  }

  const handle: StartedRegistry = {
    host: parts.host,
    url,
    auth,
    tls: parts.tls,
    ca,
    users,
    storageDir: parts.storageDir,
    tokenIssuer: issuer,
    service: issuer?.service,
    authorization,
    request,

    async getManifest(repository, reference) {
      const response = await request(`/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } })
      return {
        status: response.status,
        bytes: response.body,
        contentType: header(response.headers['content-type']),
        digest: header(response.headers['docker-content-digest']),
      }
    },

    async blobDigest(repository, digest) {
      const response = await streamRequest(new URL(`/v2/${repository}/blobs/${digest}`, url), {
        ca,
        headers: headersFor(repository, undefined, false),
        timeoutMs: 120_000,
      })
      if (response.statusCode === 404) {
        response.resume()
        return undefined
      }
      if (response.statusCode !== 200) {
        const body = await readAll(response)
        throw new Error(`GET blob ${digest}: ${response.statusCode} ${body.toString('utf8').slice(0, 500)}`)
      }
      const hash = createHash('sha256')
      for await (const chunk of response) hash.update(chunk as Buffer)
      return `sha256:${hash.digest('hex')}`
    },

    async hasBlob(repository, digest) {
      const response = await request(`/v2/${repository}/blobs/${digest}`, { method: 'HEAD' })
      if (response.status === 200) return true
      if (response.status === 404) return false
      throw new Error(`HEAD blob ${digest}: unexpected ${response.status}`)
    },

    async putBlob(repository, content) {
      const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`
      const started = await request(`/v2/${repository}/blobs/uploads/`, { method: 'POST' })
      const location = header(started.headers.location)
      if (started.status !== 202 || location === undefined) throw new Error(`POST upload: ${started.status} ${started.body.toString('utf8')}`)
      const target = new URL(location, url)
      target.searchParams.set('digest', digest)
      const done = await request(target.pathname + target.search, {
        method: 'PUT',
        repository,
        body: content,
        headers: { 'Content-Type': 'application/octet-stream' },
      })
      if (done.status !== 201) throw new Error(`PUT blob ${digest}: ${done.status} ${done.body.toString('utf8')}`)
      return digest
    },

    async putManifest(repository, reference, bytes, mediaType = DOCKER_MANIFEST_V2) {
      const response = await request(`/v2/${repository}/manifests/${reference}`, {
        method: 'PUT',
        body: bytes,
        headers: { 'Content-Type': mediaType },
      })
      if (response.status !== 201) throw new Error(`PUT manifest ${reference}: ${response.status} ${response.body.toString('utf8')}`)
      return header(response.headers['docker-content-digest']) ?? ''
    },

    openUploads: (repository) => openUploadSessions(parts.storageDir, repository),

    output: parts.output,

    stop() {
      stopping ??= (async () => {
        await terminate(child)
        for (const entry of live) if (entry.child === child) live.delete(entry)
        await issuer?.close()
        await rm(root, { recursive: true, force: true })
      })()
      return stopping
    },
  }
  return handle
}

async function openUploadSessions(storageDir: string, repository: string | undefined): Promise<string[]> {
  const repositories = join(storageDir, 'docker', 'registry', 'v2', 'repositories')
  const open: string[] = []
  // Repository path segments are plain names; `_uploads`, `_layers`, `_manifests` hold its data.
  const walk = async (path: string): Promise<void> => {
    for (const entry of await entriesOf(join(repositories, path))) {
      if (!entry.isDirectory()) continue
      if (entry.name === '_uploads') {
        for (const session of await entriesOf(join(repositories, path, '_uploads'))) {
          const files = await entriesOf(join(repositories, path, '_uploads', session.name))
          if (files.some((file) => file.name === 'startedat')) open.push(`${path}/_uploads/${session.name}`)
        }
      } else if (!entry.name.startsWith('_')) await walk(path === '' ? entry.name : `${path}/${entry.name}`)
    }
  }
  await walk(repository ?? '')
  return open.sort()
}

/** A directory's entries; none when it does not exist (yet, or any more: a session removed while we look is not open). */
async function entriesOf(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw error
  }
}

/** SIGTERM the process group, SIGKILL after 3 s, and wait for the watchdog to exit. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  killGroup(child, 'SIGTERM')
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3_000)
  await exited
  clearTimeout(timer)
  // The watchdog's `cat` helper is in the same group; make sure nothing of ours lingers.
  killGroup(child, 'SIGKILL')
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

/** A free TCP port on 127.0.0.1 (released again; the caller retries if someone takes it first). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** `ns/model` from `/v2/ns/model/blobs/…` or `/v2/ns/model/manifests/…`, for minting a fitting token. */
function repositoryOf(path: string): string | undefined {
  const match = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(path)
  return match?.[1]
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
