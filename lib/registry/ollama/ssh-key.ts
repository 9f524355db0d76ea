/**
 * The OpenSSH private key format for ed25519, as `ollama serve` writes `~/.ollama/id_ed25519`
 * (OpenSSH `PROTOCOL.key`), decoded with node:crypto only:
 *
 *     "openssh-key-v1\0" string cipher ("none") string kdf ("none") string kdfoptions ("")
 *     uint32 1  string publickey  string private-section
 *     private-section = uint32 check, uint32 check (equal), string "ssh-ed25519", string pub (32),
 *                       string priv (64 = seed ‖ pub), string comment, padding 1, 2, 3, …
 *
 * Strings are a uint32 (big-endian) length and the bytes. An encrypted (passphrase-protected) key
 * names a cipher other than `none`; Ollama cannot use those either. A PKCS#8 `PRIVATE KEY` PEM of
 * an ed25519 key is accepted too (Go's `ssh.ParsePrivateKey` takes it as well).
 *
 * Nothing here ever puts key material into an error message.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'

/** A parsed key: the signing key and the SSH wire blob of its public half. */
export interface Ed25519KeyPair {
  readonly privateKey: KeyObject
  /** `uint32(11) "ssh-ed25519" uint32(32) <pub>`: what authorized_keys lines carry in base64. */
  readonly publicBlob: Buffer
}

/** Why a key could not be used; the caller adds where the key came from. */
export class SshKeyFormatError extends Error {
  constructor(
    message: string,
    readonly reason: 'encrypted' | 'format' | 'type',
  ) {
    super(message)
    this.name = 'SshKeyFormatError'
  }
}

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1')
const KEY_TYPE = 'ssh-ed25519'
const OPENSSH_PEM = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/
const PKCS8_PEM = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/

/** Parse the text of a private key file. Throws `SshKeyFormatError`. */
export function parseEd25519PrivateKey(text: string): Ed25519KeyPair {
  const openssh = OPENSSH_PEM.exec(text)
  if (openssh !== null) return parseOpenSsh(Buffer.from((openssh[1] ?? '').replace(/\s+/g, ''), 'base64'))
  const pkcs8 = PKCS8_PEM.exec(text)
  if (pkcs8 !== null) return fromPkcs8(pkcs8[0])
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw new SshKeyFormatError('the key is passphrase-protected; Ollama keys must be unencrypted', 'encrypted')
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new SshKeyFormatError('not an ed25519 key (Ollama uses ssh-ed25519)', 'type')
  throw new SshKeyFormatError('not an OpenSSH private key (expected "-----BEGIN OPENSSH PRIVATE KEY-----")', 'format')
}

/** The SSH wire blob of an ed25519 public key. */
export function ed25519PublicBlob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString(Buffer.from(KEY_TYPE, 'latin1')), sshString(publicKey)])
}

/** The authorized_keys line `ssh-ed25519 <base64 blob>` (no comment), as Ollama shows and ollama.com takes it. */
export function authorizedKeyLine(publicBlob: Buffer): string {
  return `${KEY_TYPE} ${publicBlob.toString('base64')}`
}

/** Decode an SSH ed25519 public key blob to its 32 raw bytes, or undefined when it is not one. */
export function ed25519FromPublicBlob(blob: Buffer): Buffer | undefined {
  try {
    const reader = new Reader(blob)
    if (reader.string().toString('latin1') !== KEY_TYPE) return undefined
    const key = reader.string()
    return key.length === 32 && reader.done() ? key : undefined
  } catch {
    return undefined
  }
}

/** A KeyObject for a raw 32-byte ed25519 public key. */
export function ed25519PublicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } })
}

function parseOpenSsh(bytes: Buffer): Ed25519KeyPair {
  const broken = (what: string) => new SshKeyFormatError(`malformed OpenSSH private key (${what})`, 'format')
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw broken('bad magic')
  try {
    const reader = new Reader(bytes, MAGIC.length)
    const cipher = reader.string().toString('latin1')
    const kdf = reader.string().toString('latin1')
    reader.string() // kdf options
    if (cipher !== 'none' || kdf !== 'none') {
      throw new SshKeyFormatError('the key is passphrase-protected; Ollama keys must be unencrypted', 'encrypted')
    }
    if (reader.uint32() !== 1) throw broken('expected exactly one key')
    const publicBlob = reader.string()
    const section = new Reader(reader.string())
    if (section.uint32() !== section.uint32()) throw broken('check integers differ')
    const type = section.string().toString('latin1')
    if (type !== KEY_TYPE) throw new SshKeyFormatError(`a ${type} key; Ollama uses ssh-ed25519`, 'type')
    const pub = section.string()
    const priv = section.string()
    section.string() // comment
    const padding = section.rest()
    if (pub.length !== 32 || priv.length !== 64) throw broken('wrong ed25519 key lengths')
    if (!priv.subarray(32).equals(pub)) throw broken('private and public halves differ')
    if (!publicBlob.equals(ed25519PublicBlob(pub))) throw broken('public key blob differs from the private section')
    if (!padding.every((byte, index) => byte === index + 1)) throw broken('bad padding')
    const privateKey = createPrivateKey({
      format: 'jwk',
      key: { kty: 'OKP', crv: 'Ed25519', d: priv.subarray(0, 32).toString('base64url'), x: pub.toString('base64url') },
    })
    // The seed must really produce the stored public key (node checks this too, but say so plainly).
    if (createPublicKey(privateKey).export({ format: 'jwk' }).x !== pub.toString('base64url')) throw broken('seed does not match the public key')
    return { privateKey, publicBlob }
  } catch (error) {
    if (error instanceof SshKeyFormatError) throw error
    throw broken('truncated or inconsistent')
  }
}

function fromPkcs8(pem: string): Ed25519KeyPair {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch {
    throw new SshKeyFormatError('malformed PKCS#8 private key', 'format')
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new SshKeyFormatError(`a ${privateKey.asymmetricKeyType ?? 'unknown'} key; Ollama uses ssh-ed25519`, 'type')
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x
  return { privateKey, publicBlob: ed25519PublicBlob(Buffer.from(x ?? '', 'base64url')) }
}

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return Buffer.concat([length, bytes])
}

/** Reads SSH wire fields; throws a RangeError past the end. */
class Reader {
  #offset: number
  constructor(
    readonly bytes: Buffer,
    offset = 0,
  ) {
    this.#offset = offset
  }
  uint32(): number {
    const value = this.bytes.readUInt32BE(this.#offset)
    this.#offset += 4
    return value
  }
  string(): Buffer {
    const length = this.uint32()
    if (this.#offset + length > this.bytes.length) throw new RangeError('string past the end')
    const value = this.bytes.subarray(this.#offset, this.#offset + length)
    this.#offset += length
    return value
  }
  rest(): Buffer {
    const value = this.bytes.subarray(this.#offset)
    this.#offset = this.bytes.length
    return value
  }
  done(): boolean {
    return this.#offset === this.bytes.length
  }
}
