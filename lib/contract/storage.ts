import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { formatModelName, modelNameKey } from '../model/name.js'
import type { ModelName } from '../model/types.js'
import type { StorageAdapter } from '../storage/adapter.js'
import { DOCKER_CONFIG_V1, DOCKER_MANIFEST_V2 } from '../storage/manifest.js'

/**
 * The `StorageAdapter` contract as a `node:test` suite: what the push (and ingest) rely on, checked
 * against any implementation, as tus-node-server does for its stores. Run it from a test file:
 *
 * ```ts
 * import { storageAdapterContract } from 'express-model-push/contract'
 * storageAdapterContract('MyStorage', async () => {
 *   const adapter = new MyStorage(await makeTempBucket())
 *   return { adapter, teardown: () => adapter.dropBucket() }
 * })
 * ```
 *
 * `setup` runs once per test and must return an empty store. The suite fills it through `seed`
 * when given, else through the adapter's own `writeBlob` and `writeManifest`. Optional methods are
 * tested when present and reported as skipped when absent.
 */

/** A model the suite stores: a name, exact manifest bytes, and the bytes of every blob it lists. */
export interface StorageContractModel {
  readonly name: ModelName
  readonly manifest: Buffer
  readonly blobs: ReadonlyArray<{ readonly digest: string; readonly data: Buffer }>
}

/** What `setup` returns for one test. */
export interface StorageContractSubject {
  /** The adapter under test, over an empty store. */
  adapter: StorageAdapter
  /**
   * Put a model into the store by the implementation's own means (files, objects, rows). Needed when
   * the adapter lacks `writeBlob` or `writeManifest`; when given, it is used even if they exist, so
   * the read methods are tested against data the adapter did not write itself.
   */
  seed?: ((model: StorageContractModel) => Promise<void>) | undefined
  /** Release what `setup` made (temp directories, buckets). Runs after every test, pass or fail. */
  teardown?: (() => Promise<void>) | undefined
}

export interface StorageContractOptions {
  /** The adapter finds names whatever their ASCII case, as Ollama does. Default `true`. */
  caseInsensitiveNames?: boolean | undefined
  /** Size of the large layer used to check streaming and offsets, in bytes. Default 3 MiB + 17. */
  largeBlobSize?: number | undefined
}

const OLLAMA_MODEL = 'application/vnd.ollama.image.model'
const OLLAMA_TEMPLATE = 'application/vnd.ollama.image.template'

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

function name(host: string, namespace: string, model: string, tag: string): ModelName {
  return Object.freeze({ host, namespace, model, tag })
}

/** Bytes that differ at every offset, so a wrong `start` shows. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/**
 * A model whose manifest is valid but deliberately not in canonical form (indentation, key order,
 * an extra field, CRLF line ends), so that any re-serialisation breaks the byte-exact checks.
 */
export function contractModel(modelName: ModelName, options: { largeBlobSize?: number | undefined; seed?: number | undefined } = {}): StorageContractModel {
  const seed = options.seed ?? 1
  const weights = pattern(options.largeBlobSize ?? 3 * 1024 * 1024 + 17, seed)
  const template = Buffer.from(`{{ .System }} {{ .Prompt }} #${seed}`)
  const empty = Buffer.alloc(0)
  const config = Buffer.from(JSON.stringify({ model_format: 'gguf', model_family: 'llama', seed }))
  const layer = (mediaType: string, data: Buffer) => ({ digest: sha256(data), size: data.length, mediaType })
  const manifest = {
    layers: [layer(OLLAMA_MODEL, weights), { ...layer(OLLAMA_TEMPLATE, template), from: 'library/base' }, layer('application/vnd.ollama.image.system', empty)],
    config: layer(DOCKER_CONFIG_V1, config),
    mediaType: DOCKER_MANIFEST_V2,
    schemaVersion: 2,
  }
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 3).replace(/\n/g, '\r\n')}\r\n`)
  return {
    name: modelName,
    manifest: bytes,
    blobs: [weights, template, empty, config].map((data) => ({ digest: sha256(data), data })),
  }
}

/** Register the contract suite for one adapter implementation. */
export function storageAdapterContract(
  implementation: string,
  setup: () => Promise<StorageContractSubject>,
  options: StorageContractOptions = {},
): void {
  const caseInsensitive = options.caseInsensitiveNames ?? true
  const llama = name('registry.ollama.ai', 'library', 'llama3', 'latest')
  const model = (n: ModelName = llama, seed = 1) => contractModel(n, { largeBlobSize: options.largeBlobSize, seed })

  async function withStore(test: (subject: StorageContractSubject) => Promise<void>): Promise<void> {
    const subject = await setup()
    try {
      await test(subject)
    } finally {
      await subject.teardown?.()
    }
  }

  async function seed(subject: StorageContractSubject, m: StorageContractModel): Promise<void> {
    if (subject.seed) return subject.seed(m)
    const { adapter } = subject
    if (!adapter.writeBlob || !adapter.writeManifest) {
      throw new Error('storageAdapterContract: setup must return seed() when the adapter lacks writeBlob or writeManifest')
    }
    for (const blob of m.blobs) await adapter.writeBlob(blob.digest, Readable.from([blob.data]))
    await adapter.writeManifest(m.name, m.manifest)
  }

  async function read(stream: Readable): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array))
    return Buffer.concat(chunks)
  }

  const isAbort = (error: unknown) =>
    error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORTED' || (error as { code?: unknown }).code === 'ABORT_ERR')
  const isBlobInvalid = (error: unknown) => error instanceof Error && (error as { code?: unknown }).code === 'BLOB_INVALID'

  /**
   * A source that hands out `data` in `chunk`-sized pieces, one per read, calling `onChunk` after
   * each; with `failAt`, it fails (like a dropped connection) once that many bytes were handed out.
   */
  function source(data: Buffer, chunk: number, onChunk?: (sent: number) => void, failAt?: number): Readable {
    let offset = 0
    const stream: Readable = new Readable({
      read() {
        if (failAt !== undefined && offset >= failAt) return void this.destroy(new Error('connection reset'))
        if (offset >= data.length) return void this.push(null)
        const piece = data.subarray(offset, offset + chunk)
        offset += piece.length
        this.push(piece)
        onChunk?.(offset)
      },
    })
    return stream
  }

  const optional = (method: keyof StorageAdapter, test: (subject: StorageContractSubject) => Promise<void>) => async (t: { skip(message?: string): void }) => {
    await withStore(async (subject) => {
      if (typeof subject.adapter[method] !== 'function') return t.skip(`the adapter has no ${method}`)
      await test(subject)
    })
  }

  describe(`StorageAdapter contract: ${implementation}`, () => {
    it('implements the required methods, and optional ones only as functions', () =>
      withStore(async ({ adapter }) => {
        for (const method of ['readManifest', 'statBlob', 'openBlob'] as const) assert.equal(typeof adapter[method], 'function', method)
        for (const method of ['writeBlob', 'writeManifest', 'deleteModel', 'listModels', 'deleteBlob'] as const) {
          assert.ok(adapter[method] === undefined || typeof adapter[method] === 'function', `${method} is absent or a function`)
        }
      }))

    describe('readManifest', () => {
      it('resolves undefined for a model the store does not have', () =>
        withStore(async (subject) => {
          assert.equal(await subject.adapter.readManifest(llama), undefined)
          await seed(subject, model())
          assert.equal(await subject.adapter.readManifest(name('registry.ollama.ai', 'library', 'llama3', 'other')), undefined, 'other tag')
          assert.equal(await subject.adapter.readManifest(name('registry.ollama.ai', 'library', 'mistral', 'latest')), undefined, 'other model')
          assert.equal(await subject.adapter.readManifest(name('registry.ollama.ai', 'someone', 'llama3', 'latest')), undefined, 'other namespace')
          assert.equal(await subject.adapter.readManifest(name('localhost:5000', 'library', 'llama3', 'latest')), undefined, 'other host')
        }))

      it('returns the stored bytes unchanged, with the descriptors parsed from them', () =>
        withStore(async (subject) => {
          const m = model()
          await seed(subject, m)
          const manifest = await subject.adapter.readManifest(llama)
          assert.ok(manifest, 'manifest found')
          assert.ok(manifest.bytes.equals(m.manifest), 'bytes are byte-exact')
          assert.equal(manifest.mediaType, DOCKER_MANIFEST_V2)
          if (manifest.modifiedAt !== undefined) {
            assert.ok(manifest.modifiedAt instanceof Date && !Number.isNaN(manifest.modifiedAt.getTime()), 'modifiedAt, when given, is a valid Date')
          }
          const parsed = JSON.parse(m.manifest.toString()) as { config: { digest: string }; layers: Array<{ digest: string; size: number; mediaType: string }> }
          assert.equal(manifest.config.digest, parsed.config.digest)
          assert.deepEqual(
            manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
            parsed.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
            'layers in manifest order',
          )
        }))

      it('keeps models and tags apart', () =>
        withStore(async (subject) => {
          const first = model(llama, 1)
          const second = model(name('registry.ollama.ai', 'library', 'llama3', 'q4'), 2)
          const third = model(name('localhost:5000', 'team', 'llama3', 'latest'), 3)
          for (const m of [first, second, third]) await seed(subject, m)
          for (const m of [first, second, third]) {
            const manifest = await subject.adapter.readManifest(m.name)
            assert.ok(manifest?.bytes.equals(m.manifest), formatModelName(m.name))
          }
        }))

      it('finds a model whatever the case of its name', { skip: !caseInsensitive && 'caseInsensitiveNames is false' }, () =>
        withStore(async (subject) => {
          const m = model(name('registry.ollama.ai', 'Team', 'Llama3', 'Q4_K_M'))
          await seed(subject, m)
          const variants = [name('registry.ollama.ai', 'team', 'llama3', 'q4_k_m'), name('REGISTRY.OLLAMA.AI', 'TEAM', 'LLAMA3', 'Q4_K_M'), m.name]
          for (const variant of variants) {
            const manifest = await subject.adapter.readManifest(variant)
            assert.ok(manifest?.bytes.equals(m.manifest), formatModelName(variant))
          }
        }))
    })

    describe('statBlob', () => {
      it('resolves undefined for an absent blob and the size of a present one (also 0)', () =>
        withStore(async (subject) => {
          assert.equal(await subject.adapter.statBlob(sha256(Buffer.from('absent'))), undefined)
          const m = model()
          await seed(subject, m)
          for (const blob of m.blobs) assert.deepEqual(await subject.adapter.statBlob(blob.digest), { size: blob.data.length })
        }))
    })

    describe('openBlob', () => {
      it('streams the whole blob, and from any start offset up to its size', () =>
        withStore(async (subject) => {
          const m = model()
          await seed(subject, m)
          const large = m.blobs[0]!
          assert.ok((await read(await subject.adapter.openBlob(large.digest))).equals(large.data), 'whole blob')
          for (const start of [0, 1, 65_535, 65_536, 1024 * 1024 + 3, large.data.length - 1, large.data.length]) {
            const tail = await read(await subject.adapter.openBlob(large.digest, { start }))
            assert.ok(tail.equals(large.data.subarray(start)), `from ${start}`)
          }
          const empty = m.blobs[2]!
          assert.equal((await read(await subject.adapter.openBlob(empty.digest))).length, 0, 'empty blob')
        }))

      it('returns a fresh, independent stream on every call', () =>
        withStore(async (subject) => {
          const m = model()
          await seed(subject, m)
          const large = m.blobs[0]!
          const first = await subject.adapter.openBlob(large.digest)
          const second = await subject.adapter.openBlob(large.digest)
          assert.notEqual(first, second)
          // Read a little of the first and abandon it, read the second fully, then a third.
          const iterator = first[Symbol.asyncIterator]()
          await iterator.next()
          first.destroy()
          assert.ok((await read(second)).equals(large.data), 'second stream unaffected by the first')
          assert.ok((await read(await subject.adapter.openBlob(large.digest, { start: 5 }))).equals(large.data.subarray(5)), 'third')
        }))

      it('rejects for an absent blob and for a start past the end', () =>
        withStore(async (subject) => {
          await assert.rejects(subject.adapter.openBlob(sha256(Buffer.from('absent'))))
          const m = model()
          await seed(subject, m)
          const large = m.blobs[0]!
          await assert.rejects(subject.adapter.openBlob(large.digest, { start: large.data.length + 1 }))
          await assert.rejects(subject.adapter.openBlob(large.digest, { start: -1 }))
        }))

      it('rejects when the signal has fired, and destroys a stream when it fires later', () =>
        withStore(async (subject) => {
          const m = model()
          await seed(subject, m)
          const large = m.blobs[0]!
          await assert.rejects(subject.adapter.openBlob(large.digest, { signal: AbortSignal.abort() }), isAbort)
          const controller = new AbortController()
          const stream = await subject.adapter.openBlob(large.digest, { signal: controller.signal })
          const iterator = stream[Symbol.asyncIterator]()
          await iterator.next()
          controller.abort()
          await assert.rejects(async () => {
            while (!(await iterator.next()).done) {
              // drain what was already buffered
            }
          }, isAbort)
        }))
    })

    describe('writeBlob (optional)', () => {
      it(
        'stores a blob whose content matches its digest, readable at once; rewriting it is harmless',
        optional('writeBlob', async ({ adapter }) => {
          const data = pattern(1024 * 1024 + 5, 9)
          const digest = sha256(data)
          assert.deepEqual(await adapter.writeBlob!(digest, source(data, 64 * 1024)), { size: data.length })
          assert.deepEqual(await adapter.statBlob(digest), { size: data.length })
          assert.ok((await read(await adapter.openBlob(digest, { start: 7 }))).equals(data.subarray(7)))
          assert.deepEqual(await adapter.writeBlob!(digest, source(data, 1000), { size: data.length }), { size: data.length })
          const empty = Buffer.alloc(0)
          assert.deepEqual(await adapter.writeBlob!(sha256(empty), Readable.from([])), { size: 0 })
          assert.deepEqual(await adapter.statBlob(sha256(empty)), { size: 0 })
        }),
      )

      it(
        'lets two concurrent writes of the same blob both succeed, leaving one intact blob',
        optional('writeBlob', async ({ adapter }) => {
          const data = pattern(600_000, 13)
          const digest = sha256(data)
          // Both writes are in flight at once (each source yields between chunks).
          const results = await Promise.all([adapter.writeBlob!(digest, source(data, 8192)), adapter.writeBlob!(digest, source(data, 5000))])
          assert.deepEqual(results, [{ size: data.length }, { size: data.length }])
          assert.deepEqual(await adapter.statBlob(digest), { size: data.length })
          assert.ok((await read(await adapter.openBlob(digest))).equals(data))
        }),
      )

      it(
        'rejects content that does not match its digest or size, and keeps nothing',
        optional('writeBlob', async ({ adapter }) => {
          const data = pattern(200_000, 10)
          const wrong = sha256(Buffer.from('something else'))
          await assert.rejects(adapter.writeBlob!(wrong, source(data, 4096)), isBlobInvalid)
          assert.equal(await adapter.statBlob(wrong), undefined, 'wrong digest not stored')
          assert.equal(await adapter.statBlob(sha256(data)), undefined, 'actual digest not stored either')
          await assert.rejects(adapter.writeBlob!(sha256(data), source(data, 4096), { size: data.length - 1 }), isBlobInvalid)
          await assert.rejects(adapter.writeBlob!(sha256(data), source(data, 4096), { size: data.length + 1 }), isBlobInvalid)
          assert.equal(await adapter.statBlob(sha256(data)), undefined, 'size mismatch not stored')
        }),
      )

      it(
        'rejects and keeps nothing when the content stream fails midway',
        optional('writeBlob', async ({ adapter }) => {
          const data = pattern(300_000, 11)
          const failing = source(data, 16 * 1024, undefined, 100_000)
          await assert.rejects(adapter.writeBlob!(sha256(data), failing))
          assert.equal(await adapter.statBlob(sha256(data)), undefined)
        }),
      )

      it(
        'rejects with an abort and keeps nothing when the signal fires, before or during the write',
        optional('writeBlob', async ({ adapter }) => {
          const data = pattern(300_000, 12)
          await assert.rejects(adapter.writeBlob!(sha256(data), source(data, 4096), { signal: AbortSignal.abort() }), isAbort)
          const controller = new AbortController()
          const slow = source(data, 16 * 1024, (sent) => {
            if (sent >= 100_000) controller.abort()
          })
          await assert.rejects(adapter.writeBlob!(sha256(data), slow, { signal: controller.signal }), isAbort)
          assert.equal(await adapter.statBlob(sha256(data)), undefined)
        }),
      )
    })

    describe('writeManifest (optional)', () => {
      it(
        'stores manifest bytes that read back byte-exact, and replaces them on a second write',
        optional('writeManifest', async (subject) => {
          const m = model()
          await seed(subject, m)
          const first = contractModel(llama, { largeBlobSize: 10, seed: 21 })
          for (const blob of first.blobs) await subject.adapter.writeBlob?.(blob.digest, Readable.from([blob.data]))
          await subject.adapter.writeManifest!(llama, first.manifest)
          assert.ok((await subject.adapter.readManifest(llama))?.bytes.equals(first.manifest), 'replaced')
          const compact = Buffer.from(JSON.stringify(JSON.parse(m.manifest.toString())))
          await subject.adapter.writeManifest!(llama, compact)
          assert.ok((await subject.adapter.readManifest(llama))?.bytes.equals(compact), 'replaced again, byte-exact')
        }),
      )

      it(
        'rejects bytes that are not a valid manifest and keeps the stored one',
        optional('writeManifest', async (subject) => {
          const m = model()
          await seed(subject, m)
          const bad = [Buffer.from('not json'), Buffer.from('{"schemaVersion":1}'), Buffer.from('{"schemaVersion":2,"config":{},"layers":[]}')]
          for (const bytes of bad) await assert.rejects(subject.adapter.writeManifest!(llama, bytes), isBlobInvalid)
          assert.ok((await subject.adapter.readManifest(llama))?.bytes.equals(m.manifest))
        }),
      )

      it(
        'writes a case variant of a stored name onto the same model',
        { skip: !caseInsensitive && 'caseInsensitiveNames is false' },
        optional('writeManifest', async (subject) => {
          const m = model(name('registry.ollama.ai', 'team', 'llama3', 'q4'))
          await seed(subject, m)
          const compact = Buffer.from(JSON.stringify(JSON.parse(m.manifest.toString())))
          await subject.adapter.writeManifest!(name('registry.ollama.ai', 'Team', 'LLAMA3', 'Q4'), compact)
          assert.ok((await subject.adapter.readManifest(m.name))?.bytes.equals(compact))
          if (subject.adapter.listModels) {
            const matching = (await subject.adapter.listModels()).filter((n) => modelNameKey(n) === modelNameKey(m.name))
            assert.equal(matching.length, 1, 'one model, not two spellings')
          }
        }),
      )
    })

    describe('deleteModel (optional)', () => {
      it(
        'removes one tag, resolves false when absent, and leaves blobs and other tags alone',
        optional('deleteModel', async (subject) => {
          const m = model(llama, 1)
          const other = model(name('registry.ollama.ai', 'library', 'llama3', 'q4'), 2)
          await seed(subject, m)
          await seed(subject, other)
          assert.equal(await subject.adapter.deleteModel!(llama), true)
          assert.equal(await subject.adapter.readManifest(llama), undefined)
          assert.equal(await subject.adapter.deleteModel!(llama), false, 'second delete')
          assert.ok((await subject.adapter.readManifest(other.name))?.bytes.equals(other.manifest), 'other tag kept')
          for (const blob of m.blobs) assert.deepEqual(await subject.adapter.statBlob(blob.digest), { size: blob.data.length }, 'blobs kept')
          assert.equal(await subject.adapter.deleteModel!(name('localhost:5000', 'nobody', 'nothing', 'latest')), false)
        }),
      )
    })

    describe('deleteBlob (optional)', () => {
      it(
        'removes a blob, resolves false when it is absent, and leaves other blobs alone',
        optional('deleteBlob', async (subject) => {
          const m = model()
          await seed(subject, m)
          const [first, second] = m.blobs
          assert.equal(await subject.adapter.deleteBlob!(first!.digest), true)
          assert.equal(await subject.adapter.statBlob(first!.digest), undefined)
          assert.equal(await subject.adapter.deleteBlob!(first!.digest), false, 'second delete')
          assert.deepEqual(await subject.adapter.statBlob(second!.digest), { size: second!.data.length }, 'other blob kept')
          await assert.rejects(subject.adapter.deleteBlob!('sha256:../../etc/passwd'), isBlobInvalid)
        }),
      )
    })

    describe('listModels (optional)', () => {
      it(
        'lists every stored model once, and no longer lists a deleted one',
        optional('listModels', async (subject) => {
          assert.deepEqual(await subject.adapter.listModels!(), [])
          const models = [model(llama, 1), model(name('registry.ollama.ai', 'library', 'llama3', 'q4'), 2), model(name('localhost:5000', 'team', 'mistral', 'v1'), 3)]
          for (const m of models) await seed(subject, m)
          const listed = (await subject.adapter.listModels!()).map(modelNameKey).sort()
          assert.deepEqual(listed, models.map((m) => modelNameKey(m.name)).sort())
          if (subject.adapter.deleteModel) {
            await subject.adapter.deleteModel(llama)
            const after = (await subject.adapter.listModels!()).map(modelNameKey)
            assert.ok(!after.includes(modelNameKey(llama)))
            assert.equal(after.length, 2)
          }
        }),
      )
    })
  })
}
