// parseBlobDigest: the only way a URL's :digest becomes a blob name. Both of Ollama's separators,
// either hex case, normalised; everything else (path tricks included) refused.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseBlobDigest } from '../../lib/http/blob-digest.js'

const hex = '0123456789abcdef'.repeat(4)

describe('parseBlobDigest', () => {
  it('accepts sha256: and sha256- with hex in either case, normalised to sha256:<lowercase>', () => {
    for (const input of [`sha256:${hex}`, `sha256-${hex}`, `sha256:${hex.toUpperCase()}`, `sha256-${hex.toUpperCase()}`]) {
      assert.equal(parseBlobDigest(input), `sha256:${hex}`, input)
    }
  })

  it('refuses anything else', () => {
    const refused: unknown[] = [
      undefined,
      null,
      42,
      '',
      'sha256:',
      `sha256:${hex.slice(1)}`,
      `sha256:${hex}0`,
      `sha256_${hex}`,
      `SHA256:${hex}`,
      `sha512:${hex}${hex}`,
      `sha256:${hex.slice(0, 63)}g`,
      `sha256:${hex}\n`,
      ` sha256:${hex}`,
      `../sha256:${hex}`,
      `sha256:${hex}/..`,
      `sha256:../../${hex.slice(6)}`,
    ]
    for (const input of refused) assert.equal(parseBlobDigest(input), undefined, JSON.stringify(input))
  })
})
