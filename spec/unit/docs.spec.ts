// The docs stay true to the code: every TypeScript sample in README.md and docs/ is a file under
// docs/examples/ (type-checked by `npm run typecheck`) quoted verbatim, the README's variable table
// is the server's, and docs/errors.md has a section per error code.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { ERROR_CODES } from '../../lib/errors.js'
import { SERVER_ENVIRONMENT } from '../../lib/server/config.js'
import { PACKAGE_ROOT } from '../support/server-process.js'

const read = (file: string) => readFileSync(path.join(PACKAGE_ROOT, file), 'utf8')
const markdown = ['README.md', ...readdirSync(path.join(PACKAGE_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const EXAMPLE = /^\/\/ example: (docs\/examples\/[\w.-]+\.ts)\n/

describe('docs', () => {
  const quoted = new Set<string>()
  for (const file of markdown) {
    it(`${file}: every TypeScript sample is a compiled example file, quoted exactly`, () => {
      for (const match of read(file).matchAll(/^```(?:ts|typescript)([^\n]*)\n([\s\S]*?)^```$/gm)) {
        const [, info, body] = match as unknown as [string, string, string]
        if (info.trim() === 'signatures') continue
        const marker = EXAMPLE.exec(body)
        assert.ok(marker, `${file}: a \`\`\`ts block without "// example: docs/examples/…" (or mark it \`\`\`ts signatures):\n${body.slice(0, 120)}`)
        quoted.add(marker[1]!)
        assert.equal(body.slice(marker[0].length), read(marker[1]!), `${file} quotes ${marker[1]} as it is`)
      }
    })
  }

  it('every file in docs/examples is quoted by a doc', () => {
    const examples = readdirSync(path.join(PACKAGE_ROOT, 'docs/examples')).filter((f) => f.endsWith('.ts'))
    assert.deepEqual(examples.map((f) => `docs/examples/${f}`).filter((f) => !quoted.has(f)), [])
  })

  it("README's table of environment variables is the server's", () => {
    const readme = read('README.md')
    for (const variable of SERVER_ENVIRONMENT) {
      assert.ok(readme.includes(`| \`${variable.name}\` | \`${variable.default}\` | ${variable.meaning} |`), `README row for ${variable.name}`)
    }
  })

  it('docs/errors.md has one section (anchor) per error code', () => {
    const headings = [...read('docs/errors.md').matchAll(/^### `([A-Z_]+)`$/gm)].map((m) => m[1])
    assert.deepEqual(headings.sort(), Object.keys(ERROR_CODES).sort())
  })
})
