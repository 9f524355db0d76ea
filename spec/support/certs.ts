/**
 * Self-signed certificates for the test registry (TLS) and the token issuer (JWT signing), made per
 * run with the `openssl` CLI: Node's crypto can make keys but not X.509 certificates.
 *
 * Each certificate is its own trust anchor (CA:TRUE, self-signed), so the PEM doubles as the `ca` a
 * client trusts and as the `rootcertbundle` distribution verifies token `x5c` chains against.
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export type KeyAlgorithm = 'ec' | 'rsa'

export interface CertificateFiles {
  /** PEM of the certificate. */
  readonly cert: string
  /** PEM (PKCS#8) of the private key. */
  readonly key: string
  readonly certPath: string
  readonly keyPath: string
  readonly algorithm: KeyAlgorithm
}

export interface MakeCertificateOptions {
  /** File name prefix inside `dir`. */
  name: string
  /** `ec` (P-256, fast) or `rsa` (2048 bit). Default `ec`. */
  algorithm?: KeyAlgorithm
  commonName?: string
  /** Subject alternative names, e.g. `['IP:127.0.0.1', 'DNS:localhost']`. */
  altNames?: readonly string[]
  days?: number
}

/** Make a self-signed certificate and key in `dir` with the openssl CLI. */
export async function makeSelfSignedCertificate(dir: string, options: MakeCertificateOptions): Promise<CertificateFiles> {
  const algorithm = options.algorithm ?? 'ec'
  const configPath = join(dir, `${options.name}.openssl.cnf`)
  const certPath = join(dir, `${options.name}.crt`)
  const keyPath = join(dir, `${options.name}.key`)
  // Our own config (not the system openssl.cnf) so the extensions are exactly these, everywhere.
  const keyUsage = algorithm === 'rsa' ? 'digitalSignature,keyEncipherment,keyCertSign' : 'digitalSignature,keyCertSign'
  const lines = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    `CN = ${options.commonName ?? options.name}`,
    '[ext]',
    'basicConstraints = critical,CA:TRUE',
    `keyUsage = critical,${keyUsage}`,
    'subjectKeyIdentifier = hash',
  ]
  if (options.altNames !== undefined && options.altNames.length > 0) lines.push(`subjectAltName = ${options.altNames.join(',')}`)
  await writeFile(configPath, lines.join('\n') + '\n')

  const keyArgs = algorithm === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
  try {
    await execFileAsync('openssl', [
      'req', '-x509', '-new', ...keyArgs, '-nodes', '-batch',
      '-keyout', keyPath, '-out', certPath,
      '-days', String(options.days ?? 2),
      '-config', configPath, '-extensions', 'ext',
    ])
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? ''
    throw new Error(`openssl could not make a certificate (is openssl installed? run spec/support/ensure-registry.mjs): ${stderr.trim()}`, { cause: error })
  }
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')])
  return { cert, key, certPath, keyPath, algorithm }
}

/** The base64 DER of the first certificate in a PEM: the form a JWT `x5c` entry takes. */
export function pemToBase64Der(pem: string): string {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)
  if (match?.[1] === undefined) throw new Error('no certificate in PEM')
  return match[1].replace(/\s+/g, '')
}
