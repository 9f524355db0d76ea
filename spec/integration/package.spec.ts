// The package as npm installs it: `npm pack` of the built tree, installed with production
// dependencies only into a temp app, then imported (ESM), required (CommonJS, Node 20.19+), its bin
// run, and `npm start` killed through npm's own pid (the server must not outlive it).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { killSpawned, PACKAGE_ROOT, spawnProcess } from '../support/server-process.js'

const run = promisify(execFile)
const LIMIT = { timeout: 120_000 }

describe('the packed package', () => {
  let dir: string
  let files: string[]
  let installed: string

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'emp-pack-'))
    // dist is already built by the test script; --ignore-scripts skips prepack's second build.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: PACKAGE_ROOT })
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
    files = packed!.files.map((f) => f.path)
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true }))
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', `./${packed!.filename}`, 'express@5'], { cwd: dir })
    installed = path.join(dir, 'node_modules/express-model-push')
  }, LIMIT)
  after(async () => {
    killSpawned()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('ships dist, docs, LICENSE and the prestart script; no sources, no source maps', () => {
    for (const file of ['LICENSE', 'README.md', 'dist/server.js', 'dist/index.js', 'dist/index.d.ts', 'dist/contract/index.js', 'scripts/prestart.mjs', 'docs/errors.md']) {
      assert.ok(files.includes(file), `${file} is packed`)
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.map') || f.startsWith('lib/') || f.startsWith('spec/')), [])
  })

  it('imports as ESM and requires as CommonJS', LIMIT, async () => {
    const esm = await run(process.execPath, ['--input-type=module', '-e', "import { createPushRouter, FilesystemStorage } from 'express-model-push'; import { storageAdapterContract } from 'express-model-push/contract'; console.log(typeof createPushRouter, typeof FilesystemStorage, typeof storageAdapterContract)"], { cwd: dir })
    assert.equal(esm.stdout.trim(), 'function function function')
    const cjs = await run(process.execPath, ['-e', "const { createPushRouter, MemoryStorage } = require('express-model-push'); const express = require('express'); express().use(createPushRouter({ storage: new MemoryStorage() })); console.log(typeof createPushRouter)"], { cwd: dir })
    assert.equal(cjs.stdout.trim(), 'function')
    assert.equal(cjs.stderr, '', 'no warning on require()')
  })

  it('runs its bin with plain node', LIMIT, async () => {
    const help = await run(path.join(dir, 'node_modules/.bin/express-model-push'), ['--help'], { cwd: dir })
    assert.match(help.stdout, /^Usage: express-model-push/)
    assert.match(help.stdout, /OLLAMA_MODELS/)
  })

  it('`npm start` in the installed package serves, and stops with npm (no server left behind)', LIMIT, async () => {
    assert.ok(!(await readdir(installed)).includes('lib'), 'nothing to build: prestart must not need devDependencies')
    const npm = spawnProcess('npm', ['start'], { PORT: '0', OLLAMA_MODELS: dir }, installed)
    const line = await npm.waitForLine(/ info listening on http:\/\//)
    const pid = Number(/ pid=(\d+)/.exec(line)![1])
    assert.notEqual(pid, npm.child.pid)
    const response = await fetch(/(http:\/\/\S+)/.exec(line)![1]!)
    assert.equal(response.status, 200)
    npm.child.kill('SIGTERM')
    await npm.exited
    const alive = (() => {
      try {
        return process.kill(pid, 0)
      } catch {
        return false
      }
    })()
    if (alive) process.kill(pid, 'SIGKILL') // a left-behind server would also keep this test's pipes open
    assert.equal(alive, false, 'the server process is gone with npm')
    assert.match(npm.stderr(), / info stopped/)
  })
})
