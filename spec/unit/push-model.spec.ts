// pushModel's sequencing, sampling and cancellation, shown with a scripted uploader: the real
// registry cannot be made to pause mid-blob on cue. Registry behaviour itself is covered by the
// integration suites.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { AbortError, ModelNotFoundError, RegistryError, StorageError } from '../../lib/errors.js'
import type { Descriptor, PushProgress } from '../../lib/model/types.js'
import { pushModel } from '../../lib/push/push-model.js'
import type { BlobOpener, ManifestPayload, RegistryPush, RegistryTarget, RegistryUploader, UploadBlobOptions } from '../../lib/registry/uploader.js'
import { MemoryStorage } from '../../lib/storage/memory.js'
import { advanceUntilSettled } from '../support/settled.js'

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

function model(storage: MemoryStorage, name = 'registry.test/team/llama:q4') {
  const weights = Buffer.alloc(3 * 1024 * 1024, 7)
  const template = Buffer.from('{{ .Prompt }}')
  const config = Buffer.from('{"model_format":"gguf"}')
  const bytes = storage.addModel(name, {
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', data: config },
    layers: [
      { mediaType: 'application/vnd.ollama.image.model', data: weights },
      { mediaType: 'application/vnd.ollama.image.template', data: template },
    ],
  })
  return { bytes, digests: [sha(weights), sha(template), sha(config)] }
}

/** Bytes an upload of ScriptedUploader reports per step. */
const STEP_BYTES = 64 * 1024

/** Records calls; uploads drain the stream in small steps so progress can be sampled. */
class ScriptedUploader implements RegistryUploader, RegistryPush {
  calls: string[] = []
  target: RegistryTarget | undefined
  present = new Set<string>()
  manifests = new Map<string, ManifestPayload>()
  uploadedDigests: string[] = []
  started: string[] = []
  running = 0
  mostRunning = 0
  /** Digest prefix (6 hex) whose upload fails after its first chunk. */
  failOn: string | undefined
  prepareError: Error | undefined
  uploadError: Error | undefined
  stepDelayMs = 0
  /** Time between the last byte and the commit, like a registry hashing on PUT ?digest=. */
  commitDelayMs = 0
  released = 0
  /** Digests whose upload saw its signal aborted (the cancel itself, not just "not finished"). */
  abortedUploads: string[] = []
  #idle: Array<() => void> = []

  /** Resolves once no upload is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  async open(target: RegistryTarget) {
    this.calls.push(`prepare ${target.host}/${target.repository}`)
    if (this.prepareError) throw this.prepareError
    this.target = target
    return this
  }
  async hasBlob(d: Descriptor) {
    this.calls.push(`has ${d.digest.slice(7, 13)}`)
    return this.present.has(d.digest)
  }
  async uploadBlob(d: Descriptor, open: BlobOpener, options: UploadBlobOptions = {}) {
    this.calls.push(`upload ${d.digest.slice(7, 13)}`)
    if (this.uploadError) throw this.uploadError
    this.started.push(d.digest)
    this.mostRunning = Math.max(this.mostRunning, ++this.running)
    try {
      await this.#stream(d, open, options)
    } catch (error) {
      if (options.signal?.aborted) this.abortedUploads.push(d.digest)
      throw error
    } finally {
      if (--this.running === 0) for (const resolve of this.#idle.splice(0)) resolve()
    }
  }
  async #stream(d: Descriptor, open: BlobOpener, options: UploadBlobOptions) {
    const hash = createHash('sha256')
    for await (const read of await open(0)) {
      // Steps of 64 KiB whatever the stream delivers (a read may return several chunks at once).
      for (let at = 0; at < (read as Buffer).length; at += STEP_BYTES) {
        const chunk = (read as Buffer).subarray(at, at + STEP_BYTES)
        options.signal?.throwIfAborted()
        if (this.failOn === d.digest.slice(7, 13)) throw new RegistryError('REGISTRY_FAILED', `registry refused ${this.failOn}`)
        hash.update(chunk)
        options.onBytes?.(chunk.length)
        if (this.stepDelayMs) await new Promise((r) => setTimeout(r, this.stepDelayMs))
      }
    }
    if (this.commitDelayMs) await new Promise((r) => setTimeout(r, this.commitDelayMs))
    options.signal?.throwIfAborted()
    assert.equal(`sha256:${hash.digest('hex')}`, d.digest)
    this.uploadedDigests.push(d.digest)
    this.present.add(d.digest)
  }
  async putManifest(tag: string, manifest: ManifestPayload) {
    const repository = this.target?.repository ?? 'no session'
    this.calls.push(`manifest ${repository}:${tag}`)
    this.manifests.set(`${repository}:${tag}`, manifest)
  }
  async close() {
    this.released++
  }
}

async function collect(events: AsyncIterable<PushProgress>) {
  const out: PushProgress[] = []
  for await (const event of events) out.push(event)
  return out
}

describe('pushModel', () => {
  it('pushes layers in manifest order, then the config, then the stored manifest bytes', async () => {
    const storage = new MemoryStorage()
    const { bytes, digests } = model(storage)
    const uploader = new ScriptedUploader()
    const events = await collect(pushModel('registry.test/team/llama:q4', { storage, uploader }))

    assert.deepEqual([...uploader.uploadedDigests].sort(), [...digests].sort())
    assert.deepEqual(uploader.started, digests, 'uploads start in push order')
    assert.deepEqual(uploader.manifests.get('team/llama:q4')?.bytes, bytes)
    assert.equal(uploader.calls[0], 'prepare registry.test/team/llama')
    assert.equal(uploader.released, 1)
    assert.deepEqual(events[0], { status: 'retrieving manifest' })
    assert.deepEqual(events.at(-2), { status: 'pushing manifest' })
    assert.deepEqual(events.at(-1), { status: 'success' })
    const statuses = [...new Set(events.slice(1, -2).map((e) => e.status))]
    assert.deepEqual(statuses, digests.map((d) => `pushing ${d.slice(7, 19)}`))
    for (const digest of digests) {
      const last = events.filter((e) => e.digest === digest).at(-1)
      assert.equal(last?.completed, last?.total, 'every blob ends with completed = total')
    }
    for (let i = 1; i < events.length; i++) {
      assert.notDeepEqual(events[i], events[i - 1], `line ${i} repeats the line before it`)
    }
  })

  it('uploads uploadConcurrency blobs at once, in push order, with progress still in manifest order', async () => {
    for (const concurrency of [1, 2, 3]) {
      const storage = new MemoryStorage()
      const { digests } = model(storage)
      const uploader = new ScriptedUploader()
      uploader.stepDelayMs = 2
      const events = await collect(pushModel('registry.test/team/llama:q4', { storage, uploader }, { uploadConcurrency: concurrency, progressIntervalMs: 10 }))
      assert.equal(uploader.mostRunning, concurrency, `at most ${concurrency} at once`)
      assert.deepEqual(uploader.started, digests)
      const order = events.filter((e) => e.digest).map((e) => e.digest)
      assert.deepEqual(order, [...order].sort((a, b) => digests.indexOf(a!) - digests.indexOf(b!)), 'groups never interleave')
      assert.deepEqual(events.at(-1), { status: 'success' })
    }
  })

  it('reports the first failing upload, stops the others and puts no manifest', async () => {
    const storage = new MemoryStorage()
    const { digests } = model(storage)
    const uploader = new ScriptedUploader()
    uploader.stepDelayMs = 5
    uploader.failOn = digests[1]!.slice(7, 13) // the template, uploading beside the big layer
    await assert.rejects(collect(pushModel('registry.test/team/llama:q4', { storage, uploader })), (error: unknown) => {
      assert.ok(error instanceof RegistryError, `got ${String(error)}`)
      assert.match(error.message, /refused/)
      return true
    })
    assert.equal(uploader.manifests.size, 0)
    assert.ok(!uploader.present.has(digests[0]!), 'the big layer was stopped, not committed')
    assert.equal(uploader.released, 1)
  })

  it('gives one completed line for a blob the registry already has and does not upload it', async () => {
    const storage = new MemoryStorage()
    const { digests } = model(storage)
    const uploader = new ScriptedUploader()
    uploader.present.add(digests[0]!)
    const events = await collect(pushModel('registry.test/team/llama:q4', { storage, uploader }))
    const lines = events.filter((e) => e.digest === digests[0])
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.completed, lines[0]!.total)
    assert.deepEqual(uploader.uploadedDigests, digests.slice(1))
  })

  it('samples byte progress instead of writing a line per chunk (on mock timers: the count is exact)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const storage = new MemoryStorage()
    const { digests } = model(storage)
    const uploader = new ScriptedUploader()
    uploader.stepDelayMs = 5 // 3 MiB in 64 KiB chunks: 48 chunks over 240 ms
    uploader.commitDelayMs = 150 // samples see completed = total before the upload settles
    const events = await advanceUntilSettled((ms) => t.mock.timers.tick(ms), collect(pushModel('registry.test/team/llama:q4', { storage, uploader }, { progressIntervalMs: 40 })))
    const lines = events.filter((e) => e.digest === digests[0])
    const completed = lines.map((e) => e.completed ?? 0)
    // The opening line, then one sample per 40 ms while the 240 ms of bytes flow (8 steps each);
    // the last sample already says 3 MiB, so no closing line: 1 + 6 lines, not one per step (48).
    assert.deepEqual(completed, [0, 1, 2, 3, 4, 5, 6].map((i) => i * 8 * STEP_BYTES))
  })

  it('fails before the first event when the model is absent, the registry refuses, or a blob is missing', async () => {
    const storage = new MemoryStorage()
    model(storage)
    const uploader = new ScriptedUploader()
    const first = (ref: string, u = uploader, s = storage) => pushModel(ref, { storage: s, uploader: u }).next()

    await assert.rejects(first('registry.test/team/missing'), (e: unknown) => e instanceof ModelNotFoundError && e.status === 404)

    const refusing = new ScriptedUploader()
    refusing.prepareError = new RegistryError('REGISTRY_UNAUTHORIZED', 'registry requires authentication')
    await assert.rejects(first('registry.test/team/llama:q4', refusing), (e: unknown) => e instanceof RegistryError && e.status === 401)
    assert.equal(refusing.released, 0, 'a refused open leaves no session to close')

    const partial = new MemoryStorage()
    const { digests } = model(partial)
    await partial.deleteBlob(digests[1]!)
    await assert.rejects(first('registry.test/team/llama:q4', uploader, partial), (e: unknown) => e instanceof StorageError && e.status === 500)
    assert.ok(!uploader.calls.some((c) => c.startsWith('upload')), 'nothing was uploaded')
  })

  it('stops the upload in flight when the signal fires: the uploader sees its signal aborted', async () => {
    const storage = new MemoryStorage()
    const { digests } = model(storage)
    const uploader = new ScriptedUploader()
    uploader.stepDelayMs = 5
    const controller = new AbortController()
    let abortedAt: number | undefined
    await assert.rejects(async () => {
      for await (const event of pushModel('registry.test/team/llama:q4', { storage, uploader }, { signal: controller.signal, progressIntervalMs: 10 })) {
        // Part-way: the sample says bytes went and more are to come, so the upload is still running.
        if (event.digest === digests[0] && (event.completed ?? 0) > 0 && event.completed! < event.total!) {
          abortedAt = event.completed
          controller.abort()
        }
      }
    }, (e: unknown) => e instanceof AbortError || (e instanceof Error && e.name === 'AbortError'))
    assert.ok(abortedAt !== undefined, 'the signal fired mid-upload')
    // The push may report another blob's abort first; the layer's upload ends at its next step.
    await uploader.idle()
    assert.ok(uploader.abortedUploads.includes(digests[0]!), 'the upload saw its signal aborted (the cancel itself)')
    assert.equal(uploader.manifests.size, 0, 'no manifest was put')
    assert.ok(!uploader.present.has(digests[0]!), 'the interrupted blob was not committed')
    assert.equal(uploader.released, 1)
  })

  it('stops the upload when the consumer stops iterating', async () => {
    const storage = new MemoryStorage()
    const { digests } = model(storage)
    const uploader = new ScriptedUploader()
    uploader.stepDelayMs = 5
    for await (const event of pushModel('registry.test/team/llama:q4', { storage, uploader }, { progressIntervalMs: 10 })) {
      // The blob's opening line: its upload has started and cannot have finished (48 steps of 5 ms).
      if (event.digest === digests[0]) break
    }
    await uploader.idle()
    assert.ok(uploader.abortedUploads.includes(digests[0]!), 'the upload saw its signal aborted')
    assert.ok(!uploader.present.has(digests[0]!))
    assert.equal(uploader.released, 1, 'the session was closed')
  })
})
