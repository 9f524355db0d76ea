// `npm start` runs the built server with plain node. In a clone (lib/ present) it builds first; in
// an installed package (dist/ shipped, no lib/, maybe no devDependencies) there is nothing to build.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

if (existsSync('lib/server.ts')) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' })
} else if (!existsSync('dist/server.js')) {
  console.error('express-model-push: dist/server.js is missing; reinstall the package')
  process.exit(1)
}
