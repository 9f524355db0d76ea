// pruneBlobs: removes exactly the candidate blobs no stored manifest refers to, and nothing when
// it cannot be sure (an unreadable manifest) or cannot act (no listModels/deleteBlob).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { StorageError } from '../../lib/errors.js'
import { parseModelName } from '../../lib/model/name.js'
import { manifestDigests, pruneBlobs } from '../../lib/model/prune.js'
import type { StorageAdapter } from '../../lib/storage/adapter.js'
import { MemoryStorage } from '../../lib/storage/memory.js'

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`
const MODEL = 'application/vnd.ollama.image.model'

function twoModels() {
  const storage = new MemoryStorage()
  const shared = Buffer.from('shared weights')
  const onlyA = Buffer.from('template of a')
  const onlyB = Buffer.from('template of b')
  storage.addModel('a', { config: Buffer.from('{"a":1}'), layers: [{ mediaType: MODEL, data: shared }, { mediaType: MODEL, data: onlyA }] })
  storage.addModel('b', { config: Buffer.from('{"b":1}'), layers: [{ mediaType: MODEL, data: shared }, { mediaType: MODEL, data: onlyB }] })
  return { storage, shared: sha(shared), onlyA: sha(onlyA), configA: sha(Buffer.from('{"a":1}')) }
}

describe('pruneBlobs', () => {
  it('removes the candidates no manifest uses, keeps shared ones', async () => {
    const { storage, shared, onlyA, configA } = twoModels()
    const manifest = (await storage.readManifest(parseModelName('a')))!
    assert.deepEqual(manifestDigests(manifest).sort(), [configA, shared, onlyA].sort())
    await storage.deleteModel(parseModelName('a'))
    assert.deepEqual((await pruneBlobs(storage, manifestDigests(manifest))).sort(), [configA, onlyA].sort())
    assert.deepEqual(await storage.statBlob(shared), { size: 'shared weights'.length }, 'the blob b still uses stays')
    assert.equal(await storage.statBlob(onlyA), undefined)
  })

  it('removes nothing while the model still exists, or when nothing is a candidate', async () => {
    const { storage, onlyA } = twoModels()
    assert.deepEqual(await pruneBlobs(storage, [onlyA]), [])
    assert.deepEqual(await pruneBlobs(storage, []), [])
    assert.ok(await storage.statBlob(onlyA))
  })

  it('removes nothing when a manifest cannot be read, or the adapter cannot list or delete blobs', async () => {
    const { storage, onlyA } = twoModels()
    await storage.deleteModel(parseModelName('a'))
    const noDelete: StorageAdapter = {
      readManifest: storage.readManifest.bind(storage),
      statBlob: storage.statBlob.bind(storage),
      openBlob: storage.openBlob.bind(storage),
      listModels: storage.listModels.bind(storage),
    }
    assert.deepEqual(await pruneBlobs(noDelete, [onlyA]), [])
    const unreadable: StorageAdapter = {
      ...noDelete,
      deleteBlob: storage.deleteBlob.bind(storage),
      readManifest: async () => {
        throw new StorageError('corrupt')
      },
    }
    assert.deepEqual(await pruneBlobs(unreadable, [onlyA]), [])
    assert.ok(await storage.statBlob(onlyA), 'still there')
    assert.deepEqual(await pruneBlobs(storage, [onlyA]), [onlyA])
  })
})
