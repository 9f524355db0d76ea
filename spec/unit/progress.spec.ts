import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ByteCounter, blobProgress, blobStatus, ticker } from '../../lib/push/progress.js'

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`

describe('progress lines', () => {
  it('names a blob by the first 12 hex digits of its digest, as Ollama does', () => {
    assert.equal(blobStatus(digest), 'pushing 0123456789ab')
  })

  it('omits zero-valued fields like Go omitempty', () => {
    assert.deepEqual(blobProgress({ mediaType: 'x', digest, size: 10 }, 0), { status: 'pushing 0123456789ab', digest, total: 10 })
    assert.deepEqual(blobProgress({ mediaType: 'x', digest, size: 0 }, 0), { status: 'pushing 0123456789ab', digest })
    assert.deepEqual(blobProgress({ mediaType: 'x', digest, size: 10 }, 10), { status: 'pushing 0123456789ab', digest, total: 10, completed: 10 })
  })
})

describe('ByteCounter', () => {
  it('sums deltas, clamps to [0, total] and reports only changes', () => {
    const counter = new ByteCounter(100)
    assert.equal(counter.takeChange(), 0)
    assert.equal(counter.takeChange(), undefined)
    counter.add(40)
    counter.add(30)
    assert.equal(counter.takeChange(), 70)
    assert.equal(counter.takeChange(), undefined)
    counter.add(-500) // an upload restarted from zero
    assert.equal(counter.takeChange(), 0)
    counter.add(1000)
    assert.equal(counter.completed, 100)
  })
})

describe('ticker', () => {
  it('waits the interval while the upload runs, and returns at once after it settles', async () => {
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const tick = ticker(40, done)
    let started = performance.now()
    await tick()
    assert.ok(performance.now() - started >= 35, 'a tick lasts about the interval')
    started = performance.now()
    const pending = tick()
    setTimeout(finish, 5)
    await pending
    assert.ok(performance.now() - started < 35, 'settling ends the pending tick early')
    started = performance.now()
    await tick()
    assert.ok(performance.now() - started < 10, 'later ticks return at once')
  })

  it('ends early on a rejected upload too', async () => {
    const tick = ticker(10_000, Promise.reject(new Error('x')))
    const started = performance.now()
    await tick()
    assert.ok(performance.now() - started < 1000)
  })
})
