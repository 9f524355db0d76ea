/** Command-line arguments of `npm run bench -- …`. */
import { resolve as resolvePath } from 'node:path'
import { parseArgs } from 'node:util'

export const SCENARIOS = ['baseline', 'node-raw', 'library', 'http', 'skopeo', 'discard', 'repush', 'memory', 'concurrent', 'ingest'] as const
export type Scenario = (typeof SCENARIOS)[number]

export interface BenchArgs {
  /** Size of the big model blob, bytes. */
  size: number
  /** Measured runs per scenario. */
  runs: number
  /** Size of the big blob for the memory comparison, bytes; 0 skips it. */
  big: number
  /** Runs of the memory (big model) and concurrency scenarios. */
  bigRuns: number
  /** Number of models pushed at once through one server; 0 skips it. */
  concurrent: number
  /** Model blob size of each concurrent model, bytes. */
  concurrentSize: number
  /** Re-pushes measured after each library/HTTP run. */
  repush: number
  /** Scenarios to run. */
  only: ReadonlySet<Scenario>
  /** Write CPU profiles of the pushing processes to `<out>/profiles`. */
  profile: boolean
  /** Rewrite the results section of docs/performance.md (complete runs of dist/ only). */
  docs: boolean
  /** Output directory for results.json / results.md / profiles. */
  out: string
  /** Build of the package the pushing workers load (default dist/); for A/B runs of a patched copy. */
  dist: string | undefined
  /** A second build measured in the same run (extra library/HTTP rows, interleaved): A/B a patch. */
  compare: string | undefined
  /** Keep the temp store and registry storage (for poking at afterwards). */
  keep: boolean
}

export const USAGE = `usage: npm run bench -- [options]
  --size SIZE            big model blob (default 1G; K/M/G suffixes are binary)
  --runs N               measured runs per scenario (default 5)
  --big SIZE             model for the memory comparison (default 4G; 0 skips)
  --big-runs N           runs of the memory and concurrency scenarios (default 1)
  --concurrent N         models pushed at once through one server (default 20; 0 skips)
  --concurrent-size SIZE model blob of each concurrent model (default 48M)
  --repush N             re-pushes timed after each library/HTTP run (default 5)
  --only LIST            comma-separated subset of: ${SCENARIOS.join(', ')}
                         (ingest: raw and multipart POST /api/blobs of --size, runs --runs, against
                         sha256sum + cp + sync; --big once more for peak RSS; --only ingest skips the push)
  --profile              write --cpu-prof profiles of the pushing processes to <out>/profiles
  --no-docs              do not rewrite the results section of docs/performance.md (a run with
                         --only, --dist or --compare never does)
  --out DIR              results directory (default .bench)
  --dist DIR             load the package from DIR instead of dist/ (A/B a patched build)
  --compare DIR          also measure the package build in DIR (extra rows, same rounds): A/B a patch
  --keep                 keep the temp model store and registry storage`

export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim())
  if (!match) throw new Error(`not a size: ${JSON.stringify(text)} (e.g. 1G, 512M, 1048576)`)
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[(match[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  return Math.round(Number(match[1]) * 1024 ** power)
}

export function formatSize(bytes: number): string {
  for (const [unit, power] of [['G', 3], ['M', 2], ['K', 1]] as const) {
    const scale = 1024 ** power
    if (bytes >= scale) return `${bytes % scale === 0 ? bytes / scale : (bytes / scale).toFixed(2)} ${unit}iB`
  }
  return `${bytes} B`
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      size: { type: 'string', default: '1G' },
      runs: { type: 'string', default: '5' },
      big: { type: 'string', default: '4G' },
      'big-runs': { type: 'string', default: '1' },
      concurrent: { type: 'string', default: '20' },
      'concurrent-size': { type: 'string', default: '48M' },
      repush: { type: 'string', default: '5' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      out: { type: 'string', default: '.bench' },
      dist: { type: 'string' },
      compare: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const count = (name: string, text: string, min: number) => {
    const value = Number(text)
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}`)
    return value
  }
  const only = new Set<Scenario>()
  for (const item of (values.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(item)) throw new Error(`--only: unknown scenario ${JSON.stringify(item)} (known: ${SCENARIOS.join(', ')})`)
    only.add(item as Scenario)
  }
  const size = parseSize(values.size)
  if (size < 1024 * 1024) throw new Error('--size must be at least 1M')
  return {
    size,
    runs: count('runs', values.runs, 1),
    big: parseSize(values.big),
    bigRuns: count('big-runs', values['big-runs'], 1),
    concurrent: count('concurrent', values.concurrent, 0),
    concurrentSize: parseSize(values['concurrent-size']),
    repush: count('repush', values.repush, 0),
    only,
    profile: values.profile,
    // Only a complete run of the working tree's build replaces the documented table.
    docs: !values['no-docs'] && values.only === undefined && values.dist === undefined && values.compare === undefined,
    out: values.out,
    dist: values.dist === undefined ? undefined : resolvePath(values.dist),
    compare: values.compare === undefined ? undefined : resolvePath(values.compare),
    keep: values.keep,
  }
}
