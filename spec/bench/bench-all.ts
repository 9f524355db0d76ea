/**
 * `npm run bench`: the push benchmark (push-bench.ts, arguments passed through), then the shared-
 * layer cases of issue #6 (shared-layer-bench.ts). Exits non-zero when either does.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const run = (file: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(here, file), ...args], { stdio: 'inherit' }).status ?? 1
const args = process.argv.slice(2)
const main = run('push-bench.ts', args)
const shared = args.includes('--help') ? 0 : run('shared-layer-bench.ts', [])
process.exitCode = main !== 0 ? main : shared
