// Pure pieces of the registry layer: Ollama's part cutting, the one retry path, shared uploads.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { AbortError, RegistryError } from '../../lib/errors.js'
import { blobParts, takeBytes } from '../../lib/registry/blob-parts.js'
import { registryErrorFromResponse } from '../../lib/registry/registry-error.js'
import { retry } from '../../lib/registry/retry.js'
import { BlobSightings, SharedUploads } from '../../lib/registry/shared-uploads.js'
import { flush, settled } from '../support/settled.js'

const sizes = (size: number, min?: number, max?: number) => blobParts(size, min, max).map((part) => part.end - part.start)

describe('blobParts (Ollama: size/16 clamped to [100 MB, 1 GB], the last part takes the remainder)', () => {
  it("cuts as Ollama's examples say", () => {
    assert.deepEqual(sizes(1_073_741_824), [...Array(10).fill(100_000_000), 73_741_824])
    assert.deepEqual(sizes(4_661_211_808), Array(16).fill(291_325_738))
    assert.deepEqual(sizes(4_661_211_809), [...Array(16).fill(291_325_738), 1])
    assert.deepEqual(sizes(42_949_672_960), [...Array(42).fill(1_000_000_000), 949_672_960])
    assert.equal(sizes(100_000_000_000).length, 100)
    assert.deepEqual(sizes(5), [5])
    assert.deepEqual(sizes(0), [])
  })
  it('parts are contiguous and honour custom bounds', () => {
    const parts = blobParts(24_000_017, 1_000_000, 10_000_000)
    assert.equal(parts.length, 17)
    assert.equal(parts[0]!.start, 0)
    for (let i = 1; i < parts.length; i++) assert.equal(parts[i]!.start, parts[i - 1]!.end)
    assert.equal(parts.at(-1)!.end, 24_000_017)
    assert.deepEqual(sizes(10_000, 1, 500), Array(20).fill(500))
    assert.deepEqual(sizes(10_000, 1, 1_000), Array(16).fill(625))
  })
  it('takeBytes cuts a longer stream at the part end and destroys the source', async () => {
    const source = Readable.from([Buffer.alloc(6, 1), Buffer.alloc(6, 2)], { objectMode: false })
    const chunks: Buffer[] = []
    for await (const chunk of takeBytes(source, 8)) chunks.push(chunk as Buffer)
    assert.deepEqual(Buffer.concat(chunks), Buffer.from([1, 1, 1, 1, 1, 1, 2, 2]))
    assert.ok(source.destroyed)
  })
})

describe('retry(attempt, policy)', () => {
  const flaky = (status: number, headers: Record<string, string> = {}) => registryErrorFromResponse({ status, headers }, { action: 'test' })

  it('retries retryable registry errors up to `retries`, then throws the last one', async () => {
    let runs = 0
    await assert.rejects(
      retry(async () => {
        runs++
        throw flaky(503)
      }, { retries: 2, baseDelayMs: 1 }),
      (error: unknown) => error instanceof RegistryError && error.registryStatus === 503,
    )
    assert.equal(runs, 3)
  })
  it('does not retry what is not retryable', async () => {
    let runs = 0
    await assert.rejects(retry(async () => {
      runs++
      throw flaky(404)
    }, { retries: 5, baseDelayMs: 1 }))
    assert.equal(runs, 1)
  })
  it("waits the error's Retry-After (a field of the error) before the next attempt, on the mocked clock", async (t) => {
    const error = flaky(429, { 'retry-after': '2' })
    assert.equal(error.retryAfterMs, 2000)
    t.mock.timers.enable({ apis: ['setTimeout'] })
    let runs = 0
    const pending = retry(async () => {
      if (runs++ === 0) throw flaky(429, { 'retry-after': '2' })
      return 'ok'
    }, { retries: 1, baseDelayMs: 1 })
    await flush()
    assert.equal(runs, 1)
    t.mock.timers.tick(1_999)
    await flush()
    assert.equal(runs, 1, 'not before the 2 s are up')
    assert.equal(await settled(pending), false)
    t.mock.timers.tick(1)
    assert.equal(await pending, 'ok')
    assert.equal(runs, 2)
  })
  it('a free restart does not count against the retries; classify decides', async () => {
    const outcomes: string[] = []
    let runs = 0
    await retry(async (attempt) => {
      runs++
      if (attempt === 0) throw new Error('token expired mid-stream')
      if (attempt === 1) throw flaky(500)
    }, {
      retries: 1,
      baseDelayMs: 1,
      classify: (error) => (error instanceof RegistryError ? 'restart' : { outcome: 'restart', free: true }),
      onRetry: ({ outcome }) => void outcomes.push(outcome),
    })
    assert.equal(runs, 3)
    assert.deepEqual(outcomes, ['restart', 'restart'])
  })
  it('an aborted signal wins', async () => {
    await assert.rejects(retry(async () => 'never', { retries: 1, baseDelayMs: 1, signal: AbortSignal.abort() }), { code: 'ABORTED' })
  })
  it('an abort during the backoff wait ends it at once: no further attempt', async () => {
    const controller = new AbortController()
    let runs = 0
    let waiting!: () => void
    const backingOff = new Promise<void>((resolve) => (waiting = resolve))
    // A 10 s backoff (Retry-After): the abort, not the timer, must end the wait.
    const pending = retry(async () => {
      runs++
      throw flaky(503, { 'retry-after': '10' })
    }, { retries: 3, baseDelayMs: 1, signal: controller.signal, onRetry: () => waiting() })
    await backingOff
    assert.equal(await settled(pending), false, 'waiting out the backoff')
    controller.abort()
    assert.equal(await settled(pending), true, 'the abort ended the wait without any time passing')
    await assert.rejects(pending, { code: 'ABORTED' })
    assert.equal(runs, 1)
  })
})

describe('SharedUploads and BlobSightings', () => {
  it('a second caller for the same key follows the first one’s progress instead of uploading', async () => {
    const shared = new SharedUploads()
    let uploads = 0
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const first: number[] = []
    const second: number[] = []
    const leader = shared.run('k', (n) => first.push(n), undefined, async (onBytes) => {
      uploads++
      onBytes(10)
      await gate
      onBytes(5)
    })
    const follower = shared.run('k', (n) => second.push(n), undefined, async () => void uploads++)
    release()
    await Promise.all([leader, follower])
    assert.equal(uploads, 1)
    assert.deepEqual(first, [10, 5])
    assert.equal(second.reduce((a, b) => a + b, 0), 15)
  })
  it('when the one followed fails, the follower takes its progress back and uploads itself; other keys never wait', async () => {
    const shared = new SharedUploads()
    const seen: number[] = []
    let fail!: () => void
    const failing = new Promise<void>((_, reject) => (fail = () => reject(new Error('cut'))))
    const leader = shared.run('k', undefined, undefined, async (onBytes) => {
      onBytes(7)
      await failing
    })
    let own = 0
    const follower = shared.run('k', (n) => seen.push(n), undefined, async (onBytes) => {
      own++
      onBytes(20)
    })
    await shared.run('other', undefined, undefined, async () => undefined)
    fail()
    await assert.rejects(leader)
    await follower
    assert.equal(own, 1)
    assert.deepEqual(seen, [7, -7, 20])
  })
  it("a leader cancelled with its own push does not cancel the follower, which uploads itself; the follower's own abort stops it", async () => {
    const shared = new SharedUploads()
    const leaderStop = new AbortController()
    const leader = shared.run('k', undefined, leaderStop.signal, async () => {
      await new Promise((_, reject) => leaderStop.signal.addEventListener('abort', () => reject(new AbortError())))
    })
    let own = 0
    const follower = shared.run('k', undefined, new AbortController().signal, async () => void own++)
    leaderStop.abort()
    await assert.rejects(leader, { code: 'ABORTED' })
    await follower
    assert.equal(own, 1)

    const gate = shared.run('g', undefined, undefined, () => new Promise<void>((resolve) => setImmediate(resolve)))
    await assert.rejects(shared.run('g', undefined, AbortSignal.abort(), async () => undefined), { code: 'ABORTED' })
    await gate
  })

  it('BlobSightings is per registry, newest first, bounded', () => {
    const sightings = new BlobSightings(2)
    sightings.remember('R:5000', 'sha256:a', 'x/one')
    sightings.remember('r:5000', 'sha256:a', 'x/two')
    assert.deepEqual(sightings.repositories('r:5000', 'sha256:a'), ['x/two', 'x/one'])
    assert.deepEqual(sightings.repositories('other', 'sha256:a'), [])
    sightings.remember('r:5000', 'sha256:b', 'x/one')
    sightings.remember('r:5000', 'sha256:c', 'x/one')
    assert.deepEqual(sightings.repositories('r:5000', 'sha256:a'), [], 'the oldest entry was evicted')
  })
})
