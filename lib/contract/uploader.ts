import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import type { Descriptor } from '../model/types.js'
import type { BlobOpener, RegistryPush, RegistryTarget, RegistryUploader } from '../registry/uploader.js'
import { DOCKER_CONFIG_V1, DOCKER_MANIFEST_V2 } from '../storage/manifest.js'

/**
 * The `RegistryUploader` contract as a `node:test` suite: what `pushModel` relies on, checked
 * against any implementation and a registry it can read back from. Run it from a test file:
 *
 * ```ts
 * import { registryUploaderContract } from 'express-model-push/contract'
 * registryUploaderContract('MyUploader', async () => {
 *   const repository = `contract/run-${Date.now()}`
 *   const uploader = new MyUploader()
 *   return {
 *     uploader,
 *     target: { host: 'localhost:5000', repository, insecure: true },
 *     readBack: {
 *       manifest: (tag) => myRegistry.getManifestBytes(repository, tag),   // Buffer | undefined
 *       blobDigest: (digest) => myRegistry.hashBlob(repository, digest),   // 'sha256:…' | undefined
 *     },
 *     teardown: async () => uploader.close?.(),   // the uploader's own cleanup, if any
 *   }
 * })
 * ```
 *
 * Each test opens a session with `uploader.open(target)` and closes it at the end.
 * `setup` runs once per test and must return a target whose repository holds nothing yet (a fresh
 * repository name per call is the cheap way). `readBack` reads what the registry really stored,
 * independently of the uploader under test.
 */

/** Reads what the registry stored, without the uploader under test. */
export interface UploaderReadBack {
  /** The exact bytes stored under `tag` in the target repository, or `undefined` when there is none. */
  manifest(tag: string): Promise<Buffer | undefined> | Buffer | undefined
  /** `sha256:<hex>` of the bytes the registry serves for blob `digest`, or `undefined` when it has no such blob. */
  blobDigest(digest: string): Promise<string | undefined> | string | undefined
}

/** What `setup` returns for one test. */
export interface UploaderContractSubject {
  uploader: RegistryUploader
  /** Where the test pushes; its repository must be empty. */
  target: RegistryTarget
  readBack: UploaderReadBack
  /** Release what `setup` made (the uploader's connections, a repository). Runs after every test, pass or fail. */
  teardown?: (() => Promise<void>) | undefined
}

export interface UploaderContractOptions {
  /** Size of the large blob used to check streaming, in bytes. Default 3 MiB + 17. */
  largeBlobSize?: number | undefined
  /** Per-test timeout in ms. Default 60 000. */
  timeoutMs?: number | undefined
}

const OLLAMA_MODEL = 'application/vnd.ollama.image.model'

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

interface TestBlob {
  descriptor: Descriptor
  data: Buffer
}

function randomBlob(size: number, mediaType = OLLAMA_MODEL): TestBlob {
  const data = randomBytes(size)
  return { data, descriptor: { mediaType, digest: sha256(data), size } }
}

/** A stream of `data` in `chunk`-sized pieces, produced lazily by a generator (like a file read). */
function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += chunk) yield data.subarray(offset, offset + chunk)
    })(),
    { objectMode: false },
  )
}

/** An opener that records its calls and the streams it made. */
function recordingOpener(make: (start: number) => Readable): BlobOpener & { starts: number[]; streams: Readable[] } {
  const starts: number[] = []
  const streams: Readable[] = []
  const open = (async (start: number) => {
    starts.push(start)
    const stream = make(start)
    streams.push(stream)
    return stream
  }) as BlobOpener & { starts: number[]; streams: Readable[] }
  open.starts = starts
  open.streams = streams
  return open
}

/** A byte counter built from `onBytes` deltas; it must never go below 0 or above `size`. */
function deltaSum(size: number) {
  const state = { sum: 0, calls: 0, negative: 0, outOfRange: false }
  const onBytes = (bytes: number) => {
    assert.equal(typeof bytes, 'number')
    assert.ok(Number.isFinite(bytes), 'onBytes gets finite numbers')
    state.calls++
    if (bytes < 0) state.negative++
    state.sum += bytes
    if (state.sum < 0 || state.sum > size) state.outOfRange = true
  }
  return { state, onBytes }
}

function manifestFor(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  // Deliberately not what JSON.stringify would produce: tabs, odd key order, a trailing newline.
  // The registry must hold these exact bytes.
  const body = [
    '{\t"schemaVersion": 2,',
    `\t"mediaType": "${DOCKER_MANIFEST_V2}",`,
    `\t"config": {"digest": "${config.digest}", "mediaType": "${config.mediaType}", "size": ${config.size}},`,
    '\t"layers": [',
    layers.map((layer) => `\t\t{"size": ${layer.size}, "mediaType": "${layer.mediaType}", "digest": "${layer.digest}"}`).join(',\n'),
    '\t]',
    '}\n',
  ]
  return Buffer.from(body.join('\n'), 'utf8')
}

/** Upload a small blob the plain way (for setting up other tests). */
async function upload(push: RegistryPush, blob: TestBlob): Promise<void> {
  await push.uploadBlob(blob.descriptor, async () => chunked(blob.data))
}

/** Register the suite. `setup` runs once per test. */
export function registryUploaderContract(
  name: string,
  setup: () => Promise<UploaderContractSubject>,
  options: UploaderContractOptions = {},
): void {
  const largeSize = options.largeBlobSize ?? 3 * 1024 * 1024 + 17
  const timeout = options.timeoutMs ?? 60_000

  /** Run `body` with a fresh subject and a push session opened on it; close and teardown always run. */
  const withSubject = (body: (subject: UploaderContractSubject & { push: RegistryPush }) => Promise<void>) => async () => {
    const subject = await setup()
    try {
      const push = await subject.uploader.open(subject.target)
      try {
        await body({ ...subject, push })
      } finally {
        await push.close()
      }
    } finally {
      await subject.teardown?.()
    }
  }

  describe(`RegistryUploader contract: ${name}`, () => {
    it('hasBlob is false for an absent blob and true once it is uploaded', { timeout }, withSubject(async ({ push }) => {
      const blob = randomBlob(64 * 1024 + 3)
      assert.equal(await push.hasBlob(blob.descriptor), false)
      await upload(push, blob)
      assert.equal(await push.hasBlob(blob.descriptor), true)
    }))

    it('uploadBlob streams a multi-MiB blob from open(0) and commits it under its digest', { timeout }, withSubject(async ({ push, readBack }) => {
      const blob = randomBlob(largeSize)
      const open = recordingOpener(() => chunked(blob.data))
      const progress = deltaSum(largeSize)
      await push.uploadBlob(blob.descriptor, open, { onBytes: progress.onBytes })
      assert.deepEqual(open.starts, open.starts.map(() => 0), 'every open is open(0)')
      assert.ok(open.starts.length >= 1)
      assert.equal(await readBack.blobDigest(blob.descriptor.digest), blob.descriptor.digest, 'the registry serves the exact bytes')
      assert.equal(await push.hasBlob(blob.descriptor), true)
      assert.equal(progress.state.sum, largeSize, 'onBytes deltas sum to the blob size')
      assert.equal(progress.state.outOfRange, false, 'the running sum stays within [0, size]')
      assert.ok(progress.state.calls < largeSize / 1024, 'onBytes is called per chunk, not per byte')
      for (const stream of open.streams) assert.ok(stream.destroyed || stream.readableEnded, 'no stream is left open')
    }))

    it('uploadBlob commits an empty blob', { timeout }, withSubject(async ({ push, readBack }) => {
      const blob = randomBlob(0, DOCKER_CONFIG_V1)
      const progress = deltaSum(0)
      await push.uploadBlob(blob.descriptor, async () => chunked(blob.data), { onBytes: progress.onBytes })
      assert.equal(progress.state.sum, 0)
      assert.equal(await readBack.blobDigest(blob.descriptor.digest), blob.descriptor.digest)
      assert.equal(await push.hasBlob(blob.descriptor), true)
    }))

    it('uploadBlob rejects bytes that do not match the digest, and stores nothing', { timeout }, withSubject(async ({ push, readBack }) => {
      const blob = randomBlob(32 * 1024)
      const impostor = Buffer.from(blob.data)
      impostor[0] = (impostor[0]! + 1) % 256
      await assert.rejects(
        push.uploadBlob(blob.descriptor, async () => chunked(impostor)),
        (error: unknown) => error instanceof Error && typeof (error as { status?: unknown }).status === 'number',
      )
      assert.equal(await readBack.blobDigest(blob.descriptor.digest), undefined)
      assert.equal(await push.hasBlob(blob.descriptor), false)
    }))

    it('putManifest stores the manifest byte-exact under the tag', { timeout }, withSubject(async ({ push, readBack }) => {
      const config = randomBlob(300, DOCKER_CONFIG_V1)
      const layers = [randomBlob(10_000), randomBlob(20_001)]
      for (const blob of [...layers, config]) await upload(push, blob)
      const bytes = manifestFor(config.descriptor, layers.map((layer) => layer.descriptor))
      assert.equal(await readBack.manifest('contract'), undefined)
      await push.putManifest('contract', { mediaType: DOCKER_MANIFEST_V2, bytes })
      assert.deepEqual(await readBack.manifest('contract'), bytes)
      // Putting again (another tag, same bytes) is fine and also byte-exact.
      await push.putManifest('contract-again', { mediaType: DOCKER_MANIFEST_V2, bytes })
      assert.deepEqual(await readBack.manifest('contract-again'), bytes)
    }))

    it('uploadBlob stops promptly when the signal fires, destroys the stream and rejects with ABORTED', { timeout }, withSubject(async ({ push, readBack }) => {
      // An endless slow source: it would take minutes to deliver the declared size.
      const size = 512 * 1024 * 1024
      const blob: Descriptor = { mediaType: OLLAMA_MODEL, digest: `sha256:${'ab'.repeat(32)}`, size }
      const piece = randomBytes(16 * 1024)
      const open = recordingOpener(
        () =>
          new Readable({
            read() {
              setTimeout(() => this.push(piece), 5)
            },
          }),
      )
      const controller = new AbortController()
      let sent = 0
      const onBytes = (bytes: number) => {
        sent += bytes
        if (sent >= 64 * 1024 && !controller.signal.aborted) controller.abort()
      }
      const started = Date.now()
      await assert.rejects(push.uploadBlob(blob, open, { signal: controller.signal, onBytes }), (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'ABORTED')
        return true
      })
      assert.ok(Date.now() - started < 15_000, 'the abort is prompt')
      assert.ok(open.streams.length >= 1)
      for (const stream of open.streams) assert.ok(stream.destroyed, 'the blob stream is destroyed')
      assert.equal(await readBack.blobDigest(blob.digest), undefined)
    }))

    it('uploadBlob with an already-aborted signal rejects with ABORTED', { timeout }, withSubject(async ({ push }) => {
      const blob = randomBlob(1024)
      const open = recordingOpener(() => chunked(blob.data))
      await assert.rejects(push.uploadBlob(blob.descriptor, open, { signal: AbortSignal.abort() }), (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'ABORTED')
        return true
      })
      for (const stream of open.streams) assert.ok(stream.destroyed, 'any opened stream is destroyed')
    }))

    it('open and close bracket a push: close is harmless after use, on an idle session and twice', { timeout }, withSubject(async ({ uploader, target, readBack, push }) => {
      // The session opened for this test uploads; then a second session uploads another blob.
      const blob = randomBlob(100_000)
      await upload(push, blob)
      const second = await uploader.open(target)
      const other = randomBlob(50_000)
      await upload(second, other)
      await second.close()
      assert.equal(await readBack.blobDigest(blob.descriptor.digest), blob.descriptor.digest)
      assert.equal(await readBack.blobDigest(other.descriptor.digest), other.descriptor.digest)
      // A push that uploads nothing: open then close, and close twice is harmless.
      const idle = await uploader.open({ ...target })
      await idle.close()
      await idle.close()
    }))

    it('open rejects an aborted signal with ABORTED', { timeout }, withSubject(async ({ uploader, target }) => {
      await assert.rejects(uploader.open(target, { signal: AbortSignal.abort() }), (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'ABORTED')
        return true
      })
    }))
  })
}
