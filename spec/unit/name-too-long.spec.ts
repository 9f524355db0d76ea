// A name valid by Ollama's rules (host up to 350 characters) can still be too long for the file
// system under FilesystemStorage: that is a 400 for the request, not a 500 storage failure.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { createModelRouter, FilesystemStorage, InvalidNameError } from '../../lib/index.js'
import { parseModelName } from '../../lib/model/name.js'
import { makeOllamaStore, type OllamaStore } from '../support/ollama-store.js'

describe('names too long for the file system', () => {
  let store: OllamaStore
  const longHost = `${'h'.repeat(300)}.example.com`
  before(async () => {
    store = await makeOllamaStore([{ name: 'registry.example.com/team/m:latest' }])
  })
  after(async () => store?.remove())

  it('FilesystemStorage: reading or writing the manifest is an InvalidNameError (400)', async () => {
    const storage = new FilesystemStorage({ root: store.root })
    const name = parseModelName(`${longHost}/team/m:latest`)
    const bytes = store.models['registry.example.com/team/m:latest']!.manifestBytes
    for (const attempt of [() => storage.readManifest(name), () => storage.writeManifest(name, bytes)]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof InvalidNameError, String(error))
        assert.equal(error.status, 400)
        assert.match(error.message, /too long for the model store's file system/)
        return true
      })
    }
    assert.deepEqual((await readdir(`${store.root}/manifests`)).sort(), ['registry.example.com'], 'nothing half-written')
  })

  it('the router answers a push of such a name with 400', async () => {
    const app = express()
    app.use(createModelRouter({ storage: new FilesystemStorage({ root: store.root }) }))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      for (const [path, body] of [['/api/push', { model: `${longHost}/team/m:latest` }], ['/api/show', { model: `${longHost}/team/m:latest` }]] as const) {
        const response = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) })
        assert.equal(response.status, 400, `${path}: ${await response.clone().text()}`)
        assert.match(((await response.json()) as { error: string }).error, /too long/)
      }
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
