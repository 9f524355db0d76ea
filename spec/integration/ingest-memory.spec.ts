// Ingest streams: a few hundred MB uploaded raw and as multipart to a model router in a process of
// its own must not grow that process's peak RSS by anything near the upload's size.
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { generatedBlob, generatedDigest } from '../support/generated-blob.js'
import { startModelServer, type ModelServerProcess } from '../support/model-server.js'

const MiB = 1024 * 1024
const SIZE = 320 * MiB

/** POST a stream with a known length; resolves the status. */
function upload(url: string, body: Readable, length: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'Content-Length': length } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    request.on('error', reject)
    body.on('error', (error) => request.destroy(error))
    body.pipe(request)
  })
}

describe('ingest memory', () => {
  let root: string
  let server: ModelServerProcess
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'emp-ingest-memory-'))
    server = await startModelServer(path.resolve('lib/index.ts'), root)
  })
  after(async () => {
    await server?.stop()
    await fs.rm(root, { recursive: true, force: true })
  })

  it(`a ${SIZE / MiB} MiB raw and a ${SIZE / MiB} MiB multipart upload leave the server's peak RSS far below their size`, async () => {
    // Warm up both paths (module loading, first buffers) before taking the baseline.
    assert.equal(await upload(`${server.url}/api/blobs/${generatedDigest(MiB, 1)}`, generatedBlob(MiB, 1), MiB), 201)
    const baseline = await server.memory()

    const rawDigest = generatedDigest(SIZE, 2)
    assert.equal(await upload(`${server.url}/api/blobs/${rawDigest}`, generatedBlob(SIZE, 2), SIZE), 201)

    const boundary = 'emp-memory-boundary'
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.gguf"\r\nContent-Type: application/octet-stream\r\n\r\n`)
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
    async function* form() {
      yield head
      for await (const chunk of generatedBlob(SIZE, 3)) yield chunk as Buffer
      yield tail
    }
    const { Readable } = await import('node:stream')
    const multipartDigest = generatedDigest(SIZE, 3)
    const status = await upload(`${server.url}/api/blobs/${multipartDigest}`, Readable.from(form()), head.length + SIZE + tail.length, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
    })
    assert.equal(status, 201)

    const peak = await server.memory()
    const grownMiB = (peak.hwmKiB - baseline.hwmKiB) / 1024
    assert.ok(grownMiB < 96, `peak RSS grew by ${grownMiB.toFixed(1)} MiB while ingesting 2 x ${SIZE / MiB} MiB`)
    for (const digest of [rawDigest, multipartDigest]) {
      assert.equal((await fs.stat(path.join(root, 'blobs', digest.replace(':', '-')))).size, SIZE)
    }
  })
})
