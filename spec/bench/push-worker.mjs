#!/usr/bin/env node
// @ts-check
/**
 * The pushing process of the benchmark: plain `node` on the compiled package (`dist/`), so that its
 * peak RSS is the package's, not a TypeScript loader's. Spawned fresh for every measured run by
 * spec/bench/push-bench.ts, which talks to it with JSON lines (commands on stdin, answers on stdout).
 *
 *   node push-worker.mjs library <modelsRoot>   pushModel() with FilesystemStorage + OciRegistryUploader
 *   node push-worker.mjs server  <modelsRoot>   an Express app with createPushRouter() on 127.0.0.1:0
 *
 * Commands (one JSON object per line):
 *   {"cmd":"push","name":"host/ns/model:tag"}   library mode: push once; answers {ms, events, last, firstEventMs}
 *   {"cmd":"mark"}                              CPU time and event-loop delay are counted from here
 *   {"cmd":"stats"}                             {hwmKiB, rssKiB, cpuUserMs, cpuSystemMs, loopDelayMaxMs, loopDelayP99Ms}
 *   {"cmd":"reset-peak"}                        resets VmHWM to the current RSS (/proc/self/clear_refs)
 *   {"cmd":"exit"}
 * Every answer is one JSON line: {"ok":true,...} or {"ok":false,"error":"..."}.
 * Server mode first prints {"ready":true,"port":N}.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

const [mode, root] = process.argv.slice(2)
if ((mode !== 'library' && mode !== 'server') || !root) {
  process.stderr.write('usage: push-worker.mjs library|server <modelsRoot>\n')
  process.exit(2)
}

// EMP_BENCH_DIST: another build of the package (e.g. a patched copy of dist/) for A/B measurements.
const dist = process.env.EMP_BENCH_DIST ? pathToFileURL(`${resolve(process.env.EMP_BENCH_DIST)}/`) : new URL('../../dist/', import.meta.url)
const lib = await import(new URL('index.js', dist).href)
const storage = new lib.FilesystemStorage({ root })
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
let cpuMark = process.cpuUsage()

/** @param {object} message */
function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

/** @param {string} field */
function procStatusKiB(field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))
  return match ? Number(match[1]) : undefined
}

function stats() {
  const cpu = process.cpuUsage(cpuMark)
  return {
    hwmKiB: procStatusKiB('VmHWM'),
    rssKiB: procStatusKiB('VmRSS'),
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    loopDelayMaxMs: loop.max / 1e6,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
  }
}

let server
if (mode === 'server') {
  const { default: express } = await import('express')
  const app = express()
  app.disable('x-powered-by')
  app.use(lib.createPushRouter({ storage }))
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  server.keepAliveTimeout = 60_000
  send({ ready: true, port: server.address().port })
}

const uploader = mode === 'library' ? new lib.OciRegistryUploader() : undefined

/** Start of a measurement: CPU time and event-loop delay count from here (module loading excluded). */
function mark() {
  cpuMark = process.cpuUsage()
  loop.reset()
}

/** @param {string} name */
async function push(name) {
  if (uploader === undefined) throw new Error('push is a library-mode command')
  let events = 0
  let last
  let firstEventMs
  const started = performance.now()
  for await (const event of lib.pushModel(name, { storage, uploader }, { insecure: true })) {
    if (events === 0) firstEventMs = performance.now() - started
    events++
    last = event
  }
  const ms = performance.now() - started
  if (last?.status !== 'success') throw new Error(`push ended without success: ${JSON.stringify(last)}`)
  return { ms, events, last, firstEventMs }
}

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  if (line.trim() === '') continue
  let command
  try {
    command = JSON.parse(line)
    if (command.cmd === 'push') send({ ok: true, ...(await push(command.name)) })
    else if (command.cmd === 'stats') send({ ok: true, ...stats() })
    else if (command.cmd === 'mark') {
      mark()
      send({ ok: true })
    }
    else if (command.cmd === 'reset-peak') {
      writeFileSync('/proc/self/clear_refs', '5')
      loop.reset()
      send({ ok: true })
    } else if (command.cmd === 'exit') break
    else send({ ok: false, error: `unknown command ${JSON.stringify(command.cmd)}` })
  } catch (error) {
    send({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  }
}
uploader?.close()
server?.closeAllConnections()
server?.close()
process.exit(0)
