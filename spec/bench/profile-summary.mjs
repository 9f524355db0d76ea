#!/usr/bin/env node
// @ts-check
/**
 * Summarise a V8 `.cpuprofile` (from `npm run bench -- --profile`, or `node --cpu-prof`): self time
 * per function and per file, heaviest first, so a hot spot in the push path shows at a glance.
 *
 *   node spec/bench/profile-summary.mjs <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs'

const [file, topText] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: profile-summary.mjs <file.cpuprofile> [top]\n')
  process.exit(2)
}
const top = Number(topText ?? 25)
process.stdout.on('error', () => process.exit(0)) // e.g. piped into head
/** @type {{nodes: Array<{id: number, callFrame: {functionName: string, url: string, lineNumber: number}, hitCount?: number}>, samples: number[], timeDeltas: number[], startTime: number, endTime: number}} */
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
/** @type {Map<number, number>} node id -> µs */
const self = new Map()
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
}
const total = profile.endTime - profile.startTime
/** @type {Map<string, number>} */
const byFunction = new Map()
/** @type {Map<string, number>} */
const byFile = new Map()
for (const [id, us] of self) {
  const frame = byId.get(id)?.callFrame
  if (!frame) continue
  const where = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/dist\//, 'dist/')
  const name = `${frame.functionName || '(anonymous)'}  ${where || '(native)'}${frame.url ? `:${frame.lineNumber + 1}` : ''}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + us)
  const fileKey = where || `(${frame.functionName})`
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us)
}
/** @param {Map<string, number>} map @param {string} title */
function print(map, title) {
  process.stdout.write(`\n${title}\n`)
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(1).padStart(9)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}\n`)
  }
}
process.stdout.write(`${file}: ${(total / 1000).toFixed(0)} ms profiled\n`)
print(byFunction, 'self time by function')
print(byFile, 'self time by file')
