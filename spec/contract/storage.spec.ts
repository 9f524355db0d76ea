// The StorageAdapter contract run against both shipped adapters, then what only FilesystemStorage
// has to prove: Ollama's real layout, paths that cannot leave the root, writes that leave nothing
// behind, and the OLLAMA_MODELS default.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { storageAdapterContract, type StorageContractModel } from '../../lib/contract/index.js'
import { InvalidNameError, StorageError } from '../../lib/errors.js'
import { formatModelName, parseModelName } from '../../lib/model/name.js'
import type { ModelName } from '../../lib/model/types.js'
import { FilesystemStorage } from '../../lib/storage/filesystem.js'
import { MemoryStorage } from '../../lib/storage/memory.js'

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`
const hex = (digest: string) => digest.slice('sha256:'.length)

async function tempDir(): Promise<string> {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'emp-storage-')))
}

/** Write a model the way Ollama lays it out, without going through the adapter. */
async function writeOllamaLayout(root: string, model: StorageContractModel): Promise<void> {
  await fs.mkdir(path.join(root, 'blobs'), { recursive: true })
  for (const blob of model.blobs) await fs.writeFile(path.join(root, 'blobs', `sha256-${hex(blob.digest)}`), blob.data)
  const { host, namespace, model: m, tag } = model.name
  await fs.mkdir(path.join(root, 'manifests', host, namespace, m), { recursive: true })
  await fs.writeFile(path.join(root, 'manifests', host, namespace, m, tag), model.manifest)
}

storageAdapterContract('FilesystemStorage (seeded as Ollama lays files out)', async () => {
  const root = await tempDir()
  return {
    adapter: new FilesystemStorage({ root }),
    seed: (model) => writeOllamaLayout(root, model),
    teardown: () => fs.rm(root, { recursive: true, force: true }),
  }
})

storageAdapterContract('FilesystemStorage (seeded through writeBlob/writeManifest)', async () => {
  const root = await tempDir()
  return { adapter: new FilesystemStorage({ root }), teardown: () => fs.rm(root, { recursive: true, force: true }) }
})

storageAdapterContract('MemoryStorage', async () => ({ adapter: new MemoryStorage() }))

storageAdapterContract('MemoryStorage (chunkSize 1000, seeded through a seed hook)', async () => {
  const adapter = new MemoryStorage({ chunkSize: 1000 })
  return {
    adapter,
    seed: async (model) => {
      for (const blob of model.blobs) await adapter.writeBlob(blob.digest, Readable.from([blob.data]))
      await adapter.writeManifest(model.name, model.manifest)
    },
  }
})

/** A manifest exactly as Ollama's Go code writes it (json.Encoder: compact, trailing newline). */
function ollamaModel(name: ModelName) {
  const weights = Buffer.from('GGUF fake weights '.repeat(1000))
  const template = Buffer.from('{{ .Prompt }}')
  const config = Buffer.from('{"model_format":"gguf","model_family":"llama","file_type":"Q4_K_M"}')
  const manifest = Buffer.from(
    `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"${sha(config)}","size":${config.length}},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"${sha(weights)}","size":${weights.length},"from":"/root/.ollama/models/blobs/sha256-${hex(sha(weights))}"},{"mediaType":"application/vnd.ollama.image.template","digest":"${sha(template)}","size":${template.length}}]}\n`,
  )
  return { name, manifest, blobs: [weights, template, config].map((data) => ({ digest: sha(data), data })) }
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    out.push(path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))
  }
  return out.sort()
}

describe('FilesystemStorage', () => {
  let scratch: string
  before(async () => {
    scratch = await tempDir()
  })
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true })
  })
  const fresh = async () => fs.mkdtemp(path.join(scratch, 'case-'))

  describe('options and the default root', () => {
    it('uses $OLLAMA_MODELS, trimmed of spaces and quotes as Ollama trims it, else ~/.ollama/models', () => {
      const saved = { models: process.env.OLLAMA_MODELS, home: process.env.HOME }
      try {
        process.env.OLLAMA_MODELS = ` "${path.join(scratch, 'from-env')}" `
        assert.equal(new FilesystemStorage().root, path.join(scratch, 'from-env'))
        process.env.OLLAMA_MODELS = '   '
        process.env.HOME = path.join(scratch, 'home')
        assert.equal(new FilesystemStorage().root, path.join(scratch, 'home', '.ollama', 'models'))
        delete process.env.OLLAMA_MODELS
        assert.equal(new FilesystemStorage().root, path.join(scratch, 'home', '.ollama', 'models'))
        assert.equal(new FilesystemStorage({ root: 'relative/models' }).root, path.resolve('relative/models'))
      } finally {
        if (saved.models === undefined) delete process.env.OLLAMA_MODELS
        else process.env.OLLAMA_MODELS = saved.models
        process.env.HOME = saved.home
      }
    })

    it('rejects bad options at construction', () => {
      assert.throws(() => new FilesystemStorage({ root: '' }), TypeError)
      assert.throws(() => new FilesystemStorage({ rot: '/x' } as never), /unknown option "rot"/)
      assert.throws(() => new FilesystemStorage(null as never), TypeError)
    })

    it('touches nothing until used, and reads a missing root as an empty store', async () => {
      const root = path.join(scratch, 'not-yet')
      const storage = new FilesystemStorage({ root })
      assert.equal(await storage.readManifest(parseModelName('llama3')), undefined)
      assert.equal(await storage.statBlob(sha(Buffer.from('x'))), undefined)
      assert.deepEqual(await storage.listModels(), [])
      assert.equal(await storage.deleteModel(parseModelName('llama3')), false)
      await assert.rejects(storage.openBlob(sha(Buffer.from('x'))), StorageError)
      await assert.rejects(fs.stat(root), { code: 'ENOENT' })
    })
  })

  describe("Ollama's layout", () => {
    it('reads a models directory as Ollama writes it, skipping partial downloads and stray files', async () => {
      const root = await fresh()
      const llama = ollamaModel(parseModelName('llama3.2'))
      const mine = ollamaModel(parseModelName('localhost:5000/team/coder:q4_K_M'))
      await writeOllamaLayout(root, llama)
      await writeOllamaLayout(root, mine)
      await fs.writeFile(path.join(root, 'blobs', `sha256-${'a'.repeat(64)}-partial`), 'partial download')
      await fs.writeFile(path.join(root, 'manifests', 'registry.ollama.ai', 'library', 'llama3.2', '.DS_Store'), 'x')
      await fs.mkdir(path.join(root, 'manifests', 'registry.ollama.ai', 'team', 'skill', 'helper'), { recursive: true })
      await fs.writeFile(path.join(root, 'manifests', 'registry.ollama.ai', 'team', 'skill', 'helper', 'latest'), llama.manifest)

      const storage = new FilesystemStorage({ root })
      const manifest = await storage.readManifest(parseModelName('llama3.2:latest'))
      assert.ok(manifest, 'found')
      assert.ok(manifest.bytes.equals(llama.manifest), 'byte-exact, trailing newline included')
      assert.equal(manifest.layers.length, 2)
      assert.equal(manifest.config.digest, llama.blobs[2]!.digest)
      assert.ok((await read(await storage.openBlob(llama.blobs[0]!.digest, { start: 5 }))).equals(llama.blobs[0]!.data.subarray(5)))
      assert.deepEqual((await storage.listModels()).map(formatModelName), [
        'localhost:5000/team/coder:q4_K_M',
        'registry.ollama.ai/library/llama3.2:latest',
      ])
    })

    it("finds names ignoring case, and writes into the spelling already on disk (as Ollama's getExistingName)", async () => {
      const root = await fresh()
      const model = ollamaModel(parseModelName('Team/Llama3:Q4'))
      await writeOllamaLayout(root, model)
      const storage = new FilesystemStorage({ root })
      assert.ok((await storage.readManifest(parseModelName('team/llama3:q4')))?.bytes.equals(model.manifest))
      const replacement = Buffer.from(model.manifest.toString().trimEnd())
      await storage.writeManifest(parseModelName('TEAM/llama3:q4'), replacement)
      assert.deepEqual(await tree(path.join(root, 'manifests')), [
        'registry.ollama.ai',
        'registry.ollama.ai/Team',
        'registry.ollama.ai/Team/Llama3',
        'registry.ollama.ai/Team/Llama3/Q4',
      ])
      assert.ok((await fs.readFile(path.join(root, 'manifests', 'registry.ollama.ai', 'Team', 'Llama3', 'Q4'))).equals(replacement))
    })

    it('deletes a tag and prunes the directories it leaves empty, keeping blobs', async () => {
      const root = await fresh()
      const one = ollamaModel(parseModelName('team/coder:a'))
      const two = ollamaModel(parseModelName('team/coder:b'))
      await writeOllamaLayout(root, one)
      await writeOllamaLayout(root, two)
      const storage = new FilesystemStorage({ root })
      assert.equal(await storage.deleteModel(parseModelName('team/coder:a')), true)
      assert.deepEqual(await tree(path.join(root, 'manifests')), ['registry.ollama.ai', 'registry.ollama.ai/team', 'registry.ollama.ai/team/coder', 'registry.ollama.ai/team/coder/b'])
      assert.equal(await storage.deleteModel(parseModelName('team/coder:b')), true)
      assert.deepEqual(await tree(path.join(root, 'manifests')), [])
      assert.equal((await fs.readdir(path.join(root, 'blobs'))).length, 3)
    })

    it('reports a corrupt or oversized manifest as BLOB_INVALID without quoting it or the path', async () => {
      const root = await fresh()
      const dir = path.join(root, 'manifests', 'registry.ollama.ai', 'library', 'broken')
      await fs.mkdir(dir, { recursive: true })
      await fs.writeFile(path.join(dir, 'latest'), `{"schemaVersion":2,"secret":"${'x'.repeat(1000)}"`)
      await fs.writeFile(path.join(dir, 'huge'), Buffer.alloc(4 * 1024 * 1024 + 1, 0x20))
      const storage = new FilesystemStorage({ root })
      for (const tag of ['latest', 'huge']) {
        await assert.rejects(storage.readManifest(parseModelName(`broken:${tag}`)), (e: unknown) => {
          assert.ok(e instanceof StorageError)
          assert.equal(e.code, 'BLOB_INVALID')
          assert.equal(e.status, 500)
          assert.ok(!e.message.includes('xxxx') && !e.message.includes(root), e.message)
          return true
        })
      }
    })

    it('turns other file-system errors into StorageErrors naming the errno code, not the path', async () => {
      const root = await fresh()
      const dir = path.join(root, 'manifests', 'registry.ollama.ai', 'library', 'loop')
      await fs.mkdir(dir, { recursive: true })
      await fs.symlink('latest', path.join(dir, 'latest'))
      await fs.mkdir(path.join(dir, 'adir'))
      const storage = new FilesystemStorage({ root })
      await assert.rejects(storage.readManifest(parseModelName('loop')), (e: unknown) => {
        assert.ok(e instanceof StorageError)
        assert.equal(e.code, 'STORAGE_FAILED')
        assert.equal(e.message, 'could not read the manifest of registry.ollama.ai/library/loop:latest: ELOOP')
        return true
      })
      await assert.rejects(storage.readManifest(parseModelName('loop:adir')), /not a regular file/)
    })

    it('reads a name whose path runs into a file (ENOTDIR) as absent', async () => {
      const root = await fresh()
      await fs.mkdir(path.join(root, 'manifests', 'registry.ollama.ai'), { recursive: true })
      await fs.writeFile(path.join(root, 'manifests', 'registry.ollama.ai', 'library'), 'not a directory')
      assert.equal(await new FilesystemStorage({ root }).readManifest(parseModelName('llama3')), undefined)
    })
  })

  describe('paths stay inside the root', () => {
    const hostile: Array<[Partial<ModelName>, string]> = [
      [{ host: '..' }, 'host'],
      [{ host: '/etc' }, 'host'],
      [{ namespace: '..' }, 'namespace'],
      [{ namespace: '.' }, 'namespace'],
      [{ namespace: 'a/../../..' }, 'namespace'],
      [{ model: '../../../etc' }, 'model'],
      [{ model: 'a\\..\\..' }, 'model'],
      [{ model: '' }, 'model'],
      [{ tag: '../../../../../../etc/passwd' }, 'tag'],
      [{ tag: 'a/b' }, 'tag'],
      [{ tag: 'latest\0' }, 'tag'],
      [{ tag: 'a..b' }, 'tag'],
    ]

    it('refuses ModelName objects with traversal parts in every method, creating nothing', async () => {
      const root = await fresh()
      const storage = new FilesystemStorage({ root })
      const valid = ollamaModel(parseModelName('llama3'))
      await writeOllamaLayout(root, valid)
      const before = await tree(scratch)
      for (const [override, part] of hostile) {
        const name = { ...parseModelName('llama3'), ...override } as ModelName
        const refused = (e: unknown) => e instanceof InvalidNameError && e.part === part
        await assert.rejects(storage.readManifest(name), refused, JSON.stringify(override))
        await assert.rejects(storage.writeManifest(name, valid.manifest), refused, JSON.stringify(override))
        await assert.rejects(storage.deleteModel(name), refused, JSON.stringify(override))
      }
      assert.deepEqual(await tree(scratch), before, 'nothing created or removed anywhere')
    })

    it('refuses digests that are not sha256:<64 lowercase hex>', async () => {
      const root = await fresh()
      const storage = new FilesystemStorage({ root })
      const digests = [
        'sha256:../../../etc/passwd',
        `sha256:${'A'.repeat(64)}`,
        `sha512:${'a'.repeat(128)}`,
        `sha256-${'a'.repeat(64)}`,
        `sha256:${'a'.repeat(64)}/..`,
        `../sha256:${'a'.repeat(64)}`,
        '',
      ]
      for (const digest of digests) {
        const refused = (e: unknown) => e instanceof StorageError && e.code === 'BLOB_INVALID'
        await assert.rejects(storage.statBlob(digest), refused, digest)
        await assert.rejects(storage.openBlob(digest), refused, digest)
        await assert.rejects(storage.writeBlob(digest, Readable.from([Buffer.from('x')])), refused, digest)
      }
    })

    it('refuses manifest directories and files that are symlinks out of the tree, for reads, writes and deletes', async () => {
      const root = await fresh()
      const outside = await fresh()
      const victim = ollamaModel(parseModelName('evil.example/ns/model:tag'))
      await fs.mkdir(path.join(outside, 'ns', 'model'), { recursive: true })
      await fs.writeFile(path.join(outside, 'ns', 'model', 'tag'), victim.manifest)
      await fs.writeFile(path.join(outside, 'loose'), victim.manifest)
      await fs.mkdir(path.join(root, 'manifests', 'good.example', 'ns', 'model'), { recursive: true })
      await fs.symlink(outside, path.join(root, 'manifests', 'evil.example'))
      await fs.symlink(path.join(outside, 'loose'), path.join(root, 'manifests', 'good.example', 'ns', 'model', 'loose'))
      const storage = new FilesystemStorage({ root })
      const escapes = (e: unknown) => e instanceof StorageError && /outside the models directory/.test(e.message) && !e.message.includes(outside)

      await assert.rejects(storage.readManifest(parseModelName('evil.example/ns/model:tag')), escapes)
      await assert.rejects(storage.readManifest(parseModelName('good.example/ns/model:loose')), escapes)
      await assert.rejects(storage.writeManifest(parseModelName('evil.example/ns/other:tag'), victim.manifest), escapes)
      await assert.rejects(storage.writeManifest(parseModelName('evil.example/newns/other:tag'), victim.manifest), escapes)
      await assert.rejects(storage.deleteModel(parseModelName('evil.example/ns/model:tag')), escapes)
      assert.deepEqual(await tree(outside), ['loose', 'ns', 'ns/model', 'ns/model/tag'], 'nothing written or removed outside')
      assert.deepEqual(await storage.listModels(), [], 'escaping entries are not listed')
    })

    it('follows symlinks that stay inside the tree (a tag alias, a moved manifests directory)', async () => {
      const root = await fresh()
      const model = ollamaModel(parseModelName('team/coder:v1'))
      await writeOllamaLayout(root, model)
      const dir = path.join(root, 'manifests', 'registry.ollama.ai', 'team', 'coder')
      await fs.symlink('v1', path.join(dir, 'latest'))
      const storage = new FilesystemStorage({ root })
      assert.ok((await storage.readManifest(parseModelName('team/coder')))?.bytes.equals(model.manifest))
      assert.deepEqual((await storage.listModels()).map((n) => n.tag), ['latest', 'v1'])
      assert.equal(await storage.deleteModel(parseModelName('team/coder:latest')), true)
      assert.deepEqual(await fs.readdir(dir), ['v1'], 'the alias went, its target stayed')

      const moved = await fresh()
      await fs.rename(path.join(root, 'manifests'), path.join(moved, 'manifests'))
      await fs.symlink(path.join(moved, 'manifests'), path.join(root, 'manifests'))
      assert.ok((await new FilesystemStorage({ root }).readManifest(parseModelName('team/coder:v1')))?.bytes.equals(model.manifest))
    })

    it('refuses a blob that is a symlink out of blobs/, and follows one that stays inside', async () => {
      const root = await fresh()
      const outside = await fresh()
      const secret = Buffer.from('secret')
      await fs.writeFile(path.join(outside, 'secret'), secret)
      await fs.mkdir(path.join(root, 'blobs'))
      await fs.symlink(path.join(outside, 'secret'), path.join(root, 'blobs', `sha256-${hex(sha(secret))}`))
      const inside = Buffer.from('inside')
      await fs.writeFile(path.join(root, 'blobs', 'real-file'), inside)
      await fs.symlink('real-file', path.join(root, 'blobs', `sha256-${hex(sha(inside))}`))
      const storage = new FilesystemStorage({ root })
      const escapes = (e: unknown) => e instanceof StorageError && /outside the models directory/.test(e.message)
      await assert.rejects(storage.statBlob(sha(secret)), escapes)
      await assert.rejects(storage.openBlob(sha(secret)), escapes)
      assert.deepEqual(await storage.statBlob(sha(inside)), { size: inside.length })
      assert.ok((await read(await storage.openBlob(sha(inside)))).equals(inside))
    })
  })

  describe('writes leave nothing behind', () => {
    it('removes the temp file when the digest does not match, the source fails, or the signal fires', async () => {
      const root = await fresh()
      const storage = new FilesystemStorage({ root })
      const data = Buffer.alloc(5 * 1024 * 1024, 1)
      const blobs = path.join(root, 'blobs')

      await assert.rejects(storage.writeBlob(sha(Buffer.from('other')), Readable.from([data])), { code: 'BLOB_INVALID' })
      assert.deepEqual(await fs.readdir(blobs), [])

      let sent = 0
      const failing = new Readable({
        read() {
          sent += 1
          if (sent === 3) this.destroy(new Error('socket hang up'))
          else this.push(data.subarray(0, 1024 * 1024))
        },
      })
      await assert.rejects(storage.writeBlob(sha(data), failing), StorageError)
      assert.deepEqual(await fs.readdir(blobs), [])

      const controller = new AbortController()
      let chunks = 0
      const endless = new Readable({
        read() {
          if (++chunks === 4) controller.abort()
          this.push(data.subarray(0, 1024 * 1024))
        },
      })
      await assert.rejects(storage.writeBlob(sha(data), endless, { signal: controller.signal }), { name: 'AbortError', code: 'ABORTED' })
      assert.ok(endless.destroyed, 'the source is destroyed')
      assert.deepEqual(await fs.readdir(blobs), [])

      assert.deepEqual(await storage.writeBlob(sha(data), Readable.from([data]), { size: data.length }), { size: data.length })
      assert.deepEqual(await fs.readdir(blobs), [`sha256-${hex(sha(data))}`])
    })

    it('two concurrent writes of one blob leave exactly one file and no temp file', async () => {
      const root = await fresh()
      const storage = new FilesystemStorage({ root })
      const data = Buffer.alloc(3 * 1024 * 1024, 7)
      const chunks = (n: number) => Readable.from(Array.from({ length: n }, (_, i) => data.subarray((i * data.length) / n, ((i + 1) * data.length) / n)))
      await Promise.all([storage.writeBlob(sha(data), chunks(3)), storage.writeBlob(sha(data), chunks(6)), storage.writeBlob(sha(data), chunks(2))])
      assert.deepEqual(await fs.readdir(path.join(root, 'blobs')), [`sha256-${hex(sha(data))}`])
      assert.equal((await fs.stat(path.join(root, 'blobs', `sha256-${hex(sha(data))}`))).mode & 0o777 & ~0o022, 0o644 & ~0o022, 'mode 0644 (less umask)')
    })

    it('reports the manifest file mtime as modifiedAt; deleteBlob removes a symlinked blob\'s link only', async () => {
      const root = await fresh()
      const model = ollamaModel(parseModelName('team/coder:v1'))
      await writeOllamaLayout(root, model)
      const file = path.join(root, 'manifests', 'registry.ollama.ai', 'team', 'coder', 'v1')
      const when = new Date('2024-05-01T10:00:00.000Z')
      await fs.utimes(file, when, when)
      const storage = new FilesystemStorage({ root })
      assert.equal((await storage.readManifest(model.name))?.modifiedAt?.toISOString(), when.toISOString())

      const target = Buffer.from('linked')
      await fs.writeFile(path.join(root, 'blobs', 'elsewhere'), target)
      await fs.symlink('elsewhere', path.join(root, 'blobs', `sha256-${hex(sha(target))}`))
      assert.equal(await storage.deleteBlob(sha(target)), true)
      assert.ok((await fs.readFile(path.join(root, 'blobs', 'elsewhere'))).equals(target), 'the link target stays')
      assert.equal(await new FilesystemStorage({ root: await fresh() }).deleteBlob(sha(target)), false, 'no blobs/ at all')
    })

    it('writes manifests through a temp file in the same directory, leaving only the manifest', async () => {
      const root = await fresh()
      const storage = new FilesystemStorage({ root })
      const model = ollamaModel(parseModelName('localhost:5000/team/coder:v1'))
      await storage.writeManifest(model.name, model.manifest)
      await assert.rejects(storage.writeManifest(model.name, Buffer.from('{')), { code: 'BLOB_INVALID' })
      assert.deepEqual(await fs.readdir(path.join(root, 'manifests', 'localhost:5000', 'team', 'coder')), ['v1'])
      assert.ok((await fs.readFile(path.join(root, 'manifests', 'localhost:5000', 'team', 'coder', 'v1'))).equals(model.manifest))
    })
  })
})

describe('MemoryStorage helpers', () => {
  it('addModel stores the blobs and an Ollama-format manifest, and returns its bytes', async () => {
    const storage = new MemoryStorage({ defaultRegistry: 'localhost:5000', chunkSize: 3 })
    const weights = Buffer.from('weights!')
    const bytes = storage.addModel('team/coder:v1', {
      config: Buffer.from('{}'),
      layers: [{ mediaType: 'application/vnd.ollama.image.model', data: weights }],
    })
    assert.match(bytes.toString(), /^\{"schemaVersion":2,"mediaType":"application\/vnd\.docker\.distribution\.manifest\.v2\+json","config":\{"mediaType":"application\/vnd\.docker\.container\.image\.v1\+json",.*\}\n$/)
    const manifest = await storage.readManifest(parseModelName('localhost:5000/Team/Coder:v1'))
    assert.ok(manifest?.bytes.equals(bytes))
    const chunks: Buffer[] = []
    for await (const chunk of await storage.openBlob(sha(weights))) chunks.push(chunk as Buffer)
    assert.deepEqual(chunks.map((c) => c.toString()), ['wei', 'ght', 's!'], 'chunkSize honoured')
    assert.equal(await storage.deleteBlob(sha(weights)), true)
    assert.equal(await storage.statBlob(sha(weights)), undefined)
    assert.equal(await storage.deleteBlob(sha(weights)), false)
    assert.deepEqual((await storage.listModels()).map(formatModelName), ['localhost:5000/team/coder:v1'])
  })

  it('rejects bad options at construction', () => {
    assert.throws(() => new MemoryStorage({ chunkSize: 0 }), TypeError)
    assert.throws(() => new MemoryStorage({ chunk: 1 } as never), /unknown option "chunk"/)
  })
})
