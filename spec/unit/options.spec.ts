import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { resolveOptions } from '../../lib/options.js'
import { FilesystemStorage } from '../../lib/storage/filesystem.js'
import { MemoryStorage } from '../../lib/storage/memory.js'
import { OciRegistryUploader } from '../../lib/registry/oci-uploader.js'
import { createPushRouter, pushHandler } from '../../lib/index.js'

describe('options', () => {
  it('fills defaults: filesystem storage, OCI uploader, registry.ollama.ai, request credentials allowed', () => {
    const resolved = resolveOptions()
    assert.ok(resolved.storage instanceof FilesystemStorage)
    assert.ok(resolved.uploader instanceof OciRegistryUploader)
    assert.equal(resolved.defaultRegistry, 'registry.ollama.ai')
    assert.equal(resolved.allowRequestCredentials, true)
    assert.equal(resolved.progressIntervalMs, 50)
  })

  it('keeps the identity of the adapters it is given and does not touch the caller object', () => {
    const storage = new MemoryStorage()
    const options = Object.freeze({ storage, defaultRegistry: 'localhost:5000' })
    const resolved = resolveOptions(options)
    assert.equal(resolved.storage, storage)
    assert.equal(resolved.defaultRegistry, 'localhost:5000')
    assert.deepEqual(Object.keys(options), ['storage', 'defaultRegistry'])
  })

  it('proxy: a URL or false, passed to the default uploader; anything else is refused', () => {
    assert.ok(resolveOptions({ proxy: 'http://127.0.0.1:3128' }).uploader instanceof OciRegistryUploader)
    assert.ok(resolveOptions({ proxy: false }).uploader instanceof OciRegistryUploader)
    assert.throws(() => resolveOptions({ proxy: 'ftp://x' }), /"proxy"/)
    assert.throws(() => resolveOptions({ proxy: true as never }), /"proxy"/)
  })

  it('reports every problem in one message', () => {
    assert.throws(
      () => resolveOptions({ storage: {} as never, allowRequestCredentials: 'yes' as never, progressIntervalMs: 1, defaultRegistry: 'bad host/' }),
      (error: Error) => {
        assert.ok(error instanceof TypeError)
        for (const part of ['storage', 'readManifest', 'allowRequestCredentials', 'progressIntervalMs', 'defaultRegistry']) {
          assert.match(error.message, new RegExp(part))
        }
        return true
      },
    )
  })

  it('rejects unknown keys with the list of known ones', () => {
    assert.throws(() => resolveOptions({ storrage: new MemoryStorage() } as never), /"storrage" is not an option \(known options: storage,/)
  })

  it('checks uploader, logger and credentials shapes', () => {
    assert.throws(() => resolveOptions({ uploader: { hasBlob() {} } as never }), /must implement RegistryUploader: missing open/)
    assert.throws(() => resolveOptions({ logger: { info: 'x' } as never }), /logger/)
    assert.throws(() => resolveOptions({ credentials: { username: 'u' } as never }), /credentials/)
    assert.throws(() => resolveOptions({ ca: 42 as never }), /ca/)
  })

  it('validates once, when the router or handler is made', () => {
    assert.throws(() => createPushRouter({ nope: 1 } as never), /not an option/)
    assert.throws(() => pushHandler({ nope: 1 } as never), /not an option/)
  })
})
