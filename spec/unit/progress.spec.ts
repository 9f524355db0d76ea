import assert from 'node:assert/strict'
import { afterEach, describe, it, mock } from 'node:test'
import { ByteCounter, blobProgress, blobStatus, ticker } from '../../lib/push/progress.js'
import { settled } from '../support/settled.js'

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

describe('ticker (on mock timers: the interval is exact, no wall clock involved)', () => {
  afterEach(() => mock.timers.reset())

  it('waits the interval while the upload runs, and returns at once after it settles', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const tick = ticker(40, done)
    const first = tick()
    mock.timers.tick(39)
    assert.equal(await settled(first), false, 'a tick lasts the interval')
    mock.timers.tick(1)
    assert.equal(await settled(first), true, 'and no longer')
    const pending = tick()
    mock.timers.tick(5)
    assert.equal(await settled(pending), false)
    finish()
    assert.equal(await settled(pending), true, 'settling ends the pending tick early')
    assert.equal(await settled(tick()), true, 'later ticks return at once')
  })

  it('ends early on a rejected upload too', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    const tick = ticker(10_000, Promise.reject(new Error('x')))
    assert.equal(await settled(tick()), true, 'without any time passing')
  })
})
