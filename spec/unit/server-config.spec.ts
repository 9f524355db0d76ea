import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { resolveOptions } from '../../lib/options.js'
import { helpText, readServerConfig, routerOptionsFrom, SERVER_ENVIRONMENT } from '../../lib/server/config.js'
import { lineLogger } from '../../lib/server/logger.js'

describe('standalone server configuration', () => {
  it("defaults to Ollama's address and store", () => {
    assert.deepEqual(readServerConfig({}), {
      port: 11434,
      host: '127.0.0.1',
      models: path.join(os.homedir(), '.ollama', 'models'),
      logLevel: 'info',
      shutdownGraceMs: 8000,
    })
  })

  it('reads every variable; empty means default; OLLAMA_MODELS is trimmed as Ollama trims it', () => {
    const config = readServerConfig({ PORT: '0', HOST: ' 0.0.0.0 ', OLLAMA_MODELS: ' "/srv/models" ', LOG_LEVEL: 'DEBUG', SHUTDOWN_GRACE_MS: '250' })
    assert.deepEqual(config, { port: 0, host: '0.0.0.0', models: '/srv/models', logLevel: 'debug', shutdownGraceMs: 250 })
    assert.equal(readServerConfig({ PORT: '' }).port, 11434)
  })

  it('names every bad variable in one error', () => {
    assert.throws(() => readServerConfig({ PORT: '70000', LOG_LEVEL: 'loud', SHUTDOWN_GRACE_MS: '1.5' }), (error: Error) => {
      assert.ok(error instanceof TypeError)
      assert.match(error.message, /PORT must be an integer from 0 to 65535; LOG_LEVEL must be one of debug, info, warn, error, silent; SHUTDOWN_GRACE_MS must be an integer/)
      return true
    })
  })

  it('makes valid router options, with the runtime logger and signal', () => {
    const logger = {}
    const signal = new AbortController().signal
    const options = routerOptionsFrom(readServerConfig({ OLLAMA_MODELS: '/srv/models' }), { logger, signal })
    const resolved = resolveOptions(options, 'model')
    assert.equal(resolved.logger, logger)
    assert.equal(resolved.signal, signal)
    assert.equal((resolved.storage as { root?: string }).root, '/srv/models')
    assert.equal(resolved.maxBlobBytes, undefined)
    const env = { OLLAMA_KEY: '/keys/id_ed25519', OLLAMA_REGISTRY_HOSTS: 'registry.example.com:5000, *.models.example', OLLAMA_ACCOUNT_URL: 'http://127.0.0.1:9', MAX_BLOB_BYTES: '1024' }
    const fromEnv = routerOptionsFrom(readServerConfig(env), { logger, signal })
    assert.deepEqual([fromEnv.ollamaKey, fromEnv.ollamaHosts, fromEnv.ollamaAccountUrl, fromEnv.maxBlobBytes], ['/keys/id_ed25519', ['registry.example.com:5000', '*.models.example'], 'http://127.0.0.1:9', 1024])
    const again = resolveOptions(fromEnv, 'model')
    assert.deepEqual([again.ollamaKey.path, again.ollamaAccountUrl, again.maxBlobBytes], ['/keys/id_ed25519', 'http://127.0.0.1:9', 1024])
    assert.throws(() => readServerConfig({ MAX_BLOB_BYTES: 'lots' }), /MAX_BLOB_BYTES must be an integer/)
    const policy = routerOptionsFrom(readServerConfig({ ALLOWED_REGISTRIES: 'registry.example.com, *.corp.example', ALLOW_INSECURE: 'localhost:5000' }), { logger, signal })
    assert.deepEqual([policy.allowedRegistries, policy.allowInsecure], [['registry.example.com', '*.corp.example'], ['localhost:5000']])
    assert.equal(routerOptionsFrom(readServerConfig({ ALLOW_INSECURE: 'false' }), { logger, signal }).allowInsecure, false)
    assert.doesNotThrow(() => resolveOptions(policy, 'model'))
  })

  it('--help lists every variable with its default', () => {
    for (const variable of SERVER_ENVIRONMENT) assert.match(helpText(), new RegExp(`  ${variable.name} .*Default: ${variable.default.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.`))
  })

  it('the router refuses a signal that is not an AbortSignal', () => {
    assert.throws(() => resolveOptions({ signal: 'stop' as unknown as AbortSignal }), /"signal" must be an AbortSignal/)
  })
})

describe('lineLogger', () => {
  it('writes one key=value line per event at or above its level', () => {
    const lines: string[] = []
    const logger = lineLogger('info', (line) => lines.push(line))
    assert.equal(logger.debug, undefined)
    ;(logger as { debug?: (m: string) => void }).debug?.('registry request')
    logger.info?.('push finished', { model: 'h/ns/m:t', ms: 12, note: 'two words', nested: { a: 1 }, gone: undefined })
    logger.error?.('boom')
    assert.equal(lines.length, 2)
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z info push finished model=h\/ns\/m:t ms=12 note="two words" nested=\{"a":1\}\n$/)
    assert.match(lines[1]!, / error boom\n$/)
  })

  it('silent writes nothing; debug writes everything', () => {
    assert.deepEqual(Object.keys(lineLogger('silent', () => undefined)), [])
    assert.deepEqual(Object.keys(lineLogger('debug', () => undefined)), ['debug', 'info', 'warn', 'error'])
  })
})
