/**
 * `npm run bench:shared` (also the last part of `npm run bench`): the two cases of issue #6 §4,
 * against one fresh Debian docker-registry, with the library (`pushModel`, FilesystemStorage,
 * OciRegistryUploader) in this process:
 * 1. a second model sharing a 1 GiB layer with one already pushed to another repository of the
 *    same registry: through the same uploader (it remembers where it saw the blob) and through a
 *    fresh one (the layer's `from` in the stored manifest) — target ≤ 0.2 s each;
 * 2. two concurrent pushes (one uploader) of two models sharing a fresh 1 GiB layer in one
 *    repository, against one push of a fresh 1 GiB model — target ≤ 1.1× (medians of `--rounds`,
 *    default 2, the two kinds interleaved in alternating order so disk and page-cache state hit both).
 * `--size SIZE` (MiB) changes the layer size for a quick look.
 */
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { FilesystemStorage, OciRegistryUploader, pushModel } from '../../lib/index.js'
import { goJson, makeOllamaStore } from '../support/ollama-store.js'
import { startRegistry } from '../support/registry.js'

const { values } = parseArgs({ options: { size: { type: 'string', default: '1024' }, rounds: { type: 'string', default: '2' } } })
const SIZE = Number(values.size) * 1024 * 1024
const ROUNDS = Math.max(1, Number(values.rounds))
const MODEL = 'application/vnd.ollama.image.model'

const registry = await startRegistry({ auth: 'none' })
const host = registry.host
const shared = { mediaType: MODEL, size: SIZE, seed: 'shared-1' }
const license = (text: string) => ({ mediaType: 'application/vnd.ollama.image.license', content: text })
const store = await makeOllamaStore([
  { name: `${host}/bench/base:v1`, layers: [shared] },
  { name: `${host}/bench/seen:v1`, layers: [shared, license('seen')] },
  {
    name: `${host}/bench/derived:v1`,
    layers: [shared, license('derived')],
    renderManifest: (manifest) => goJson({ ...manifest, layers: manifest.layers.map((layer, i) => (i === 0 ? { ...layer, from: 'bench/base:v1' } : layer)) }),
  },
  ...Array.from({ length: ROUNDS }, (_, round) => {
    const single = { mediaType: MODEL, size: SIZE, seed: `single-${round}` }
    const twin = { mediaType: MODEL, size: SIZE, seed: `twin-${round}` }
    return [
      { name: `${host}/single/r${round}:v1`, layers: [single] },
      { name: `${host}/twins/r${round}:a`, layers: [twin, license('a')] },
      { name: `${host}/twins/r${round}:b`, layers: [twin, license('b')] },
    ]
  }).flat(),
])
const storage = new FilesystemStorage({ root: store.root })

async function timed(label: string, pushes: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await pushes()
  const ms = performance.now() - started
  console.log(`${label.padEnd(70)} ${(ms / 1000).toFixed(3)} s`)
  return ms
}

async function push(name: string, uploader: OciRegistryUploader): Promise<void> {
  let last: string | undefined
  for await (const event of pushModel(name, { storage, uploader }, { insecure: true })) last = event.status
  if (last !== 'success') throw new Error(`${name}: no success`)
}

const uploader = new OciRegistryUploader()
const fresh = new OciRegistryUploader()
try {
  console.log(`layer ${SIZE / 1024 / 1024} MiB; registry ${host}`)
  await timed('one push (1 layer) to bench/base', () => push(`${host}/bench/base:v1`, uploader))
  const seen = await timed('second model, same uploader (mount from where it saw the blob)', () => push(`${host}/bench/seen:v1`, uploader))
  const derived = await timed('second model, fresh uploader (mount from the layer\'s `from`)', () => push(`${host}/bench/derived:v1`, fresh))
  const singles: number[] = []
  const pairs: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const single = async () => void singles.push(await timed(`round ${round + 1}: one push of a fresh layer`, () => push(`${host}/single/r${round}:v1`, uploader)))
    const pair = async () =>
      void pairs.push(
        await timed(`round ${round + 1}: two concurrent pushes sharing a fresh layer in one repository`, () =>
          Promise.all([push(`${host}/twins/r${round}:a`, uploader), push(`${host}/twins/r${round}:b`, uploader)]),
        ),
      )
    for (const step of round % 2 === 0 ? [single, pair] : [pair, single]) await step()
    const digest = store.model(`${host}/twins/r${round}:a`).layers[0]!.digest
    if ((await registry.blobDigest(`twins/r${round}`, digest)) !== digest) throw new Error('shared layer not in the registry')
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!
  const one = median(singles)
  const both = median(pairs)
  console.log('\ntargets')
  console.log(`  shared layer in another repository ≤ 0.2 s: ${(seen / 1000).toFixed(3)} s / ${(derived / 1000).toFixed(3)} s ${seen <= 200 && derived <= 200 ? 'pass' : 'FAIL'}`)
  console.log(`  two concurrent pushes ≤ 1.1× one push (medians): ${(both / one).toFixed(3)}× (${(both / 1000).toFixed(2)} s vs ${(one / 1000).toFixed(2)} s) ${both <= 1.1 * one ? 'pass' : 'FAIL'}`)
} finally {
  uploader.close()
  fresh.close()
  await store.remove()
  await registry.stop()
}
