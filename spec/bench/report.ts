/**
 * Summaries, the results table (console text, Markdown, JSON) and the rewrite of the results
 * section of docs/performance.md.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join } from 'node:path'

const MiB = 1024 * 1024

/** One measured run. */
export interface Sample {
  ms: number
  /** Peak RSS of the pushing process, KiB (when measured). */
  rssKiB?: number | undefined
  /** CPU time (user + system) of the pushing process, ms (when measured). */
  cpuMs?: number | undefined
  /** Longest event-loop stall seen by the pushing process, ms (Node pushers). */
  loopMaxMs?: number | undefined
  /** CPU time the discarding registry spent on the run, ms. */
  sinkCpuMs?: number | undefined
}

export interface Row {
  id: string
  label: string
  /** Bytes each run moves (0: not a throughput row). */
  bytes: number
  /** Row whose median time this row's median is compared with. */
  ratioTo?: string | undefined
  samples: Sample[]
  note?: string | undefined
}

export interface RowSummary {
  id: string
  label: string
  runs: number
  medianMs: number
  minMs: number
  maxMs: number
  mibPerSecond: number | undefined
  ratio: number | undefined
  ratioTo: string | undefined
  rssMedianMiB: number | undefined
  rssMaxMiB: number | undefined
  cpuMedianMs: number | undefined
  sinkCpuMedianMs: number | undefined
  loopMaxMs: number | undefined
  note: string | undefined
}

export interface Target {
  target: string
  measured: string
  pass: boolean | undefined
}

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  os: string
  node: string
  registry: string
  skopeo: string | undefined
  curl: string
  tmpFilesystem: string
  date: string
  /** 1-minute load average when the bench started and ended (other work on the machine skews results). */
  load: { start: number; end?: number | undefined }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function defined(values: ReadonlyArray<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined && Number.isFinite(value))
}

export function summarize(rows: readonly Row[]): RowSummary[] {
  const medians = new Map(rows.map((row) => [row.id, median(row.samples.map((s) => s.ms))]))
  return rows
    .filter((row) => row.samples.length > 0)
    .map((row) => {
      const times = row.samples.map((s) => s.ms)
      const medianMs = median(times)
      const rss = defined(row.samples.map((s) => s.rssKiB))
      const cpu = defined(row.samples.map((s) => s.cpuMs))
      const loop = defined(row.samples.map((s) => s.loopMaxMs))
      const sink = defined(row.samples.map((s) => s.sinkCpuMs))
      const base = row.ratioTo === undefined ? undefined : medians.get(row.ratioTo)
      return {
        id: row.id,
        label: row.label,
        runs: times.length,
        medianMs,
        minMs: Math.min(...times),
        maxMs: Math.max(...times),
        mibPerSecond: row.bytes > 0 ? row.bytes / MiB / (medianMs / 1000) : undefined,
        ratio: base === undefined || !Number.isFinite(base) ? undefined : medianMs / base,
        ratioTo: row.ratioTo,
        rssMedianMiB: rss.length > 0 ? median(rss) / 1024 : undefined,
        rssMaxMiB: rss.length > 0 ? Math.max(...rss) / 1024 : undefined,
        cpuMedianMs: cpu.length > 0 ? median(cpu) : undefined,
        sinkCpuMedianMs: sink.length > 0 ? median(sink) : undefined,
        loopMaxMs: loop.length > 0 ? Math.max(...loop) : undefined,
        note: row.note,
      }
    })
}

function time(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}

function cells(row: RowSummary, labels: ReadonlyMap<string, string>): string[] {
  return [
    row.label,
    String(row.runs),
    time(row.medianMs),
    `${time(row.minMs)} – ${time(row.maxMs)}`,
    row.mibPerSecond === undefined ? '—' : row.mibPerSecond.toFixed(0),
    row.ratio === undefined ? '—' : `${row.ratio.toFixed(3)}×${row.ratioTo === 'baseline' ? '' : ` ${labels.get(row.ratioTo ?? '') ?? row.ratioTo}`}`,
    row.rssMedianMiB === undefined ? '—' : row.runs > 1 && row.rssMaxMiB !== undefined && row.rssMaxMiB - row.rssMedianMiB >= 0.1 ? `${row.rssMedianMiB.toFixed(1)} (max ${row.rssMaxMiB.toFixed(1)})` : row.rssMedianMiB.toFixed(1),
    row.cpuMedianMs === undefined ? '—' : time(row.cpuMedianMs),
    row.sinkCpuMedianMs === undefined ? '—' : time(row.sinkCpuMedianMs),
    row.loopMaxMs === undefined ? '—' : row.loopMaxMs.toFixed(0),
  ]
}

const HEADERS = ['scenario', 'runs', 'median', 'min – max', 'MiB/s', 'ratio (to baseline)', 'peak RSS MiB', 'pusher CPU', 'registry CPU', 'loop max ms']

export function textTable(rows: readonly RowSummary[]): string {
  const labels = new Map(rows.map((row) => [row.id, row.label]))
  const body = rows.map((row) => cells(row, labels))
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...body.map((line) => line[i]!.length)))
  const line = (values: readonly string[]) => values.map((value, i) => (i === 0 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!))).join('  ')
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

export function markdownTable(rows: readonly RowSummary[]): string {
  const labels = new Map(rows.map((row) => [row.id, row.label]))
  const escape = (text: string) => text.replace(/\|/g, '\\|')
  return [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${cells(row, labels).map(escape).join(' | ')} |`),
  ].join('\n')
}

export function markdownTargets(targets: readonly Target[]): string {
  return [
    '| target | measured | result |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.pass === undefined ? 'not measured' : t.pass ? '**pass**' : '**FAIL**'} |`),
  ].join('\n')
}

export function textTargets(targets: readonly Target[]): string {
  return targets.map((t) => `${t.pass === undefined ? ' n/a' : t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.measured}`).join('\n')
}

export function machineInfo(skopeo: string | undefined): Machine {
  const cpuinfo = readText('/proc/cpuinfo')
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown'
  const osRelease = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readText('/etc/os-release'))?.[1] ?? os.type()
  const df = spawnSync('df', ['-T', os.tmpdir()], { encoding: 'utf8' }).stdout.trim().split('\n')[1]?.split(/\s+/)
  return {
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: os.release(),
    os: osRelease,
    node: process.version,
    registry: firstLine('docker-registry', ['--version']) ?? 'unknown',
    skopeo,
    curl: firstLine('curl', ['--version'])?.split(' ').slice(0, 2).join(' ') ?? 'unknown',
    tmpFilesystem: df ? `${os.tmpdir()} on ${df[1]} (${df[0]})` : os.tmpdir(),
    date: new Date().toISOString(),
    load: { start: os.loadavg()[0]! },
  }
}

export function markdownMachine(machine: Machine): string {
  return [
    `- CPU: ${machine.cpu}, ${machine.cores} cores; RAM ${machine.memoryGiB} GiB`,
    `- OS: ${machine.os}, kernel ${machine.kernel}; temp dir ${machine.tmpFilesystem}`,
    `- Node ${machine.node}; ${machine.registry}; ${machine.skopeo ?? 'skopeo not installed'}; ${machine.curl}`,
    `- Date: ${machine.date}; 1-minute load average ${machine.load.start.toFixed(2)} at the start${machine.load.end === undefined ? '' : `, ${machine.load.end.toFixed(2)} at the end`}`,
  ].join('\n')
}

export const DOCS_START = '<!-- bench-results:start (written by npm run bench; do not edit by hand) -->'
export const DOCS_END = '<!-- bench-results:end -->'

/** Replace what lies between the markers of `file` with `section`. */
export async function rewriteDocsSection(file: string, section: string): Promise<boolean> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return false
  }
  const start = text.indexOf(DOCS_START)
  const end = text.indexOf(DOCS_END)
  if (start < 0 || end < start) return false
  await writeFile(file, `${text.slice(0, start + DOCS_START.length)}\n${section.trim()}\n${text.slice(end)}`)
  return true
}

export async function writeResults(dir: string, json: unknown, markdown: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(json, null, 2)}\n`)
  await mkdir(dirname(join(dir, 'results.md')), { recursive: true })
  await writeFile(join(dir, 'results.md'), `${markdown.trim()}\n`)
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function firstLine(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.status !== 0) return undefined
  return `${result.stdout}${result.stderr}`.trim().split('\n')[0]
}
