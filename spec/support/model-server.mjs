// A model router in a process of its own, for measuring the server alone (peak RSS while ingesting).
// Usage: node [--import tsx] spec/support/model-server.mjs <package entry> <models dir>
// The entry is lib/index.ts (under tsx) or dist/index.js. Prints `{"port":N}` once listening, then
// answers each stdin line with `{"hwmKiB":N,"rssKiB":N}` from /proc/self/status. Exits when stdin ends.
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import path from 'node:path'
import express from 'express'

const [entry, root] = process.argv.slice(2)
if (!entry || !root) throw new Error('usage: model-server.mjs <package entry> <models dir>')
const { createModelRouter, FilesystemStorage } = await import(pathToFileURL(path.resolve(entry)).href)
const app = express()
app.use(createModelRouter({ storage: new FilesystemStorage({ root }) }))
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})

async function memory() {
  const status = await readFile('/proc/self/status', 'utf8')
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN)
  return { hwmKiB: field('VmHWM'), rssKiB: field('VmRSS') }
}

for await (const _line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await memory())}\n`)
}
server.closeAllConnections()
server.close()
