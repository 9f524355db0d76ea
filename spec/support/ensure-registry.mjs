#!/usr/bin/env node
// `npm test`'s pretest: make sure the tools the integration tests run are installed.
//   docker-registry  Debian's distribution 2.8 (package docker-registry), started by spec/support/registry.ts
//   openssl          makes the per-run self-signed certificates (spec/support/certs.ts)
// Silent and instant when both are on PATH. Otherwise installs them with apt-get when running as
// root, or exits 1 saying what to install. The package's init script is kept from starting a
// service on :5000 (the tests never use fixed ports, but nothing should linger there either).
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, unlinkSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

const registryBinary = process.env.DOCKER_REGISTRY_BIN ?? 'docker-registry'
const tools = [
  { binary: registryBinary, pkg: 'docker-registry' },
  { binary: 'openssl', pkg: 'openssl' },
]

const missing = tools.filter((tool) => !onPath(tool.binary))
if (missing.length === 0) process.exit(0)

const packages = [...new Set(missing.map((tool) => tool.pkg))]
const names = missing.map((tool) => tool.binary).join(', ')
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
if (!isRoot || !onPath('apt-get')) {
  console.error(
    `express-model-push tests need ${names}, which ${missing.length === 1 ? 'is' : 'are'} not on PATH.\n` +
      `Install (Debian/Ubuntu): sudo apt-get install -y --no-install-recommends ${packages.join(' ')}\n` +
      (registryBinary === 'docker-registry' ? '' : `(DOCKER_REGISTRY_BIN is set to ${registryBinary})\n`),
  )
  process.exit(1)
}

// invoke-rc.d and deb-systemd-invoke consult policy-rc.d; exit 101 means "do not start services".
// Put one in place only for the install, and only if there is none already.
const policy = '/usr/sbin/policy-rc.d'
const ownPolicy = !existsSync(policy)
if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# temporary: express-model-push ensure-registry.mjs\nexit 101\n', { mode: 0o755 })
try {
  console.error(`installing ${packages.join(' ')} for the integration tests…`)
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages])
} finally {
  if (ownPolicy) unlinkSync(policy)
}

const stillMissing = tools.filter((tool) => !onPath(tool.binary))
if (stillMissing.length > 0) {
  console.error(`still missing after apt-get install: ${stillMissing.map((tool) => tool.binary).join(', ')}`)
  process.exit(1)
}

function run(command, args) {
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  if (result.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`)
    process.exit(1)
  }
}

/** Whether `binary` (a name or a path) is an executable file, without spawning anything. */
function onPath(binary) {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, binary))
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
