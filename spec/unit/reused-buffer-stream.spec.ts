import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { after, before, describe, it } from 'node:test'
import { ReusedBufferFileStream } from '../../lib/storage/reused-buffer-stream.js'

const CHUNK = 64 * 1024

describe('ReusedBufferFileStream', () => {
  let dir: string
  let file: string
  let content: Buffer
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emp-ring-'))
    file = join(dir, 'blob')
    content = randomBytes(CHUNK * 11 + 123) // several laps of the ring, and a short last read
    await writeFile(file, content)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  /** A consumer that keeps its promise: it hashes each chunk before asking for the next. */
  const hashOf = async (stream: ReusedBufferFileStream) => {
    const hash = createHash('sha256')
    let chunks = 0
    await pipeline(stream, new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        chunks++
        hash.update(chunk)
        setImmediate(callback) // asynchronous, like a socket
      },
    }))
    return { digest: hash.digest('hex'), chunks }
  }
  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

  for (const start of [0, 1, CHUNK, CHUNK * 11 + 122, CHUNK * 11 + 123]) {
    it(`streams the file exactly from byte ${start}`, async () => {
      const fd = fs.openSync(file, 'r')
      const { digest, chunks } = await hashOf(new ReusedBufferFileStream(fd, { start, chunkSize: CHUNK }))
      assert.equal(digest, sha(content.subarray(start)))
      assert.ok(chunks <= Math.ceil((content.length - start) / CHUNK))
    })
  }

  it('closes its file descriptor when destroyed mid-read, after the read in flight', async () => {
    const fd = fs.openSync(file, 'r')
    const stream = new ReusedBufferFileStream(fd, { start: 0, chunkSize: CHUNK })
    stream.once('data', () => stream.destroy())
    await new Promise((resolve) => stream.on('close', resolve))
    assert.throws(() => fs.fstatSync(fd), /EBADF/)
  })
})
