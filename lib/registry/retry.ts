/**
 * The one retry path of the registry client: every registry step is an attempt passed to
 * `retry(attempt, policy)`. The policy's predicate decides what a failure means — give up, try the
 * same step again, or (for a blob) restart it from a new session, which is the same loop with the
 * attempt starting over — and the backoff honours the error's own `Retry-After`.
 */
import { AbortError, RegistryError } from '../errors.js'

const MAX_DELAY_MS = 10_000
const MAX_RETRY_AFTER_MS = 30_000

/** What to do with a failure: throw it, or run the attempt again (`retry`; `restart` says the attempt starts over from scratch). */
export type RetryOutcome = 'fail' | 'retry' | 'restart'

export interface RetryPolicy {
  /** How many times an attempt may run again after the first. */
  readonly retries: number
  /** First delay, doubled per retry (jittered, at most 10 s); a larger `Retry-After` wins. */
  readonly baseDelayMs: number
  readonly signal?: AbortSignal | undefined
  /**
   * The predicate: what `error` (thrown by attempt number `attempt`, from 0) means. Default: a
   * retryable `RegistryError` is retried, anything else fails. A `restart` does not count against
   * `retries` when `free` is set (e.g. one restart after a token expired mid-stream).
   */
  readonly classify?: (error: unknown, attempt: number) => RetryOutcome | { outcome: RetryOutcome; free?: boolean }
  /** Told before each wait (for a log line). */
  readonly onRetry?: (info: { attempt: number; outcome: RetryOutcome; error: unknown; delayMs: number }) => void
}

/** Whether a registry failure is worth another try. */
export function isRetryable(error: unknown): boolean {
  return error instanceof RegistryError && error.retryable
}

/** Run `attempt` until it succeeds or the policy gives up; aborts win over everything. */
export async function retry<T>(attempt: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const { signal } = policy
  let counted = 0
  for (let run = 0; ; run++) {
    throwIfAborted(signal)
    try {
      return await attempt(run)
    } catch (error) {
      throwIfAborted(signal)
      const verdict = policy.classify?.(error, run) ?? (isRetryable(error) ? 'retry' : 'fail')
      const { outcome, free } = typeof verdict === 'string' ? { outcome: verdict, free: false } : verdict
      if (outcome === 'fail' || (free !== true && counted >= policy.retries)) throw error
      const delayMs = free === true ? 0 : backoffMs(counted, policy.baseDelayMs, error instanceof RegistryError ? error.retryAfterMs : undefined)
      if (free !== true) counted++
      policy.onRetry?.({ attempt: run + 1, outcome, error, delayMs })
      await sleep(delayMs, signal)
    }
  }
}

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

/**
 * Wait `ms`, or reject with an `AbortError` as soon as `signal` fires. Built on the global
 * `setTimeout` (not `timers/promises`), so tests can drive backoffs with `node:test` mock timers.
 */
export async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal)
  if (ms <= 0) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(new AbortError())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Reject with the package's `AbortError` (not the signal's reason) when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError()
}

/** Whether `signal` has fired. (A function, so TypeScript does not narrow `aborted` across awaits.) */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}
