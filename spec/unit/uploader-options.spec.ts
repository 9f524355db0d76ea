// OciRegistryUploader options: checked once at construction with every problem in one TypeError,
// defaults applied to a resolved copy, the caller's objects neither cloned nor mutated.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { OciRegistryUploader } from '../../lib/registry/oci-uploader.js'
import { resolveUploaderOptions } from '../../lib/registry/options.js'
import { DEFAULT_USER_AGENT, PACKAGE_VERSION } from '../../lib/registry/version.js'
import { backoffMs, parseRetryAfter } from '../../lib/registry/retry.js'

describe('OciRegistryUploader options', () => {
  it('defaults', () => {
    const resolved = resolveUploaderOptions(undefined)
    assert.deepEqual(resolved, { ca: undefined, logger: undefined, userAgent: DEFAULT_USER_AGENT, timeoutMs: 60_000, retries: 8, retryDelayMs: 250, maxSockets: 16, minPartSize: 100_000_000, maxPartSize: 1_000_000_000, proxy: undefined, ollamaKey: undefined, ollamaHosts: ['registry.ollama.ai', '*.registry.ollama.ai', 'ollama.com', '*.ollama.com'] })
    assert.match(DEFAULT_USER_AGENT, /^express-model-push\/\d+\.\d+\.\d+/)
    assert.notEqual(PACKAGE_VERSION, '0.0.0')
  })

  it('keeps the logger object and does not mutate the options', () => {
    const logger = { debug: () => undefined }
    const options = Object.freeze({ logger, ca: Object.freeze(['pem-a', Buffer.from('pem-b')]), retries: 0 })
    const resolved = resolveUploaderOptions(options as never)
    assert.equal(resolved.logger, logger)
    assert.equal(resolved.retries, 0)
    assert.deepEqual(resolved.ca, ['pem-a', Buffer.from('pem-b')])
    assert.deepEqual(resolveUploaderOptions({ ca: 'one' }).ca, ['one'])
  })

  it('part bounds and proxy: checked, min ≤ max, a URL or false', () => {
    assert.equal(resolveUploaderOptions({ maxPartSize: 5_000_000 }).maxPartSize, 5_000_000)
    assert.deepEqual(
      [resolveUploaderOptions({ minPartSize: 10, maxPartSize: 20 }).minPartSize, resolveUploaderOptions({ minPartSize: 2_000_000_000 }).maxPartSize],
      [10, 2_000_000_000],
    )
    assert.throws(() => resolveUploaderOptions({ minPartSize: 20, maxPartSize: 10 }), /maxPartSize/)
    assert.throws(() => resolveUploaderOptions({ minPartSize: 0 }), /minPartSize/)
    assert.equal(resolveUploaderOptions({ proxy: false }).proxy, false)
    assert.equal(resolveUploaderOptions({ proxy: 'http://127.0.0.1:3128' }).proxy, 'http://127.0.0.1:3128')
    assert.throws(() => resolveUploaderOptions({ proxy: 'socks5://x:1' }), /proxy/)
    assert.throws(() => resolveUploaderOptions({ proxy: true } as never), /proxy/)
  })

  it('rejects unknown keys with a hint, and reports every problem at once', () => {
    assert.throws(() => new OciRegistryUploader({ retry: 3 } as never), (error: unknown) => {
      assert.ok(error instanceof TypeError)
      assert.match(error.message, /"retry" is not an option of OciRegistryUploader \(known options: .*retries/)
      return true
    })
    assert.throws(
      () => new OciRegistryUploader({ retries: -1, timeoutMs: 0, ca: 42, logger: { warn: 'loud' }, userAgent: '' } as never),
      (error: unknown) => {
        assert.ok(error instanceof TypeError)
        for (const part of ['retries', 'timeoutMs', 'ca', 'logger', 'userAgent']) assert.match(error.message, new RegExp(part))
        return true
      },
    )
    assert.throws(() => new OciRegistryUploader([] as never), TypeError)
  })
})

describe('retry timing', () => {
  it('backs off exponentially with jitter, capped, and lets Retry-After win when longer', () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const full = 100 * 2 ** attempt
      const delay = backoffMs(attempt, 100)
      assert.ok(delay >= full / 2 && delay <= full, `${attempt}: ${delay}`)
    }
    assert.ok(backoffMs(20, 250) <= 10_000)
    assert.equal(backoffMs(0, 0, 1500), 1500)
  })

  it('parses Retry-After seconds and dates, bounded', () => {
    assert.equal(parseRetryAfter('2'), 2000)
    assert.equal(parseRetryAfter('100000'), 30_000)
    assert.equal(parseRetryAfter(new Date(1_000_000 + 5_000).toUTCString(), 1_000_000), 5_000)
    assert.equal(parseRetryAfter(undefined), undefined)
    assert.equal(parseRetryAfter('soon'), undefined)
  })
})
