/**
 * What one uploader shares between the pushes it serves (process-wide, in memory):
 * - `SharedUploads`: the blob uploads in flight, keyed by registry, repository and digest (Ollama
 *   keys by digest alone, so a push to another registry can wrongly "join" an upload). A second
 *   push needing the same blob there follows the first one's progress instead of sending it again.
 * - `BlobSightings`: a bounded LRU of the repositories of each registry where a blob was seen
 *   (found, uploaded or mounted), so a later push to another repository can offer a mount.
 */
import { AbortError } from '../errors.js'

interface InFlight {
  sent: number
  readonly listeners: Set<(bytes: number) => void>
  readonly done: Promise<void>
}

export class SharedUploads {
  readonly #uploads = new Map<string, InFlight>()

  /**
   * Run `upload` for `key` unless another push already is: then follow that one's progress through
   * `onBytes` and resolve when it succeeds. When the one followed fails (or was cancelled with its
   * own push), the follower takes back the progress it relayed and uploads itself.
   */
  async run(
    key: string,
    onBytes: ((bytes: number) => void) | undefined,
    signal: AbortSignal | undefined,
    upload: (onBytes: (bytes: number) => void) => Promise<void>,
  ): Promise<void> {
    for (;;) {
      const current = this.#uploads.get(key)
      if (current === undefined) break
      if (await follow(current, onBytes, signal)) return
    }
    const listeners = new Set<(bytes: number) => void>()
    if (onBytes !== undefined) listeners.add(onBytes)
    const entry: InFlight = { sent: 0, listeners, done: Promise.resolve() }
    const relay = (bytes: number) => {
      entry.sent += bytes
      for (const listener of entry.listeners) listener(bytes)
    }
    const done = upload(relay).finally(() => {
      if (this.#uploads.get(key) === entry) this.#uploads.delete(key)
    })
    ;(entry as { done: Promise<void> }).done = done
    this.#uploads.set(key, entry)
    await done
  }
}

/** Follow `entry` until it settles; true when it succeeded. */
async function follow(entry: InFlight, onBytes: ((bytes: number) => void) | undefined, signal: AbortSignal | undefined): Promise<boolean> {
  let relayed = 0
  const listener = (bytes: number) => {
    relayed += bytes
    onBytes?.(bytes)
  }
  listener(entry.sent)
  entry.listeners.add(listener)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortError())
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
  aborted.catch(() => undefined)
  try {
    await Promise.race([entry.done, aborted])
    return true
  } catch {
    // Our own push was cancelled; a cancelled or failed leader only means: upload it ourselves.
    if (signal?.aborted === true) throw new AbortError()
    if (relayed !== 0) onBytes?.(-relayed)
    return false
  } finally {
    entry.listeners.delete(listener)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/** Bounded LRU: blob (per registry) → the repositories it was seen in, newest first. */
export class BlobSightings {
  readonly #seen = new Map<string, string[]>()
  readonly #limit: number

  constructor(limit = 4096) {
    this.#limit = limit
  }

  remember(registry: string, digest: string, repository: string): void {
    const key = `${registry.toLowerCase()}\n${digest}`
    const repositories = [repository, ...(this.#seen.get(key) ?? []).filter((r) => r !== repository)].slice(0, 4)
    this.#seen.delete(key)
    this.#seen.set(key, repositories)
    if (this.#seen.size > this.#limit) this.#seen.delete(this.#seen.keys().next().value!)
  }

  repositories(registry: string, digest: string): readonly string[] {
    return this.#seen.get(`${registry.toLowerCase()}\n${digest}`) ?? []
  }
}
