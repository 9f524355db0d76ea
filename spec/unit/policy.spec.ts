// The policy rules, one by one (lib/policy): host patterns, allowedRegistries, allowInsecure, and
// when the host app's credentials may travel.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PolicyError } from '../../lib/errors.js'
import { resolveOptions } from '../../lib/options.js'
import { hostMatches, isHostPattern } from '../../lib/policy/host-pattern.js'
import { assertRegistryAllowed } from '../../lib/policy/registry-allowed.js'
import { assertInsecureAllowed } from '../../lib/policy/insecure-allowed.js'
import { mayUseHostCredentials } from '../../lib/policy/host-credentials-allowed.js'

describe('host patterns', () => {
  it('match host, host:port and *.domain exactly, ports included', () => {
    assert.ok(hostMatches('registry.example.com', 'registry.example.com'))
    assert.ok(hostMatches('Registry.Example.COM', 'registry.example.com'))
    assert.ok(!hostMatches('registry.example.com:5000', 'registry.example.com'), 'host alone means no port')
    assert.ok(hostMatches('localhost:5000', 'localhost:5000'))
    assert.ok(!hostMatches('localhost:5001', 'localhost:5000'))
    assert.ok(!hostMatches('localhost', 'localhost:5000'))
    assert.ok(hostMatches('a.example.com', '*.example.com'))
    assert.ok(hostMatches('a.b.example.com', '*.example.com'))
    assert.ok(!hostMatches('example.com', '*.example.com'), 'the wildcard needs a sub-domain')
    assert.ok(!hostMatches('evilexample.com', '*.example.com'))
    assert.ok(!hostMatches('example.com.evil.net', '*.example.com'))
    assert.ok(hostMatches('a.example.com:8443', '*.example.com:8443'))
    assert.ok(!hostMatches('a.example.com:8443', '*.example.com'))
    assert.ok(hostMatches('[::1]:5000', '[::1]:5000'))
    assert.ok(!hostMatches('[::1]', '[::1]:5000'))
  })

  it('validation accepts the three forms and rejects the rest', () => {
    for (const good of ['registry.example.com', 'localhost:5000', '*.example.com', '*.example.com:443', '127.0.0.1:5000', '[::1]:5000']) assert.ok(isHostPattern(good), good)
    for (const bad of ['', '*', '*.', 'a/b', 'http://x', 'x:99999', 'a..b', '*.*.x', 'x:', '-x.com', ' x']) assert.ok(!isHostPattern(bad), bad)
  })
})

describe('allowedRegistries', () => {
  it('undefined allows every host', () => assertRegistryAllowed('anything:1', undefined))

  it('a list allows only its hosts; the 403 names the host', () => {
    assertRegistryAllowed('r.example.com', ['r.example.com'])
    assert.throws(() => assertRegistryAllowed('evil.net:8080', ['r.example.com', '*.example.com']), (error: unknown) => {
      assert.ok(error instanceof PolicyError)
      assert.equal(error.status, 403)
      assert.equal(error.code, 'PUSH_FORBIDDEN')
      assert.match(error.message, /"evil\.net:8080"/)
      return true
    })
  })

  it('a predicate decides; only `true` allows', () => {
    assertRegistryAllowed('a:1', (host) => host === 'a:1')
    assert.throws(() => assertRegistryAllowed('b:1', (host) => host === 'a:1'), PolicyError)
    assert.throws(() => assertRegistryAllowed('b:1', (() => 'yes') as unknown as () => boolean), PolicyError)
  })
})

describe('allowInsecure', () => {
  it('true lets any host be insecure; a secure push is never refused', () => {
    assertInsecureAllowed('x:1', true, true)
    assertInsecureAllowed('x:1', false, false)
    assertInsecureAllowed('x:1', false, [])
  })
  it('false refuses every insecure push', () => {
    assert.throws(() => assertInsecureAllowed('x:1', true, false), (error: unknown) => error instanceof PolicyError && error.status === 403 && /"x:1"/.test(error.message))
  })
  it('an array allows only its hosts', () => {
    assertInsecureAllowed('dev.local:5000', true, ['dev.local:5000'])
    assert.throws(() => assertInsecureAllowed('other.local:5000', true, ['dev.local:5000']), PolicyError)
  })
})

describe('host credentials on insecure pushes', () => {
  it('travel on secure pushes, and on insecure ones only to hosts listed in an allowInsecure array', () => {
    assert.equal(mayUseHostCredentials('r:1', false, true), true)
    assert.equal(mayUseHostCredentials('r:1', true, true), false, 'allowInsecure: true is not consent')
    assert.equal(mayUseHostCredentials('r:1', true, false), false)
    assert.equal(mayUseHostCredentials('r:1', true, ['other:1']), false)
    assert.equal(mayUseHostCredentials('r:1', true, ['r:1']), true)
  })
})

describe('policy options', () => {
  it('are validated once with the other options', () => {
    assert.throws(() => resolveOptions({ allowedRegistries: ['http://x'] }), /allowedRegistries\[0\]" must be a registry host pattern/)
    assert.throws(() => resolveOptions({ allowInsecure: 'yes' as unknown as boolean }), /allowInsecure/)
    assert.throws(() => resolveOptions({ allowedRegistries: ((a: string, b: string) => a === b) as unknown as () => boolean }), /allowedRegistries/)
    assert.equal(resolveOptions({}).allowInsecure, true)
    assert.equal(resolveOptions({}).allowedRegistries, undefined)
  })
  it('keep a copy of the caller\'s arrays', () => {
    const hosts = ['a.example.com']
    const resolved = resolveOptions({ allowedRegistries: hosts, allowInsecure: hosts })
    hosts.push('evil.net')
    assert.deepEqual(resolved.allowedRegistries, ['a.example.com'])
    assert.deepEqual(resolved.allowInsecure, ['a.example.com'])
  })
})
