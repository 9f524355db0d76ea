/**
 * Ollama's `POST /api/me` (`WhoamiHandler` in its `server/routes.go`), which the Go CLI calls
 * before pushing to `*.ollama.ai` / `*.ollama.com`: ask ollama.com who the Ollama key belongs to.
 *
 * The upstream request is the Go client's `Whoami` (`api/client.go` `do`): `POST <base>/api/me?ts=<unix s>`,
 * no body, `Content-Type`/`Accept: application/json`, `Authorization: <pubkey>:<sig>` over
 * `POST,/api/me?ts=<unix s>` (the path only, not the host). Ollama's answers, which ours follow:
 * - upstream 200 with a `name` → 200 with the user (`plan` defaults to `free`);
 * - upstream 401, or 200 without a name → 401 `{"error":"unauthorized","signin_url":…}` with the
 *   upstream's `signin_url` or the connect link `<base>/connect?name=<hostname>&key=<base64url of the key line>`;
 * - anything else (other status, network) → 503 `{"error":"account unavailable"}`.
 * Where Ollama also answers 503 when its key is missing, we answer 500 naming the key's path.
 */
import { hostname } from 'node:os'
import { ModelPushError, OllamaKeyError } from '../../errors.js'
import type { Logger } from '../../model/types.js'
import { authorizedKeyLine } from './ssh-key.js'
import { signedAuthorization, type OllamaKey } from './key.js'

/** Where ollama.com's account API lives. */
export const DEFAULT_OLLAMA_ACCOUNT_URL = 'https://ollama.com'

export interface OllamaWhoamiOptions {
  key: OllamaKey
  /** Base URL of the account API (`<base>/api/me`). Default `https://ollama.com`. */
  accountUrl?: string | undefined
  signal?: AbortSignal | undefined
  logger?: Logger | undefined
  /** Time limit for the upstream request, ms. Default 30 000. */
  timeoutMs?: number
  /** Clock in ms, for tests. */
  now?: () => number
}

/** The answer to relay: a status and a JSON body. */
export interface WhoamiAnswer {
  status: number
  body: Record<string, unknown>
}

const USER_FIELDS = ['id', 'email', 'name', 'bio', 'avatarurl', 'firstname', 'lastname', 'plan'] as const

/** Ask the account API who the key belongs to; never throws for upstream trouble, only for cancellation. */
export async function ollamaWhoami(options: OllamaWhoamiOptions): Promise<WhoamiAnswer> {
  const base = new URL(options.accountUrl ?? DEFAULT_OLLAMA_ACCOUNT_URL)
  let line: string
  let authorization: string
  const path = '/api/me'
  const ts = String(Math.floor((options.now ?? Date.now)() / 1000))
  try {
    const key = await options.key.load()
    line = authorizedKeyLine(key.publicBlob)
    authorization = signedAuthorization(key, `POST,${path}?ts=${ts}`)
  } catch (error) {
    if (error instanceof OllamaKeyError) return { status: 500, body: { error: error.message } }
    throw error
  }
  const url = new URL(base.pathname.replace(/\/+$/, '') + path, base)
  url.search = `ts=${ts}`
  const signinUrl = () => {
    const connect = new URL('/connect', base)
    connect.search = `name=${encodeURIComponent(hostname())}&key=${Buffer.from(line, 'utf8').toString('base64url')}`
    return connect.toString()
  }
  const unauthorized = (upstream?: unknown): WhoamiAnswer => ({
    status: 401,
    body: { error: 'unauthorized', signin_url: typeof upstream === 'string' && upstream !== '' ? upstream : signinUrl() },
  })

  const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  let status: number
  let parsed: Record<string, unknown> = {}
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: authorization },
      signal,
      redirect: 'manual',
    })
    status = response.status
    const text = await response.text()
    try {
      const value: unknown = JSON.parse(text)
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) parsed = value as Record<string, unknown>
    } catch {
      // Not JSON: only the status matters then.
    }
  } catch (error) {
    if (options.signal?.aborted === true) throw error instanceof ModelPushError ? error : Object.assign(new Error('aborted'), { name: 'AbortError' })
    options.logger?.warn?.('ollama account request failed', { host: url.host, error: error instanceof Error ? error.name : typeof error })
    return { status: 503, body: { error: 'account unavailable' } }
  }
  options.logger?.debug?.('ollama account request', { host: url.host, status })
  if (status === 401) return unauthorized(parsed.signin_url)
  if (status < 200 || status >= 300) {
    options.logger?.warn?.('ollama account request refused', { host: url.host, status })
    return { status: 503, body: { error: 'account unavailable' } }
  }
  if (typeof parsed.name !== 'string' || parsed.name === '') return unauthorized()
  const user: Record<string, unknown> = {}
  for (const field of USER_FIELDS) if (parsed[field] !== undefined) user[field] = parsed[field]
  if (typeof user.plan !== 'string' || user.plan.trim() === '') user.plan = 'free'
  return { status: 200, body: user }
}
