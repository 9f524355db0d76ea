/** Backoff between retries of a registry step. */
import { setTimeout as delay } from 'node:timers/promises'
import { AbortError } from '../errors.js'

const MAX_DELAY_MS = 10_000
const MAX_RETRY_AFTER_MS = 30_000

/** `Retry-After` (seconds or an HTTP date) in ms, bounded; undefined when absent or unusable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const seconds = Number(value.trim())
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now
  if (!Number.isFinite(ms) || ms < 0) return undefined
  return Math.min(ms, MAX_RETRY_AFTER_MS)
}

/** Exponential backoff with jitter: base·2^attempt, between 50 % and 100 % of it, at most 10 s; `retryAfterMs` wins when larger. */
export function backoffMs(attempt: number, baseMs: number, retryAfterMs?: number): number {
  const exponential = Math.min(MAX_DELAY_MS, baseMs * 2 ** attempt)
  const jittered = exponential / 2 + Math.random() * (exponential / 2)
  return Math.round(Math.max(jittered, retryAfterMs ?? 0))
}

/** Wait `ms`, or reject with an `AbortError` as soon as `signal` fires. */
export async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) {
    if (signal?.aborted === true) throw new AbortError()
    return
  }
  try {
    await delay(ms, undefined, signal === undefined ? undefined : { signal })
  } catch {
    throw new AbortError()
  }
}

/** Whether `signal` has fired. (A function, so TypeScript does not narrow `aborted` across awaits.) */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}
