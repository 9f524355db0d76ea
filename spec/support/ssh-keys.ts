/**
 * Test keys in the OpenSSH format `ollama serve` writes: serialised here from a seed (fast,
 * deterministic), or made by the real `ssh-keygen` (for the parser's tests against the reference
 * implementation).
 */
import { execFile } from 'node:child_process'
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface TestKey {
  /** The private key file's text (`-----BEGIN OPENSSH PRIVATE KEY-----`…). */
  text: string
  /** `ssh-ed25519 AAAA…` (no comment). */
  publicLine: string
  /** The base64 public key blob (the line's second field). */
  publicBase64: string
  seed: Buffer
}

function sshString(bytes: Buffer | string): Buffer {
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(value)
  return out
}

/** The raw public key of an ed25519 seed. */
export function ed25519Public(seed: Buffer): Buffer {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  return Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url')
}

export interface SerializeOptions {
  /** Override the second check integer (to make a corrupt key). */
  check2?: number
  comment?: string
}

/** An unencrypted OpenSSH ed25519 private key file for `seed` (default: random). */
export function makeTestKey(seed: Buffer = randomBytes(32), options: SerializeOptions = {}): TestKey {
  const pub = ed25519Public(seed)
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)])
  const check = 0x12345678
  let section = Buffer.concat([uint32(check), uint32(options.check2 ?? check), sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(options.comment ?? '')])
  const pad: number[] = []
  for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i)
  section = Buffer.concat([section, Buffer.from(pad)])
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(publicBlob), sshString(section)])
  const lines = body.toString('base64').match(/.{1,70}/g) ?? []
  const text = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
  return { text, publicLine: `ssh-ed25519 ${publicBlob.toString('base64')}`, publicBase64: publicBlob.toString('base64'), seed }
}

/** Run the real `ssh-keygen -t ed25519` into `dir`; returns the key path and the `.pub` line (type and key only). */
export async function sshKeygen(dir: string, passphrase = ''): Promise<{ path: string; publicLine: string }> {
  const path = join(dir, passphrase === '' ? 'id_ed25519' : 'id_ed25519_protected')
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test@example', '-f', path])
  const pub = (await readFile(`${path}.pub`, 'utf8')).trim().split(' ')
  return { path, publicLine: `${pub[0]} ${pub[1]}` }
}
