import { InvalidNameError } from '../errors.js'
import type { ModelName } from './types.js'

/**
 * Model names, with Ollama's rules (ollama/ollama `types/model/name.go`: `ParseName`,
 * `ParseNameBare`, `isValidPart`, and the defaults `defaultHost`, `defaultNamespace`, `defaultTag`).
 *
 * Form: `[host/][namespace/]model[:tag]`, i.e. one, two or three `/`-separated segments; the tag is
 * cut at the last `:` when it comes after the last `/`, so a host may carry a `:port`
 * (`localhost:5000/team/llama:q4`). A host needs the three-segment form: in `localhost:5000/llama`
 * the first segment is a namespace, exactly as in Ollama (and `:` is not allowed there).
 *
 * Per part (bytes, ASCII only):
 * - host: first `[A-Za-z0-9_]`, then `[A-Za-z0-9_.-]` and `:` — 1 to 350 characters;
 * - namespace: first `[A-Za-z0-9_]`, then `[A-Za-z0-9_-]` (no `.`) — 1 to 80;
 * - model, tag: first `[A-Za-z0-9_]`, then `[A-Za-z0-9_.-]` — 1 to 80.
 *
 * Stricter than Ollama, on purpose (each is a name Ollama would mangle or treat specially):
 * - a `scheme://` prefix is refused. Ollama strips it (and `http://` means plain-text pushing to
 *   Ollama); here transport is the `insecure` option's business, never the name's.
 * - `..` inside a part is refused (Ollama's older parser refused it too; OCI repository names never
 *   allow it).
 * - a host's `:` must introduce a port (1–65535); Ollama accepts any number of `:`.
 * - a digest reference (`model@sha256:…`) is refused with a clear message: a push needs a tag.
 *
 * Case: Ollama keeps the case a name was written with and compares names case-insensitively
 * (`Name.EqualFold`; `getExistingName` in `server/routes.go` maps each part onto the casing already
 * on disk). So does this package: `parseModelName` preserves case, storage lookups ignore ASCII
 * case (see `FilesystemStorage`), and only `repositoryOf` lowercases, because an OCI repository
 * name must be lowercase (`[a-z0-9]` components) while a lowercase spelling is the same Ollama
 * name. Tags keep their case: OCI tags are case-sensitive and allow capitals.
 */

/** Ollama's defaults (`types/model/name.go`: `defaultHost`, `defaultNamespace`, `defaultTag`). */
export const DEFAULT_REGISTRY = 'registry.ollama.ai'
export const DEFAULT_NAMESPACE = 'library'
export const DEFAULT_TAG = 'latest'

/** Longest allowed part, in characters (Ollama's `isValidLen`). */
export const NAME_PART_LIMITS = Object.freeze({ host: 350, namespace: 80, model: 80, tag: 80 })

/** Longest input worth looking at: every part at its limit plus separators. */
const MAX_INPUT_LENGTH = 350 + 1 + 80 + 1 + 80 + 1 + 80

export interface ParseModelNameOptions {
  /** Registry host for names that give none (`host` or `host:port`). Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
}

type Part = 'host' | 'namespace' | 'model' | 'tag'

/**
 * Parse `input` with Ollama's rules and fill Ollama's defaults. Throws `InvalidNameError` whose
 * `part` names the offending part (`name` when the whole string is at fault).
 */
export function parseModelName(input: string, options: ParseModelNameOptions = {}): ModelName {
  const defaultRegistry = options.defaultRegistry ?? DEFAULT_REGISTRY
  if (defaultRegistry !== DEFAULT_REGISTRY) {
    const problem = typeof defaultRegistry === 'string' ? partProblem('host', defaultRegistry) : 'must be a string'
    if (problem !== undefined) throw new InvalidNameError('host', `default registry ${problem}`)
  }

  if (typeof (input as unknown) !== 'string') throw new InvalidNameError('name', 'model name must be a string')
  if (input.length === 0) throw new InvalidNameError('name', 'model name is empty')
  if (input.length > MAX_INPUT_LENGTH) {
    throw new InvalidNameError('name', `model name is longer than ${MAX_INPUT_LENGTH} characters`)
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(input)) {
    throw new InvalidNameError(
      'host',
      'model name must not start with a scheme ("https://"); give the bare host, and use the insecure option for a plain-http registry',
    )
  }

  let rest = input
  let tag: string | undefined
  const at = rest.lastIndexOf('@')
  if (at !== -1 && at > rest.lastIndexOf('/')) {
    throw new InvalidNameError('tag', 'digest references ("@sha256:…") cannot be pushed; name the model by tag')
  }
  // As in Ollama: "/" cannot appear in a tag, so a ":" after the last "/" starts the tag.
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (tag === '') throw new InvalidNameError('tag', 'tag is empty (nothing after ":")')
  }

  const segments = rest.split('/')
  if (segments.length > 3) {
    throw new InvalidNameError('name', `model name has ${segments.length} "/"-separated segments; at most 3 (host/namespace/model) are allowed`)
  }
  const parts: Part[] = segments.length === 3 ? ['host', 'namespace', 'model'] : segments.length === 2 ? ['namespace', 'model'] : ['model']
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] === '') {
      throw new InvalidNameError(parts[i]!, `${parts[i]} is empty (leading, trailing or double "/")`)
    }
  }

  const model = segments[segments.length - 1]!
  const namespace = segments.length >= 2 ? segments[segments.length - 2]! : DEFAULT_NAMESPACE
  const host = segments.length === 3 ? segments[0]! : defaultRegistry
  // `skill`, `agent`, `mcp` in the middle are ordinary namespaces: Ollama's main branch has no
  // `namespace/kind/model` form (its `ValidKinds` exist only on an unmerged branch).

  if (segments.length === 3) check('host', host)
  if (segments.length >= 2) check('namespace', namespace)
  check('model', model)
  if (tag !== undefined) check('tag', tag)

  return Object.freeze({ host, namespace, model, tag: tag ?? DEFAULT_TAG })
}

/** `host/namespace/model:tag`, every part present (Ollama's `Name.String` for a complete name). */
export function formatModelName(name: ModelName): string {
  return `${name.host}/${name.namespace}/${name.model}:${name.tag}`
}

/**
 * Ollama's short display (`Name.DisplayShortest`): the host and namespace are left out when they are
 * the defaults (compared ignoring case), the namespace is kept whenever the host is shown, and the
 * tag is always shown: `llama3:latest`, `team/llama3:q4`, `localhost:5000/library/llama3:latest`.
 *
 * Pass the same `defaultRegistry` the name was parsed with, so that the display parses back to the
 * same name. This is what Ollama hands its push code, and what current Ollama shows in
 * `model '<name>' not found` from `/api/show`.
 */
export function displayModelName(name: ModelName, options: ParseModelNameOptions = {}): string {
  const defaultRegistry = options.defaultRegistry ?? DEFAULT_REGISTRY
  let prefix = ''
  if (!equalFold(name.host, defaultRegistry)) prefix = `${name.host}/${name.namespace}/`
  else if (!equalFold(name.namespace, DEFAULT_NAMESPACE)) prefix = `${name.namespace}/`
  return `${prefix}${name.model}:${name.tag}`
}

/**
 * The registry repository, `namespace/model`, lowercased: OCI repository names must be lowercase,
 * and Ollama names ignore case, so the lowercase spelling names the same model.
 */
export function repositoryOf(name: ModelName): string {
  return `${name.namespace}/${name.model}`.toLowerCase()
}

/** Whether two names are the same model, ignoring ASCII case (Ollama's `Name.EqualFold`). */
export function sameModelName(a: ModelName, b: ModelName): boolean {
  return equalFold(a.host, b.host) && equalFold(a.namespace, b.namespace) && equalFold(a.model, b.model) && equalFold(a.tag, b.tag)
}

/** A key under which case variants of one name coincide (for maps of names). */
export function modelNameKey(name: ModelName): string {
  return formatModelName(name).toLowerCase()
}

/**
 * Why `value` is not a valid `part`, or `undefined` when it is. Used by storage adapters to re-check
 * names they are handed as objects (which may not have come through `parseModelName`).
 */
export function partProblem(part: Part, value: unknown): string | undefined {
  if (typeof value !== 'string') return `${part} must be a string`
  if (value === '') return `${part} is empty`
  const limit = NAME_PART_LIMITS[part]
  if (value.length > limit) return `${part} is longer than ${limit} characters`
  const first = value.charCodeAt(0)
  if (!isWordChar(first)) return `${part} must start with a letter, digit or "_", not ${describeChar(value, 0)}`
  for (let i = 1; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (isWordChar(c) || c === 0x2d /* - */) continue
    if (c === 0x2e /* . */ && part !== 'namespace') continue
    if (c === 0x3a /* : */ && part === 'host') continue
    const hint = c === 0x2e ? ' (namespaces cannot contain ".")' : c === 0x3a && part === 'namespace' ? ' (a registry host needs the full host/namespace/model form)' : ''
    return `${part} contains ${describeChar(value, i)}${hint}`
  }
  if (value.includes('..')) return `${part} contains ".."`
  if (part === 'host') {
    const pieces = value.split(':')
    if (pieces.length > 2) return 'host may contain only one ":" (before the port)'
    const port = pieces[1]
    if (port !== undefined && !(/^[0-9]{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      return 'host port must be a number from 1 to 65535'
    }
  }
  return undefined
}

function check(part: Part, value: string): void {
  const problem = partProblem(part, value)
  if (problem !== undefined) throw new InvalidNameError(part, problem)
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f
}

/** A character for a message: printable ASCII quoted, anything else as a code point (never raw). */
function describeChar(value: string, index: number): string {
  const c = value.codePointAt(index) ?? 0
  if (c === 0x20) return 'a space'
  if (c > 0x20 && c < 0x7f) return `"${String.fromCharCode(c)}"`
  const kind = c < 0x20 || c === 0x7f ? 'control character' : /\s/u.test(String.fromCodePoint(c)) ? 'whitespace' : 'non-ASCII character'
  return `${kind} U+${c.toString(16).toUpperCase().padStart(4, '0')}`
}

function equalFold(a: string, b: string): boolean {
  return a.length === b.length && asciiLower(a) === asciiLower(b)
}

/** Lowercase ASCII only, as Go's `strings.EqualFold` does for the ASCII names Ollama allows. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]+/g, (s) => s.toLowerCase())
}
