// Registry answers and network failures → RegistryError (codes, statuses, retryable), and the
// redaction that keeps userinfo, `_state`, tokens and signatures out of messages and URLs.
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { describe, it } from 'node:test'
import axios from 'axios'
import { RegistryError } from '../../lib/errors.js'
import { isSecretParam, redactText, redactUrl } from '../../lib/registry/redact.js'
import {
  isCertificateError,
  isTlsProtocolError,
  parseRegistryErrors,
  registryErrorFromNetwork,
  registryErrorFromResponse,
} from '../../lib/registry/registry-error.js'
import { appendQueryParam } from '../../lib/registry/url.js'

const body = (...errors: Array<{ code: string; message?: string; detail?: unknown }>) => Buffer.from(JSON.stringify({ errors }))
const STATE = 'VEs1js5Za0v_s6ucdiyyeEDdQOTvQIBufOr72r9IZ5l7Ik5hbWUiOiJucy9tIiwiVVVJRCI6IjEifQ%3D%3D'
const UPLOAD_URL = `https://user:hunter2@registry.example.com:5000/v2/team/llama/blobs/uploads/0f70?_state=${STATE}&digest=sha256%3Aabc`

function mapped(status: number, payload?: Buffer | string) {
  return registryErrorFromResponse({ status, body: payload }, { action: 'push manifest team/llama:latest', url: UPLOAD_URL })
}

describe('parseRegistryErrors', () => {
  it('reads the OCI error envelope', () => {
    assert.deepEqual(parseRegistryErrors(body({ code: 'BLOB_UNKNOWN', message: 'blob unknown', detail: { digest: 'x' } })), [
      { code: 'BLOB_UNKNOWN', message: 'blob unknown', detail: { digest: 'x' } },
    ])
  })

  it('gives [] for anything else', () => {
    for (const other of [undefined, '', '<html>502 Bad Gateway</html>', 'null', '{"errors":"nope"}', '{"errors":[1,{"message":"no code"}]}']) {
      assert.deepEqual(parseRegistryErrors(other), [], String(other))
    }
  })
})

describe('registryErrorFromResponse', () => {
  it('401 → REGISTRY_UNAUTHORIZED, status 401', () => {
    const error = mapped(401, body({ code: 'UNAUTHORIZED', message: 'authentication required' }))
    assert.ok(error instanceof RegistryError)
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED')
    assert.equal(error.status, 401)
    assert.equal(error.source, 'registry')
    assert.equal(error.registryStatus, 401)
    assert.deepEqual(error.registryCodes, ['UNAUTHORIZED'])
    assert.equal(error.retryable, false)
  })

  it('403, or a DENIED code with another status → REGISTRY_DENIED, status 403', () => {
    for (const error of [mapped(403), mapped(400, body({ code: 'DENIED', message: 'requested access to the resource is denied' }))]) {
      assert.equal(error.code, 'REGISTRY_DENIED')
      assert.equal(error.status, 403)
    }
  })

  it('NAME_INVALID / TAG_INVALID → REGISTRY_FAILED with status 400', () => {
    for (const code of ['NAME_INVALID', 'TAG_INVALID']) {
      const error = mapped(400, body({ code, message: 'invalid' }))
      assert.equal(error.code, 'REGISTRY_FAILED')
      assert.equal(error.status, 400)
      assert.deepEqual(error.registryCodes, [code])
    }
  })

  it('5xx and 429 → REGISTRY_FAILED 502, retryable', () => {
    for (const status of [500, 502, 503, 504, 429]) {
      const error = mapped(status, '<html>busy</html>')
      assert.equal(error.code, 'REGISTRY_FAILED')
      assert.equal(error.status, 502)
      assert.equal(error.retryable, true, String(status))
      assert.equal(error.registryStatus, status)
    }
  })

  it('a lost upload session is retryable (the upload restarts from POST)', () => {
    for (const code of ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID']) assert.equal(mapped(404, body({ code })).retryable, true)
  })

  it('other client errors → REGISTRY_FAILED 502, not retryable', () => {
    const error = mapped(400, body({ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }))
    assert.equal(error.code, 'REGISTRY_FAILED')
    assert.equal(error.status, 502)
    assert.equal(error.retryable, false)
    assert.match(error.message, /DIGEST_INVALID: provided digest did not match uploaded content/)
    assert.match(error.message, /^push manifest team\/llama:latest: registry answered 400/)
  })

  it('redacts the URL: no userinfo, no _state, other parameters kept', () => {
    const error = mapped(500)
    assert.equal(error.url, 'https://registry.example.com:5000/v2/team/llama/blobs/uploads/0f70?digest=sha256%3Aabc')
  })

  it('scrubs secrets a registry echoes in its messages', () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwdXNoZXIifQ.c2lnbmF0dXJl'
    const error = mapped(
      401,
      body({ code: 'UNAUTHORIZED', message: `invalid token ${jwt} for Bearer ${jwt} at https://u:p@r.example/v2/x?_state=${STATE}&token=abc` }),
    )
    for (const secret of [jwt, STATE, 'u:p@', 'token=abc', '_state']) assert.ok(!error.message.includes(secret), secret)
  })
})

describe('registryErrorFromNetwork', () => {
  const context = { action: 'check blob sha256:abc', url: UPLOAD_URL, host: 'registry.example.com:5000' }
  const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code })

  it('connection refused / reset → REGISTRY_UNREACHABLE 502, retryable', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']) {
      const error = registryErrorFromNetwork(nodeError(code, `${code} 10.0.0.1:5000`), context)
      assert.equal(error.code, 'REGISTRY_UNREACHABLE')
      assert.equal(error.status, 502)
      assert.equal(error.retryable, true, code)
      assert.match(error.message, /cannot reach registry\.example\.com:5000/)
    }
  })

  it('host not found → not retryable', () => {
    const error = registryErrorFromNetwork(nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere'), context)
    assert.equal(error.retryable, false)
    assert.match(error.message, /host not found/)
  })

  it('certificate verification failures say so and point at `ca` and insecure', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      const error = registryErrorFromNetwork(nodeError(code, 'self-signed certificate'), context)
      assert.ok(isCertificateError(nodeError(code, '')))
      assert.equal(error.code, 'REGISTRY_UNREACHABLE')
      assert.equal(error.retryable, false)
      assert.match(error.message, /certificate verification failed/)
      assert.match(error.message, /`ca` option/)
      assert.match(error.message, /insecure/)
    }
  })

  it('a plain-http server on an https URL is a TLS protocol error', () => {
    const error = nodeError('EPROTO', 'write EPROTO 80DCC617E27F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number')
    assert.ok(isTlsProtocolError(error))
    assert.ok(!isTlsProtocolError(nodeError('ECONNRESET', 'socket hang up')))
    const mappedError = registryErrorFromNetwork(error, context)
    assert.match(mappedError.message, /does not speak TLS/)
    assert.equal(mappedError.retryable, false)
  })

  it('keeps a sanitised cause: code and message, never the request config or headers', () => {
    const axiosError = new axios.AxiosError(
      'connect ECONNREFUSED 127.0.0.1:5000',
      'ECONNREFUSED',
      { headers: new axios.AxiosHeaders({ Authorization: 'Bearer sekrit-token' }), url: UPLOAD_URL } as never,
    )
    const error = registryErrorFromNetwork(axiosError, context)
    assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED')
    const dump = inspect(error, { depth: 10 }) + JSON.stringify(error)
    for (const secret of ['sekrit-token', 'hunter2', STATE, 'Authorization']) assert.ok(!dump.includes(secret), secret)
  })
})

describe('redaction helpers', () => {
  it('redactUrl strips userinfo, fragments and token-like parameters, keeping the rest byte-for-byte', () => {
    assert.equal(
      redactUrl('https://a:b@s3.example.com/bucket/blob?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeef&X-Amz-Expires=600&partNumber=1#frag'),
      'https://s3.example.com/bucket/blob?X-Amz-Expires=600&partNumber=1',
    )
    assert.equal(redactUrl('https://auth.example.com/token?service=reg&scope=repository%3Aa%2Fb%3Apull&access_token=x'), 'https://auth.example.com/token?service=reg&scope=repository%3Aa%2Fb%3Apull')
    assert.equal(redactUrl('http://h/v2/?_state=abc'), 'http://h/v2/')
    assert.equal(redactUrl('not a url _state=abc'), 'not a url ')
  })

  it('isSecretParam recognises common secret parameter names', () => {
    for (const name of ['_state', 'token', 'access_token', 'X-Amz-Signature', 'X-Goog-Credential', 'sig', 'password', 'X-Amz-Security-Token']) assert.ok(isSecretParam(name), name)
    for (const name of ['digest', 'service', 'scope', 'n', 'last', 'mount', 'from']) assert.ok(!isSecretParam(name), name)
  })

  it('redactText scrubs auth header values, JWTs and key=secret pairs', () => {
    const text = 'Authorization: Basic dXNlcjpodW50ZXIy and Bearer abc.def-ghi and {"token":"t0ps3cret"} password=hunter2'
    const clean = redactText(text)
    for (const secret of ['dXNlcjpodW50ZXIy', 'abc.def-ghi', 't0ps3cret', 'hunter2']) assert.ok(!clean.includes(secret), secret)
    assert.match(clean, /Basic \[redacted\]/)
  })
})

describe('appendQueryParam', () => {
  it('adds ?name=value to a URL without a query', () => {
    assert.equal(appendQueryParam('https://r/v2/a/b/blobs/uploads/u1', 'digest', 'sha256:ab'), 'https://r/v2/a/b/blobs/uploads/u1?digest=sha256%3Aab')
  })
  it('adds &name=value to an existing query, leaving it byte-for-byte', () => {
    assert.equal(appendQueryParam(`https://r/u?_state=${STATE}`, 'digest', 'sha256:ab'), `https://r/u?_state=${STATE}&digest=sha256%3Aab`)
  })
  it('handles a trailing ? or & and drops a fragment', () => {
    assert.equal(appendQueryParam('https://r/u?', 'digest', 'd'), 'https://r/u?digest=d')
    assert.equal(appendQueryParam('https://r/u?a=1&', 'digest', 'd'), 'https://r/u?a=1&digest=d')
    assert.equal(appendQueryParam('https://r/u?a=1#x', 'digest', 'd'), 'https://r/u?a=1&digest=d')
  })
})
