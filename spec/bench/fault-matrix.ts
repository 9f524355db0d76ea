// The fault matrix of issue #8: N pushes (default 20) through createPushRouter to the real
// docker-registry under each fault, reporting how many succeed, whether the registry then holds the
// exact manifest and blobs, and how many upload sessions are left open in its storage.
//   cut         a TCP proxy cuts one PATCH per push at a random offset of the blob
//   503         an HTTP proxy answers 30 % of all registry requests 503
//   disconnect  the client drops /api/push at a random moment after the first byte progress; then
//               the same push again, undisturbed (must land byte-identical)
// Usage: tsx spec/bench/fault-matrix.ts [N] [seed]
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { FilesystemStorage, OciRegistryUploader } from '../../lib/index.js'
import { startCuttingProxy } from '../support/cutting-proxy.js'
import { seededRandom, startFaultProxy } from '../support/fault-proxy.js'
import { makeOllamaStore, MEDIA_TYPES } from '../support/ollama-store.js'
import { startApp } from '../support/push-app.js'
import { startRegistry, type StartedRegistry } from '../support/registry.js'

const PUSHES = Number(process.argv[2] ?? 20)
const random = seededRandom(Number(process.argv[3] ?? 8))
const SIZE = 8 * 1024 * 1024

interface OpenSessions {
  open: number
  /**
   * Of those, sessions holding bytes of a PATCH that was cut off: distribution 2.8 refuses to cancel
   * them (their `_state` offset is stale: BLOB_UPLOAD_INVALID), so no client can; the registry's
   * upload purging removes them.
   */
  cutOff: number
}

/** Sessions left open once the cancels in flight have landed (polls up to 5 s while any cancellable one is open). */
async function settledUploadSessions(registry: StartedRegistry): Promise<OpenSessions> {
  const until = Date.now() + 5_000
  for (;;) {
    const open = await registry.openUploads()
    let cutOff = 0
    for (const session of open) {
      const data = join(registry.storageDir, 'docker', 'registry', 'v2', 'repositories', session, 'data')
      if (((await stat(data).catch(() => undefined))?.size ?? 0) > 0) cutOff++
    }
    if (open.length === cutOff || Date.now() >= until) return { open: open.length, cutOff }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

interface Row {
  fault: string
  pushes: number
  succeeded: number
  identical: number
  leftOpen: OpenSessions
  note: string
}

async function run(fault: 'cut' | '503' | 'disconnect'): Promise<Row> {
  const registry = await startRegistry({ auth: 'none', relativeUrls: true })
  const [registryHost, registryPort] = registry.host.split(':')
  const cutter = fault === 'cut' ? await startCuttingProxy({ host: registryHost!, port: Number(registryPort) }, Math.floor(random() * SIZE)) : undefined
  const flaky = fault === '503' ? await startFaultProxy(registry.url, { rate: 0.3, seed: 8, retryAfterSeconds: 0 }) : undefined
  const host = cutter?.host ?? flaky?.host ?? registry.host
  const names = Array.from({ length: PUSHES }, (_, i) => `${host}/matrix/${fault.replace(/\d/g, 'x')}${i}:latest`)
  const store = await makeOllamaStore(names.map((name) => ({ name, layers: [{ mediaType: MEDIA_TYPES.model, size: SIZE }, { mediaType: MEDIA_TYPES.params, size: 80 }] })))
  const uploader = new OciRegistryUploader({ retryDelayMs: 5 })
  const app = await startApp({ storage: new FilesystemStorage({ root: store.root }), uploader })
  let succeeded = 0
  let identical = 0
  let aborted = 0
  try {
    for (const name of names) {
      if (fault === 'cut') cutter!.arm(Math.floor(random() * SIZE))
      if (fault === 'disconnect') {
        const controller = new AbortController()
        const response = await fetch(`${app.url}/api/push`, { method: 'POST', body: JSON.stringify({ model: name, insecure: true }), signal: controller.signal })
        const delayMs = Math.floor(random() * 40)
        try {
          for await (const chunk of response.body!) {
            if (String(Buffer.from(chunk)).includes('"completed"')) {
              await new Promise((resolve) => setTimeout(resolve, delayMs))
              controller.abort()
              aborted++
              break
            }
          }
        } catch {
          // the abort itself
        }
      }
      const response = await fetch(`${app.url}/api/push`, { method: 'POST', body: JSON.stringify({ model: name, insecure: true, stream: false }) })
      await response.text()
      if (response.status !== 200) continue
      succeeded++
      const model = store.models[name]!
      const repository = name.split('/').slice(1).join('/').split(':')[0]!
      let same = (await registry.getManifest(repository, 'latest')).bytes.equals(model.manifestBytes)
      for (const blob of model.blobs) same &&= (await registry.blobDigest(repository, blob.digest)) === blob.digest
      if (same) identical++
    }
    const leftOpen = await settledUploadSessions(registry)
    const note =
      fault === 'cut' ? `${cutter!.cuts} connections cut` : fault === '503' ? `${flaky!.stats.faults}/${flaky!.stats.requests} requests answered 503` : `${aborted} pushes dropped by the client mid-upload, then pushed again`
    return { fault, pushes: PUSHES, succeeded, identical, leftOpen, note }
  } finally {
    await app.close()
    uploader.close()
    await cutter?.close()
    await flaky?.close()
    await registry.stop()
    await store.remove()
  }
}

const rows: Row[] = []
for (const fault of ['cut', '503', 'disconnect'] as const) rows.push(await run(fault))
process.stdout.write('| fault | pushes | succeeded | byte-identical | upload sessions left open (of them: cut-off PATCH, not cancellable) | notes |\n|---|---|---|---|---|---|\n')
for (const row of rows) process.stdout.write(`| ${row.fault} | ${row.pushes} | ${row.succeeded} | ${row.identical} | ${row.leftOpen.open} (${row.leftOpen.cutOff}) | ${row.note} |\n`)
