import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidRequestError } from '../../lib/errors.js'
import { validatePushBody } from '../../lib/http/push-request.js'

describe('validatePushBody', () => {
  it('applies Ollama defaults: stream true, insecure false, no credentials', () => {
    assert.deepEqual(validatePushBody({ model: 'team/llama:q4' }, true), {
      model: 'team/llama:q4',
      stream: true,
      insecure: false,
      credentials: undefined,
    })
  })

  it('accepts `name` when `model` is absent (the ollama client sends name), and prefers model', () => {
    assert.equal(validatePushBody({ name: 'a/b' }, true).model, 'a/b')
    assert.equal(validatePushBody({ model: 'x/y', name: 'a/b' }, true).model, 'x/y')
    assert.equal(validatePushBody({ model: '', name: 'a/b' }, true).model, 'a/b')
  })

  it('reads null as "not given", as Go\'s decoder does, and still refuses wrong types', () => {
    assert.deepEqual(validatePushBody({ model: 'm', name: null, stream: null, insecure: null, username: null, password: null }, false), {
      model: 'm',
      stream: true,
      insecure: false,
      credentials: undefined,
    })
    assert.equal(validatePushBody({ model: null, name: 'a/b' }, true).model, 'a/b')
    assert.throws(() => validatePushBody({ model: null }, true), /model is required/)
    assert.throws(() => validatePushBody({ model: 'm', stream: 0 }, true), /stream must be a boolean/)
    assert.throws(() => validatePushBody({ model: 'm', insecure: 'yes' }, true), /insecure must be a boolean/)
  })

  it('ignores unknown fields like Ollama does', () => {
    assert.equal(validatePushBody({ model: 'm', keep_alive: 5 }, true).model, 'm')
  })

  it('passes credentials through when allowed', () => {
    const request = validatePushBody({ model: 'm', username: 'u', password: 'p', stream: false, insecure: true }, true)
    assert.deepEqual(request.credentials, { username: 'u', password: 'p' })
    assert.equal(request.stream, false)
    assert.equal(request.insecure, true)
  })

  const bad: Array<[string, unknown, RegExp]> = [
    ['a missing model', {}, /model is required/],
    ['an empty model', { model: '' }, /model is required/],
    ['a numeric model', { model: 42 }, /model/],
    ['a string stream', { model: 'm', stream: 'true' }, /stream/],
    ['a numeric insecure', { model: 'm', insecure: 1 }, /insecure/],
    ['an array body', ['m'], /JSON object/],
    ['a null body', null, /JSON object/],
    ['a string body', 'm', /JSON object/],
    ['a username without password', { model: 'm', username: 'u' }, /together/],
    ['a password without username', { model: 'm', password: 'p' }, /together/],
  ]
  for (const [what, body, message] of bad) {
    it(`rejects ${what} with a 400 InvalidRequestError`, () => {
      assert.throws(() => validatePushBody(body, true), (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError)
        assert.equal(error.status, 400)
        assert.match(error.message, message)
        return true
      })
    })
  }

  it('never repeats a password in its message, even when its type is wrong', () => {
    const secret = { nested: 'hunter2-secret' }
    assert.throws(() => validatePushBody({ model: 'm', username: 'u', password: secret }, true), (error: Error) => {
      assert.doesNotMatch(error.message, /hunter2/)
      assert.match(error.message, /password/)
      return true
    })
  })

  it('refuses request credentials when the host disabled them', () => {
    assert.throws(() => validatePushBody({ model: 'm', username: 'u', password: 'p' }, false), /does not accept registry credentials/)
    assert.equal(validatePushBody({ model: 'm' }, false).credentials, undefined)
  })
})
