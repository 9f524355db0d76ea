/**
 * Where the Ollama key comes from, and signing with it. Like Ollama (`auth.Sign`), the key is read
 * when a signature is needed, never in a constructor, and again on each use, so a key replaced on
 * disk is picked up without a restart.
 */
import { sign } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { OllamaKeyError } from '../../errors.js'
import { authorizedKeyLine, parseEd25519PrivateKey, SshKeyFormatError, type Ed25519KeyPair } from './ssh-key.js'

/** The key `ollama serve` creates for the user running it. */
export function defaultOllamaKeyPath(): string {
  return join(homedir(), '.ollama', 'id_ed25519')
}

/** Whether `source` is the key file's text rather than a path to it. */
function isKeyText(source: string): boolean {
  return source.includes('-----BEGIN ')
}

/** An Ollama ed25519 key, from a file path or the file's text. */
export class OllamaKey {
  readonly #path: string | undefined
  readonly #text: string | undefined

  /** `source`: a path to the private key file or its text. Default `$HOME/.ollama/id_ed25519`. No I/O here. */
  constructor(source?: string) {
    if (source !== undefined && isKeyText(source)) {
      this.#text = source
    } else {
      this.#path = source ?? defaultOllamaKeyPath()
    }
  }

  /** The key file's path, or undefined for a key given as text. */
  get path(): string | undefined {
    return this.#path
  }

  /** How error messages name this key: its path, never its content. */
  get description(): string {
    return this.#path ?? 'the Ollama key given as text'
  }

  /** Read and parse the key. Throws `OllamaKeyError` naming the path. */
  async load(): Promise<Ed25519KeyPair> {
    let text = this.#text
    if (text === undefined) {
      const path = this.#path!
      try {
        text = await readFile(path, 'utf8')
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this process' : `cannot be read (${code ?? 'error'})`
        throw new OllamaKeyError(
          `Ollama key ${path} ${why}: run \`ollama serve\` once as this user to create one, or set the ollamaKey option to the key's path`,
          path,
        )
      }
    }
    try {
      return parseEd25519PrivateKey(text)
    } catch (error) {
      if (!(error instanceof SshKeyFormatError)) throw error
      throw new OllamaKeyError(`Ollama key ${this.description} cannot be used: ${error.message}`, this.#path)
    }
  }

  /** The `ssh-ed25519 AAAA…` line to register at ollama.com. */
  async publicKeyLine(): Promise<string> {
    return authorizedKeyLine((await this.load()).publicBlob)
  }

  /**
   * Ollama's signature header value for `message`: `<base64 public key blob>:<base64 ed25519 signature>`
   * (`auth.Sign`: the authorized key's second field, a colon, the signature; no scheme word).
   */
  async authorization(message: string | Buffer): Promise<string> {
    const key = await this.load()
    return signedAuthorization(key, message)
  }
}

/** `<base64 public key blob>:<base64 signature>` for `message` with an already loaded key. */
export function signedAuthorization(key: Ed25519KeyPair, message: string | Buffer): string {
  const signature = sign(null, typeof message === 'string' ? Buffer.from(message, 'utf8') : message, key.privateKey)
  return `${key.publicBlob.toString('base64')}:${signature.toString('base64')}`
}
