/**
 * Rule: a registry (or token service) that echoes this push's password, or its base64, in an
 * error text must not get it into an error message, a progress line or a log line. The generic
 * redaction (lib/registry/redact.ts) catches `Basic …`/`Bearer …`/`token=`; this catches the raw
 * forms, which only the push knows. Applied at the session boundary: everything a `RegistryPush`
 * throws or logs passes through here.
 */
import type { Credentials, Logger } from '../model/types.js'
import { redactSecrets, secretForms, type SecretForm } from './redact.js'
import type { RegistryPush } from './uploader.js'

/** Rewrite `error`'s message (and its cause chain's) in place; returns it. */
export function scrubError(error: unknown, forms: readonly SecretForm[]): unknown {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const clean = redactSecrets(current.message, forms)
    if (clean !== current.message) current.message = clean
    if (typeof current.stack === 'string') current.stack = redactSecrets(current.stack, forms)
    current = current.cause
  }
  return error
}

function scrubValue(value: unknown, forms: readonly SecretForm[]): unknown {
  return typeof value === 'string' ? redactSecrets(value, forms) : value
}

/** A logger that scrubs messages and string fields before passing them on. */
export function scrubbingLogger(logger: Logger | undefined, forms: readonly SecretForm[]): Logger | undefined {
  if (logger === undefined || forms.length === 0) return logger
  const wrap = (level: keyof Logger) => {
    const method = logger[level]
    if (method === undefined) return undefined
    return (message: string, fields?: Record<string, unknown>) => {
      const clean = fields === undefined ? undefined : Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, scrubValue(value, forms)]))
      method.call(logger, redactSecrets(message, forms), clean)
    }
  }
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') }
}

/** Run `operation`, scrubbing whatever it throws. */
export async function scrubbing<T>(forms: readonly SecretForm[], operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    throw scrubError(error, forms)
  }
}

/** `push` with every rejection scrubbed of `credentials`' forms. */
export function scrubbingPush(push: RegistryPush, credentials: Credentials | undefined): RegistryPush {
  const forms = secretForms(credentials)
  if (forms.length === 0) return push
  return {
    hasBlob: (descriptor, options) => scrubbing(forms, () => push.hasBlob(descriptor, options)),
    uploadBlob: (descriptor, open, options) => scrubbing(forms, () => push.uploadBlob(descriptor, open, options)),
    putManifest: (reference, manifest, options) => scrubbing(forms, () => push.putManifest(reference, manifest, options)),
    close: () => push.close(),
  }
}
