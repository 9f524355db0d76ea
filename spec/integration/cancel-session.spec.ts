// A push cancelled while it waits for the registry to open an upload session: the registry opens
// the session anyway (it got the POST), so the cancel must not leave it open. A proxy in front of
// the real registry holds POST answers back, so the cancel provably lands while the POST is in
// flight; the registry's storage then shows whether the session was closed.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AbortError, OciRegistryUploader } from '../../lib/index.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'
import { openUploadSessions, settledUploadSessions } from '../support/upload-sessions.js'

const HOLD_MS = 500

async function until(condition: () => boolean, what: string, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('cancelled while an upload session is being opened', () => {
  let registry: StartedRegistry
  let proxy: FaultProxy
  before(async () => {
    registry = await startRegistry({ auth: 'none', relativeUrls: true })
    proxy = await startFaultProxy(registry.url, { rate: 0, seed: 1, answerDelayMs: { POST: HOLD_MS } })
  })
  after(async () => {
    await proxy?.close()
    await registry?.stop()
  })

  it('the wait ends at once with AbortError, and the session the registry opened is DELETEd when its answer arrives', async () => {
    const uploader = new OciRegistryUploader({ retryDelayMs: 1 })
    const controller = new AbortController()
    try {
      const opening = uploader.open({ host: proxy.host, repository: 'team/cancelled', insecure: true }, { signal: controller.signal })
      await until(() => (proxy.stats.byMethod.POST ?? 0) >= 1, 'the POST to reach the proxy')
      // The registry has the session now (the proxy only holds its answer back).
      controller.abort()
      const abortedAt = Date.now()
      await assert.rejects(opening, AbortError)
      const waited = Date.now() - abortedAt
      assert.equal(proxy.stats.byMethod.DELETE ?? 0, 0, 'the cancel did not wait for the answer')
      // The held answer arrives; the session it names is closed.
      await until(() => (proxy.stats.byMethod.DELETE ?? 0) >= 1, 'the DELETE of the opened session')
      const sessions = await settledUploadSessions(registry.storageDir)
      assert.deepEqual(sessions, { open: 0, cutOff: 0 }, `sessions left open (the abort itself took ${waited} ms)`)
    } finally {
      uploader.close()
    }
  })

  it('(control) an answered POST whose session nobody closes stays open in the registry', async () => {
    const before = (await openUploadSessions(registry.storageDir)).open
    const response = await registry.request('/v2/team/control/blobs/uploads/', { method: 'POST' })
    assert.equal(response.status, 202)
    assert.equal((await openUploadSessions(registry.storageDir)).open, before + 1)
  })
})
