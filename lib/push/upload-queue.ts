import type { Descriptor } from '../model/types.js'
import { ByteCounter } from './progress.js'

/** One blob's upload as the progress reader sees it. */
export interface QueuedUpload {
  readonly counter: ByteCounter
  /** Settles (never rejects) when the upload ends either way. */
  readonly done: Promise<void>
  readonly settled: boolean
}

/**
 * Runs blob uploads a few at a time, started in push order, while the progress reader follows them
 * in the same order. Small layers then upload while the big one streams (the registry is the
 * bottleneck on the big one), yet the progress lines keep Ollama's order. The first failure stops
 * the rest (`onFailure`) and is kept, so the push reports it rather than the aborts it caused.
 */
export class UploadQueue {
  readonly #limit: number
  readonly #run: (blob: Descriptor, counter: ByteCounter) => Promise<void>
  readonly #onFailure: () => void
  readonly #waiting: Descriptor[] = []
  readonly #jobs = new Map<string, QueuedUpload>()
  #running = 0
  #failure: { error: unknown } | undefined
  #signalFailure: () => void = () => undefined
  /** Resolves when the first upload fails. */
  readonly failed: Promise<void>

  constructor(limit: number, run: (blob: Descriptor, counter: ByteCounter) => Promise<void>, onFailure: () => void) {
    this.#limit = Math.max(1, limit)
    this.#run = run
    this.#onFailure = onFailure
    this.failed = new Promise((resolve) => (this.#signalFailure = resolve))
  }

  /** The first failure, once there is one. */
  get failure(): { error: unknown } | undefined {
    return this.#failure
  }

  add(blobs: readonly Descriptor[]): void {
    this.#waiting.push(...blobs)
    this.#pump()
  }

  /**
   * The upload of `digest`. Reading in push order guarantees it has started: every earlier blob
   * has settled, so a slot was free when its turn came.
   */
  get(digest: string): QueuedUpload {
    const job = this.#jobs.get(digest)
    if (job === undefined) throw new Error(`upload of ${digest} was not started`)
    return job
  }

  #pump(): void {
    while (this.#running < this.#limit && this.#waiting.length > 0 && this.#failure === undefined) {
      const blob = this.#waiting.shift()!
      const counter = new ByteCounter(blob.size)
      const job = { counter, settled: false, done: Promise.resolve() }
      this.#running++
      job.done = this.#run(blob, counter)
        .catch((error: unknown) => {
          if (this.#failure !== undefined) return
          this.#failure = { error }
          this.#onFailure()
          this.#signalFailure()
        })
        .finally(() => {
          job.settled = true
          this.#running--
          this.#pump()
        })
      this.#jobs.set(blob.digest, job)
    }
  }
}
