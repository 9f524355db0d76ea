import type { Descriptor, PushProgress } from '../model/types.js'

/** Ollama's status line for a blob: `pushing ` + the first 12 hex digits of its digest. */
export function blobStatus(digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1)
  return `pushing ${hex.slice(0, 12)}`
}

/** A progress line for `descriptor`, with Ollama's omission of zero-valued fields. */
export function blobProgress(descriptor: Descriptor, completed: number): PushProgress {
  const line: PushProgress = { status: blobStatus(descriptor.digest), digest: descriptor.digest }
  if (descriptor.size > 0) line.total = descriptor.size
  if (completed > 0) line.completed = completed
  return line
}

/**
 * Counts bytes reported by an upload and tells the reader when a sample is due.
 *
 * The uploader reports deltas (negative when a restarted upload rewinds); the byte count is kept
 * within [0, total]. Reading never blocks the upload: the upload runs on, and whoever consumes the
 * progress gets one line per interval at most, carrying the latest count.
 */
export class ByteCounter {
  #completed = 0
  #lastReported = -1
  constructor(readonly total: number) {}

  add = (delta: number): void => {
    const next = this.#completed + delta
    this.#completed = next < 0 ? 0 : next > this.total ? this.total : next
  }

  get completed(): number {
    return this.#completed
  }

  /** The count when it changed since the last call, otherwise `undefined`. */
  takeChange(): number | undefined {
    if (this.#completed === this.#lastReported) return undefined
    this.#lastReported = this.#completed
    return this.#completed
  }
}

/**
 * Sampling waits: each call resolves after `ms`, or at once when `done` settles. One reaction is
 * attached to `done` for all calls, so an upload followed for hours does not pile up a reaction
 * per sample on its promise.
 */
export function ticker(ms: number, done: Promise<unknown>): () => Promise<void> {
  let over = false
  let wake: (() => void) | undefined
  const end = () => {
    over = true
    wake?.()
  }
  done.then(end, end)
  return () =>
    over
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            wake = undefined
            resolve()
          }, ms)
          wake = () => {
            clearTimeout(timer)
            wake = undefined
            resolve()
          }
        })
}
