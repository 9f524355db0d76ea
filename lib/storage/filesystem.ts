import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { addAbortSignal, type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { InvalidNameError, StorageError } from '../errors.js'
import { asciiLower, formatModelName, partProblem } from '../model/name.js'
import type { ModelName, OperationOptions, StoredManifest } from '../model/types.js'
import type { OpenBlobOptions, StorageAdapter, WriteBlobOptions } from './adapter.js'
import { READ_HINT, markBounded, type HintedOptions } from './read-hint.js'
import { ReusedBufferFileStream } from './reused-buffer-stream.js'
import { BlobVerifier, checkBlobSize, throwIfAborted, writeFailure } from './blob-verifier.js'
import { checkSha256Digest } from '../model/digest.js'
import { MAX_MANIFEST_BYTES, parseStoredManifest } from './manifest.js'

/** Options of `FilesystemStorage`. */
export interface FilesystemStorageOptions {
  /**
   * The models directory (the one holding `manifests/` and `blobs/`). Relative paths are resolved
   * against the working directory at construction. Default: `$OLLAMA_MODELS` (trimmed of spaces and
   * quotes, as Ollama's `envconfig.Var` does) or `~/.ollama/models`, as in Ollama's
   * `envconfig.Models()`. A Linux Ollama installed as a service keeps its models in
   * `/usr/share/ollama/.ollama/models` (the `ollama` user's home): pass that, or set `OLLAMA_MODELS`.
   */
  root?: string | undefined
}

/** Read-stream chunk size: large chunks keep a multi-GiB upload near disk speed. */
const READ_CHUNK = 1024 * 1024
const NAME_PARTS = ['host', 'namespace', 'model', 'tag'] as const

const openFd = promisify(fs.open)
const fstat = promisify(fs.fstat)
const closeFd = promisify(fs.close)
const fsync = promisify(fs.fsync)
// Where O_NOFOLLOW exists (Linux, macOS) a blob is opened without following a final symlink, so the
// common case needs no realpath; a symlinked blob is then resolved and checked explicitly.
const O_NOFOLLOW: number | undefined = fs.constants.O_NOFOLLOW

/**
 * Ollama's own model store on disk: `manifests/<host>/<namespace>/<model>/<tag>` and
 * `blobs/sha256-<hex>` under the models directory (ollama `manifest/paths.go`, `manifest/manifest.go`).
 *
 * Paths: names and digests are re-validated (Ollama's character rules leave no `/`, `\`, NUL or
 * `..`), joined under the real path of `manifests/` or `blobs/`, and checked to stay there. Then:
 * - `manifests/`, `blobs/` and the root itself may be symlinks (models moved to another disk is
 *   common); their real paths are taken once, on first use, and trusted as configuration.
 * - Below them, every directory and file a name or digest leads to is resolved (`realpath`) and must
 *   stay inside the real `manifests/` (or `blobs/`): a symlink inside the tree is followed (e.g. a tag
 *   aliasing another tag), a symlink that leads out is refused with a `StorageError`. Writes check
 *   each directory level before creating the next, so nothing is created outside either.
 * - What this does not stop: someone who can write inside the models directory swapping a
 *   directory for a symlink between the check and the open. That person can already change the
 *   models themselves.
 *
 * Case: lookups try the exact spelling, then, level by level, an entry that equals it ignoring ASCII
 * case (exact spelling preferred, then the first in sort order). Writes reuse the spelling already
 * on disk at each level, so `Llama3` and `llama3` never become two directories. This is what Ollama
 * does through `getExistingName` in `server/routes.go`, minus its habit of borrowing casing from
 * unrelated models.
 *
 * Errors never carry the absolute path in their message (the `cause` may, for logs).
 */
export class FilesystemStorage implements StorageAdapter {
  /** The models directory, absolute. */
  readonly root: string
  #real: { manifests?: string; blobs?: string } = {}

  constructor(options: FilesystemStorageOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('FilesystemStorage: options must be an object')
    const unknown = Object.keys(options).filter((key) => key !== 'root')
    if (unknown.length > 0) throw new TypeError(`FilesystemStorage: unknown option ${unknown.map((k) => `"${k}"`).join(', ')} (known options: root)`)
    if (options.root !== undefined && (typeof options.root !== 'string' || options.root === '' || options.root.includes('\0'))) {
      throw new TypeError('FilesystemStorage: "root" must be a non-empty path')
    }
    this.root = path.resolve(options.root ?? defaultModelsDirectory())
  }

  async readManifest(name: ModelName, options: OperationOptions = {}): Promise<StoredManifest | undefined> {
    throwIfAborted(options.signal)
    const parts = checkName(name)
    const label = `manifest of ${formatModelName(name)}`
    return this.#guard(`read the ${label}`, async () => {
      const base = await this.#base('manifests', false)
      if (base === undefined) return undefined
      const found = await locate(base, parts)
      if (found === undefined) return undefined
      const real = await resolveInside(path.join(found.dir, found.entry), base, 'manifest')
      if (real === undefined) return undefined
      const handle = await fsp.open(real, fs.constants.O_RDONLY | (O_NOFOLLOW ?? 0))
      try {
        const stat = await handle.stat()
        if (!stat.isFile()) throw new StorageError(`the ${label} is not a regular file`)
        if (stat.size > MAX_MANIFEST_BYTES) throw new StorageError(`the ${label} is invalid: larger than ${MAX_MANIFEST_BYTES} bytes`, { code: 'BLOB_INVALID' })
        const bytes = await handle.readFile()
        throwIfAborted(options.signal)
        // Ollama's /api/tags shows the manifest file's mtime as modified_at.
        return Object.freeze({ ...parseStoredManifest(bytes, `the ${label}`), modifiedAt: stat.mtime })
      } finally {
        await handle.close()
      }
    })
  }

  async statBlob(digest: string, options: OperationOptions = {}): Promise<{ size: number } | undefined> {
    throwIfAborted(options.signal)
    const file = blobFileName(digest)
    return this.#guard(`check blob ${digest}`, async () => {
      const base = await this.#base('blobs', false)
      if (base === undefined) return undefined
      const real = await resolveInside(path.join(base, file), base, 'blob')
      if (real === undefined) return undefined
      const stat = await fsp.stat(real)
      if (!stat.isFile()) throw new StorageError(`blob ${digest} is not a regular file`)
      return { size: stat.size }
    })
  }

  async openBlob(digest: string, options: OpenBlobOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal)
    const file = blobFileName(digest)
    const start = checkBlobSize(options.start, 'openBlob start') ?? 0
    const missing = () => new StorageError(`blob ${digest} is not in local storage`)
    const fd = await this.#guard(`open blob ${digest}`, async () => {
      const base = await this.#base('blobs', false)
      if (base === undefined) throw missing()
      const fd = await openBlobFd(path.join(base, file), base)
      if (fd === undefined) throw missing()
      try {
        const stat = await fstat(fd)
        if (!stat.isFile()) throw new StorageError(`blob ${digest} is not a regular file`)
        if (start > stat.size) throw new StorageError(`openBlob start ${start} is past the end of blob ${digest} (${stat.size} bytes)`)
        throwIfAborted(options.signal)
        return fd
      } catch (error) {
        await closeFd(fd).catch(() => undefined)
        throw error
      }
    })
    // A numeric fd keeps Node on its fastest read path (fs.read into 1 MiB buffers); a consumer
    // that promises not to hold chunks gets the same reads into a few reused buffers.
    const hint = (options as HintedOptions)[READ_HINT]
    const end = hint?.end !== undefined && Number.isSafeInteger(hint.end) && hint.end >= start ? hint.end : undefined
    const stream = hint?.reuseBuffers === true
      ? new ReusedBufferFileStream(fd, { start, end, chunkSize: READ_CHUNK, ring: hint.ring })
      : end === start
        ? emptyFileStream(fd)
        : fs.createReadStream('', { fd, start, ...(end === undefined ? {} : { end: end - 1 }), highWaterMark: READ_CHUNK, autoClose: true })
    if (options.signal) addAbortSignal(options.signal, stream)
    return end === undefined ? stream : markBounded(stream)
  }

  async writeBlob(digest: string, content: Readable, options: WriteBlobOptions = {}): Promise<{ size: number }> {
    const { signal } = options
    const file = blobFileName(digest)
    const verifier = new BlobVerifier(digest, checkBlobSize(options.size, 'writeBlob size'))
    if (signal?.aborted) {
      content.destroy()
      throwIfAborted(signal)
    }
    let temp: string | undefined
    let fd: number | undefined
    try {
      const base = await this.#base('blobs', true)
      // Same directory as the blob, so the final rename is atomic. Ollama prunes names like this
      // (not a digest) from blobs/ on start, which also sweeps temp files of a crashed process.
      temp = path.join(base, `${file}-${randomUUID()}.partial`)
      fd = await openFd(temp, 'wx')
      const sink = fs.createWriteStream('', { fd, autoClose: false, highWaterMark: READ_CHUNK })
      const check = new Transform({
        transform(chunk: unknown, _encoding, callback) {
          try {
            callback(null, verifier.update(chunk))
          } catch (error) {
            callback(error as Error)
          }
        },
      })
      await pipeline(content, check, sink, signal ? { signal } : {})
      verifier.finish()
      await fsync(fd)
      await closeFd(fd)
      fd = undefined
      throwIfAborted(signal)
      await fsp.rename(temp, path.join(base, file))
      temp = undefined
      await syncDirectory(base)
      return { size: verifier.size }
    } catch (error) {
      content.destroy()
      throw writeFailure(error, signal, `write blob ${digest}`)
    } finally {
      if (fd !== undefined) await closeFd(fd).catch(() => undefined)
      if (temp) await fsp.unlink(temp).catch(() => undefined)
    }
  }

  async writeManifest(name: ModelName, bytes: Buffer, options: OperationOptions = {}): Promise<void> {
    throwIfAborted(options.signal)
    const parts = checkName(name)
    parseStoredManifest(bytes, `the manifest for ${formatModelName(name)}`)
    let temp: string | undefined
    try {
      const base = await this.#base('manifests', true)
      let dir = base
      for (const part of parts.slice(0, 3)) {
        const entry = (await findEntry(dir, part)) ?? part
        const next = path.join(dir, entry)
        await fsp.mkdir(next).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error
        })
        const real = await resolveInside(next, base, 'manifest directory')
        if (real === undefined) throw new StorageError('a manifest directory vanished while it was being created')
        dir = real
      }
      const tag = (await findEntry(dir, parts[3])) ?? parts[3]
      throwIfAborted(options.signal)
      temp = path.join(dir, `.${tag}.${randomUUID()}.tmp`)
      const handle = await fsp.open(temp, 'wx')
      try {
        await handle.writeFile(bytes)
        await handle.sync()
      } finally {
        await handle.close()
      }
      await fsp.rename(temp, path.join(dir, tag))
      temp = undefined
      await syncDirectory(dir)
    } catch (error) {
      throw writeFailure(error, options.signal, `write the manifest of ${formatModelName(name)}`)
    } finally {
      if (temp) await fsp.unlink(temp).catch(() => undefined)
    }
  }

  async deleteModel(name: ModelName, options: OperationOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    const parts = checkName(name)
    return this.#guard(`delete the manifest of ${formatModelName(name)}`, async () => {
      const base = await this.#base('manifests', false)
      if (base === undefined) return false
      const found = await locate(base, parts)
      if (found === undefined) return false
      // The entry itself is removed (a symlinked tag loses the link, not its target), but only when
      // what it leads to is inside the tree, like every other access.
      if ((await resolveInside(path.join(found.dir, found.entry), base, 'manifest')) === undefined) return false
      try {
        await fsp.unlink(path.join(found.dir, found.entry))
      } catch (error) {
        if (isAbsent(error)) return false
        throw error
      }
      // Prune now-empty model, namespace and host directories, as Ollama's PruneDirectory does.
      for (let dir = found.dir; dir !== base && dir.startsWith(base + path.sep); dir = path.dirname(dir)) {
        try {
          await fsp.rmdir(dir)
        } catch {
          break
        }
      }
      return true
    })
  }

  async deleteBlob(digest: string, options: OperationOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal)
    const file = blobFileName(digest)
    return this.#guard(`delete blob ${digest}`, async () => {
      const base = await this.#base('blobs', false)
      if (base === undefined) return false
      // unlink removes the entry itself: a symlinked blob loses the link, never what it points at.
      try {
        await fsp.unlink(path.join(base, file))
        return true
      } catch (error) {
        if (isAbsent(error)) return false
        throw error
      }
    })
  }

  async listModels(options: OperationOptions = {}): Promise<ModelName[]> {
    throwIfAborted(options.signal)
    return this.#guard('list models', async () => {
      const base = await this.#base('manifests', false)
      if (base === undefined) return []
      const names: ModelName[] = []
      const walk = async (dir: string, depth: number, found: string[]): Promise<void> => {
        throwIfAborted(options.signal)
        let entries: fs.Dirent[]
        try {
          entries = await fsp.readdir(dir, { withFileTypes: true })
        } catch (error) {
          if (isAbsent(error)) return
          throw error
        }
        for (const entry of entries) {
          // Names that break Ollama's rules (temp files, stray files, kind directories) are skipped, as Ollama does.
          if (partProblem(NAME_PARTS[depth]!, entry.name) !== undefined) continue
          let target = path.join(dir, entry.name)
          let isDirectory = entry.isDirectory()
          let isFile = entry.isFile()
          if (entry.isSymbolicLink()) {
            const real = await resolveInside(target, base, 'manifest').catch(() => undefined)
            if (real === undefined) continue
            const stat = await fsp.stat(real)
            target = real
            isDirectory = stat.isDirectory()
            isFile = stat.isFile()
          }
          const parts = [...found, entry.name]
          if (depth < 3 && isDirectory) await walk(target, depth + 1, parts)
          else if (depth === 3 && isFile) {
            const [host, namespace, model, tag] = parts as [string, string, string, string]
            names.push(Object.freeze({ host, namespace, model, tag }))
          }
        }
      }
      await walk(base, 0, [])
      return names.sort((a, b) => compare(formatModelName(a), formatModelName(b)))
    })
  }

  /** Real path of `manifests/` or `blobs/`, cached once found; created first when `create`. */
  async #base(which: 'manifests' | 'blobs', create: true): Promise<string>
  async #base(which: 'manifests' | 'blobs', create: false): Promise<string | undefined>
  async #base(which: 'manifests' | 'blobs', create: boolean): Promise<string | undefined> {
    const cached = this.#real[which]
    if (cached !== undefined) return cached
    const dir = path.join(this.root, which)
    if (create) await fsp.mkdir(dir, { recursive: true })
    try {
      const real = await fsp.realpath(dir)
      if (!(await fsp.stat(real)).isDirectory()) throw new StorageError(`the models directory's ${which} entry is not a directory`)
      this.#real[which] = real
      return real
    } catch (error) {
      if (isAbsent(error) && !create) return undefined
      throw error
    }
  }

  /** Run `operation`, turning file-system errors into `StorageError`s that name only the errno code. */
  async #guard<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      throw writeFailure(error, undefined, what)
    }
  }
}

/** `$OLLAMA_MODELS` (trimmed as Ollama's `envconfig.Var` trims) or `~/.ollama/models`. */
export function defaultModelsDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const configured = (env.OLLAMA_MODELS ?? '').trim().replace(/^["']+|["']+$/g, '')
  return configured !== '' ? configured : path.join(os.homedir(), '.ollama', 'models')
}

/** The four path parts of a name, each re-checked against Ollama's rules. */
function checkName(name: ModelName): readonly [string, string, string, string] {
  if (name === null || typeof name !== 'object') throw new InvalidNameError('name', 'model name must be a ModelName object')
  for (const part of NAME_PARTS) {
    const problem = partProblem(part, name[part])
    if (problem !== undefined) throw new InvalidNameError(part, problem)
  }
  return [name.host, name.namespace, name.model, name.tag]
}

/** An empty stream that still closes `fd` (fs streams read to EOF when `end` < `start`). */
function emptyFileStream(fd: number): Readable {
  return new ReusedBufferFileStream(fd, { start: 0, end: 0, chunkSize: 1 })
}

/** `sha256-<hex>` for a valid digest; anything else is refused before it can become a path. */
function blobFileName(digest: string): string {
  checkSha256Digest(digest)
  return `sha256-${digest.slice('sha256:'.length)}`
}

/**
 * Walk `manifests/<host>/<namespace>/<model>` level by level (exact spelling, else a case-folded
 * match), checking each directory's real path; returns the real model directory and the tag entry.
 */
async function locate(base: string, parts: readonly string[]): Promise<{ dir: string; entry: string } | undefined> {
  let dir = base
  for (let i = 0; i < parts.length; i++) {
    const entry = await findEntry(dir, parts[i]!)
    if (entry === undefined) return undefined
    if (i === parts.length - 1) return { dir, entry }
    const real = await resolveInside(path.join(dir, entry), base, 'manifest directory')
    if (real === undefined) return undefined
    dir = real
  }
  return undefined
}

/** The entry of `dir` named `name`: that exact spelling when present, else one equal ignoring ASCII case. */
async function findEntry(dir: string, name: string): Promise<string | undefined> {
  try {
    await fsp.lstat(path.join(dir, name))
    return name
  } catch (error) {
    if (!isAbsent(error)) throw error
  }
  let entries: string[]
  try {
    entries = await fsp.readdir(dir)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw error
  }
  const folded = asciiLower(name)
  return entries.filter((entry) => asciiLower(entry) === folded).sort(compare)[0]
}

/**
 * The real path of `target`, proven to be `base` or below it; `undefined` when it does not exist.
 * A path that leads out of `base` (through a symlink) is refused.
 */
async function resolveInside(target: string, base: string, what: string): Promise<string | undefined> {
  let real: string
  try {
    real = await fsp.realpath(target)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw error
  }
  if (real !== base && !real.startsWith(base + path.sep)) {
    throw new StorageError(`a ${what} path leads outside the models directory (symlink); refusing to follow it`)
  }
  return real
}

/** Open a blob file for reading without letting a symlink lead out of `base`. */
async function openBlobFd(file: string, base: string): Promise<number | undefined> {
  if (O_NOFOLLOW !== undefined) {
    try {
      return await openFd(file, fs.constants.O_RDONLY | O_NOFOLLOW)
    } catch (error) {
      if (isAbsent(error)) return undefined
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ELOOP' && code !== 'EMLINK') throw error
      // The blob is a symlink: follow it only if it stays inside blobs/.
    }
  }
  const real = await resolveInside(file, base, 'blob')
  if (real === undefined) return undefined
  try {
    return await openFd(real, fs.constants.O_RDONLY)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw error
  }
}

/** Make a rename durable (best effort: not every platform can fsync a directory). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined
  try {
    handle = await fsp.open(dir, 'r')
    await handle.sync()
  } catch {
    // Windows and some file systems refuse; the data itself was already synced.
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

function isAbsent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
