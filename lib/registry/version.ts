import { createRequire } from 'node:module'

/** This package's version, read once from its package.json (two levels up from lib/registry and dist/registry). */
export const PACKAGE_VERSION: string = (() => {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
})()

/** The default `User-Agent`: `express-model-push/<version>`. */
export const DEFAULT_USER_AGENT = `express-model-push/${PACKAGE_VERSION}`
