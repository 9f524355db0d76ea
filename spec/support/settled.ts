// For tests on mock timers (`mock.timers.enable({ apis: ['setTimeout'] })`): whether a promise has
// settled once everything already queued has run. setImmediate is left real for this: a few turns
// of the event loop let promise chains and stream callbacks finish, while mocked time stands still.
import { setImmediate as nextTurn } from 'node:timers/promises'

/** Let queued work run: a few real event-loop turns (no time passes on the mocked clock). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn()
}

/** True when `promise` has settled (either way) after a flush. */
export async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  await flush()
  return done
}

/**
 * Drive work that waits on mocked timers: advance the clock `stepMs` at a time, letting queued work
 * run between steps, until `work` settles (or `limitMs` of mocked time have passed: then it throws,
 * since the work is stuck on something other than a timer).
 */
export async function advanceUntilSettled<T>(tick: (ms: number) => void, work: Promise<T>, stepMs = 1, limitMs = 600_000): Promise<T> {
  let done = false
  work.then(
    () => (done = true),
    () => (done = true),
  )
  for (let elapsed = 0; !done; elapsed += stepMs) {
    if (elapsed > limitMs) throw new Error(`still running after ${limitMs} ms of mocked time`)
    await flush(10)
    if (!done) tick(stepMs)
  }
  return work
}
