// A bounded poll for outcomes that land a little after the code under test has returned (a
// fire-and-forget DELETE reaching the registry, a file removed by a cleanup): ask again on a short,
// growing interval until the answer is accepted or the deadline passes. Never a fixed sleep: it
// returns as soon as the answer is right, and fails with the last answer when it never is.
import { setTimeout as delay } from 'node:timers/promises'

export interface EventuallyOptions {
  /** What is being waited for, for the failure message. */
  what: string
  /** Give up after this long. Default 15 000 ms (the machine is shared; a right answer returns at once). */
  timeoutMs?: number
}

/** Resolves with the first value of `probe` that `accept` takes; rejects at the deadline with the last value seen. */
export async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, options: EventuallyOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000)
  let wait = 5
  for (;;) {
    const value = await probe()
    if (accept(value)) return value
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${options.what}; last seen: ${JSON.stringify(value)}`)
    await delay(wait)
    wait = Math.min(wait * 2, 100)
  }
}
