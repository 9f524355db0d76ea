import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ByteCounter, blobProgress, blobStatus } from '../../lib/push/progress.js'

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
