// WWW-Authenticate parsing (RFC 7235 §2.1/§4.1): several challenges per header, quoted strings with
// escapes and commas, case-insensitive schemes and parameter names, token68, and real registry headers.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseChallenges } from '../../lib/registry/challenge.js'

describe('parseChallenges', () => {
  it('parses a Basic challenge', () => {
    assert.deepEqual(parseChallenges('Basic realm="basic-realm"'), [{ scheme: 'basic', params: { realm: 'basic-realm' } }])
  })

  it("parses distribution's Bearer challenge, commas and colons inside quotes included", () => {
    const header =
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/llama:pull,push",error="insufficient_scope"'
    assert.deepEqual(parseChallenges(header), [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example.com/token',
          service: 'registry.example.com',
          scope: 'repository:team/llama:pull,push',
          error: 'insufficient_scope',
        },
      },
    ])
  })

  it("parses RFC 7235's example with two challenges and escaped quotes", () => {
    const header = 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'
    assert.deepEqual(parseChallenges(header), [
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ])
  })

  it('treats schemes and parameter names case-insensitively, values as given', () => {
    assert.deepEqual(parseChallenges('BEARER Realm="https://A.example/Token", SERVICE=Reg'), [
      { scheme: 'bearer', params: { realm: 'https://A.example/Token', service: 'Reg' } },
    ])
  })

  it('allows whitespace around "=" (BWS) and between parameters', () => {
    assert.deepEqual(parseChallenges('Bearer   realm = "r" ,  service =s'), [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }])
  })

  it('unescapes any quoted-pair, including backslashes', () => {
    assert.deepEqual(parseChallenges('Basic realm="a\\\\b\\c"'), [{ scheme: 'basic', params: { realm: 'a\\bc' } }])
  })

  it('parses token68 challenges, alone or followed by another challenge', () => {
    assert.deepEqual(parseChallenges('Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag=='), [{ scheme: 'negotiate', params: {}, token68: 'YIIBhgYGKwYBBQUCoIIBejCCAXag==' }])
    assert.deepEqual(parseChallenges('Negotiate abc+/=, Basic realm="x"'), [
      { scheme: 'negotiate', params: {}, token68: 'abc+/=' },
      { scheme: 'basic', params: { realm: 'x' } },
    ])
  })

  it('parses a scheme without parameters followed by another challenge', () => {
    assert.deepEqual(parseChallenges('Negotiate, Basic realm="x", Bearer realm="y",scope="a,b"'), [
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'y', scope: 'a,b' } },
    ])
  })

  it('accepts several header lines (as an array, or joined with ", ")', () => {
    const lines = ['Basic realm="x"', 'Bearer realm="https://t/token",service="s"']
    const expected = [
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
    ]
    assert.deepEqual(parseChallenges(lines), expected)
    assert.deepEqual(parseChallenges(lines.join(', ')), expected)
  })

  it('keeps the first of duplicated parameters', () => {
    assert.deepEqual(parseChallenges('Basic realm="first", realm="second"'), [{ scheme: 'basic', params: { realm: 'first' } }])
  })

  it('keeps a parameter named __proto__ as a plain own property', () => {
    const [challenge] = parseChallenges('Basic __proto__="x", realm="r"')
    assert.equal(Object.getPrototypeOf(challenge!.params), Object.prototype)
    assert.equal(Object.hasOwn(challenge!.params, '__proto__'), true)
    assert.equal(challenge!.params.realm, 'r')
  })

  it('returns [] for empty or missing headers and never throws on garbage', () => {
    assert.deepEqual(parseChallenges(undefined), [])
    assert.deepEqual(parseChallenges(''), [])
    assert.deepEqual(parseChallenges('  ,, '), [])
    for (const garbage of ['Basic realm="unterminated', '=== , "x"', 'Bearer realm=', '",,"', 'Basic realm="a" junk "b", Bearer realm="ok"']) {
      assert.doesNotThrow(() => parseChallenges(garbage), garbage)
    }
    // `realm=` alone is a valid token68 by the grammar; what matters is that it is not a realm.
    assert.equal(parseChallenges('Bearer realm=, service="s"')[0]?.params.realm, undefined)
    assert.deepEqual(
      parseChallenges('Basic realm="a" junk "b", Bearer realm="ok"').map((c) => c.scheme),
      ['basic', 'bearer'],
    )
  })
})
