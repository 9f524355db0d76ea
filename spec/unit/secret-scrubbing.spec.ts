// A registry that echoes the password (raw, or inside the Basic value) in its error texts: the
// push's errors and log lines carry neither form. The stand-in is a tiny HTTP server because the
// real registry never echoes credentials; the uploader under test is the real OciRegistryUploader.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { OciRegistryUploader, RegistryError } from '../../lib/index.js'
import { redactSecrets, secretForms } from '../../lib/registry/redact.js'

const credentials = { username: 'pusher', password: 'S3cret-Pass/word+' }
const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')

describe('secret forms', () => {
  it('cover the raw, URL-encoded and base64 forms, longest first', () => {
    const forms = secretForms(credentials)
    assert.ok(forms.includes(credentials.password))
    assert.ok(forms.includes(encodeURIComponent(credentials.password)))
    assert.ok(forms.includes(basic))
    const strings = forms.filter((form): form is string => typeof form === 'string')
    assert.equal(strings.length, forms.length, 'a long password needs no patterns')
    assert.deepEqual([...strings].sort((a, b) => b.length - a.length), strings)
    assert.deepEqual(secretForms(undefined), [])
    assert.deepEqual(secretForms({ username: 'u', password: '' }), [])
    assert.equal(redactSecrets(`no ${credentials.password} and ${basic}!`, forms), 'no [redacted] and [redacted]!')
  })

  it('a password shorter than 4 characters is redacted as a whole token, and its Basic value anywhere', () => {
    const short = { username: 'u', password: 'ab+' }
    const forms = secretForms(short)
    const shortBasic = Buffer.from('u:ab+').toString('base64')
    assert.equal(redactSecrets(`password "ab+" refused`, forms), 'password "[redacted]" refused')
    assert.equal(redactSecrets(`ab+ at the start, and at the end: ab+`, forms), '[redacted] at the start, and at the end: [redacted]')
    assert.equal(redactSecrets(`header Basic${shortBasic}.`, forms), 'header Basic[redacted].')
    // Inside a word it is left alone: "cab+" and "ab+c" are not the password.
    assert.equal(redactSecrets('cab+ and ab+c', forms), 'cab+ and ab+c')
    assert.equal(redactSecrets('a "x" b', secretForms({ username: 'u', password: 'x' })), 'a "[redacted]" b')
  })
})

describe('a registry echoing the password in its errors', () => {
  let server: Server
  let host: string
  let authenticated = 0
  before(async () => {
    server = createServer((req, res) => {
      const authorization = req.headers.authorization
      req.resume()
      if (authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="echo"', 'content-type': 'application/json' })
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        return
      }
      authenticated++
      const decoded = Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString()
      const message = `credentials ${decoded} (${authorization.replace(/^Basic /, '')}) password=${decoded.split(':')[1]} rejected`
      // First a flaky 503 (retried, logged), then a refusal.
      res.writeHead(authenticated === 1 ? 503 : 403, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ errors: [{ code: authenticated === 1 ? 'UNAVAILABLE' : 'DENIED', message, detail: message }] }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  for (const [label, given] of [['a long password', credentials], ['a 3-character password', { username: 'pusher', password: 'Zq9' }]] as const) {
    it(`${label}: the refusal and every log line carry neither the password nor its base64`, async () => {
      authenticated = 0
      const basicValue = Buffer.from(`${given.username}:${given.password}`).toString('base64')
      const lines: string[] = []
      const record = (message: string, fields?: Record<string, unknown>) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`)
      const uploader = new OciRegistryUploader({ retryDelayMs: 0, logger: { debug: record, info: record, warn: record, error: record } })
      try {
        await assert.rejects(uploader.open({ host, repository: 'team/model', insecure: true, credentials: given }), (error: unknown) => {
          assert.ok(error instanceof RegistryError)
          assert.equal(error.status, 403)
          assert.match(error.message, /credentials pusher:\[redacted\]/, 'the echo reached the message, scrubbed')
          for (const secret of [given.password, basicValue, encodeURIComponent(given.password)]) {
            assert.ok(!error.message.includes(secret), error.message)
            assert.ok(!String(error.stack).includes(secret))
          }
          return true
        })
        assert.ok(authenticated >= 2, 'the registry saw the credentials and echoed them twice')
        assert.ok(lines.some((line) => line.includes('retrying')), lines.join('\n'))
        for (const line of lines) {
          assert.ok(!line.includes(given.password) && !line.includes(basicValue), line)
        }
      } finally {
        uploader.close()
      }
    })
  }
})
