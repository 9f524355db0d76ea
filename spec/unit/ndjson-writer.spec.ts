// NdjsonWriter: backpressure (waits for drain, writes nothing meanwhile), a client that goes away
// (resolves false), a client that stops reading (destroyed after the stall timeout, on mock
// timers), and end(). The response is a small stand-in with ServerResponse's write/drain/close
// semantics, so a full socket buffer can be produced on demand.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { afterEach, describe, it, mock } from 'node:test'
import { NdjsonWriter } from '../../lib/http/ndjson.js'
import { settled } from '../support/settled.js'

class FakeResponse extends EventEmitter {
  written: string[] = []
  full = false
  destroyed = false
  writableEnded = false
  ends = 0
  write(chunk: string): boolean {
    this.written.push(chunk)
    return !this.full
  }
  end(): void {
    this.ends++
    this.writableEnded = true
  }
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

const writerFor = (res: FakeResponse, stallMs?: number) => new NdjsonWriter(res as unknown as ServerResponse, stallMs)

describe('NdjsonWriter', () => {
  afterEach(() => mock.timers.reset())

  it('writes one JSON line per object', async () => {
    const res = new FakeResponse()
    assert.equal(await writerFor(res).write({ status: 'a', total: 1 }), true)
    assert.deepEqual(res.written, ['{"status":"a","total":1}\n'])
  })

  it('waits for drain when the client is slow, then goes on', async () => {
    const res = new FakeResponse()
    const writer = writerFor(res)
    res.full = true
    const pending = writer.write({ n: 1 })
    assert.equal(await settled(pending), false, 'still waiting while the buffer is full')
    res.full = false
    res.emit('drain')
    assert.equal(await pending, true)
    assert.equal(res.listenerCount('drain') + res.listenerCount('close'), 0, 'no listeners left behind')
  })

  it('resolves false when the client goes away while it waits, and writes nothing after', async () => {
    const res = new FakeResponse()
    const writer = writerFor(res)
    res.full = true
    const pending = writer.write({ n: 1 })
    res.destroy()
    assert.equal(await pending, false)
    assert.equal(await writer.write({ n: 2 }), false)
    assert.equal(res.written.length, 1)
  })

  it('destroys the response of a client that stopped reading, after the stall timeout only', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    const res = new FakeResponse()
    const writer = writerFor(res, 5_000)
    res.full = true
    const pending = writer.write({ n: 1 })
    mock.timers.tick(4_999)
    assert.equal(await settled(pending), false)
    assert.equal(res.destroyed, false)
    mock.timers.tick(1)
    assert.equal(await pending, false)
    assert.equal(res.destroyed, true, 'destroyed: the close cancels the push behind it')
  })

  it('a drain in time clears the stall timer', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    const res = new FakeResponse()
    const writer = writerFor(res, 5_000)
    res.full = true
    const pending = writer.write({ n: 1 })
    mock.timers.tick(4_000)
    res.emit('drain')
    assert.equal(await pending, true)
    mock.timers.tick(10_000)
    assert.equal(res.destroyed, false)
  })

  it('end() ends once, and not after the client has gone', () => {
    const res = new FakeResponse()
    const writer = writerFor(res)
    writer.end()
    writer.end()
    assert.equal(res.ends, 1)
    const gone = new FakeResponse()
    gone.destroy()
    writerFor(gone).end()
    assert.equal(gone.ends, 0)
  })
})
