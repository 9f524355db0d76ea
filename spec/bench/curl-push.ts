/**
 * The raw baseline: one blob uploaded by curl the minimal way (POST, one streamed PATCH,
 * `PUT ?digest=`). The POST and PUT carry no body and go through a bare Node request; the PATCH is
 * curl reading the file itself (`-T`, no `Expect: 100-continue` round trip). The time counted is
 * POST + curl's own `time_total` + PUT, i.e. not curl's process start: the baseline is as tight as
 * the registry allows, which makes every ratio to it strict.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { rawRequest } from '../support/http-client.js'
import { runTimed } from './processes.js'

export interface CurlPushResult {
  ms: number
  /** Wall clock including curl's process start. */
  wallMs: number
  /** curl's peak RSS. */
  maxRssKiB: number
  /** curl's CPU time (user + system). */
  cpuMs: number
}

export async function curlPush(registryUrl: string, repository: string, file: string, digest: string): Promise<CurlPushResult> {
  const dir = await mkdtemp(join(tmpdir(), 'emp-bench-curl-'))
  try {
    const wallStart = performance.now()
    let started = performance.now()
    const post = await rawRequest(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' })
    const location = header(post.headers.location)
    if (post.status !== 202 || location === undefined) throw new Error(`curl baseline: POST answered ${post.status}`)
    const postMs = performance.now() - started

    const headersFile = join(dir, 'headers.txt')
    const run = await runTimed('curl', [
      '--silent', '--show-error', '--fail',
      '-X', 'PATCH',
      '-T', file,
      '-H', 'Content-Type: application/octet-stream',
      '-H', 'Expect:',
      '-D', headersFile,
      '-o', '/dev/null',
      '-w', '%{time_total} %{http_code}',
      new URL(location, registryUrl).toString(),
    ])
    if (run.code !== 0) throw new Error(`curl baseline: curl failed (${run.code}): ${run.stderr.trim()}`)
    const [timeTotal, code] = run.stdout.trim().split(' ')
    if (code !== '202') throw new Error(`curl baseline: PATCH answered ${code}`)
    const next = /^location:\s*(\S+)\s*$/im.exec(await readFile(headersFile, 'utf8'))?.[1]
    if (next === undefined) throw new Error('curl baseline: PATCH answer had no Location')

    started = performance.now()
    const commit = new URL(next, registryUrl)
    commit.searchParams.set('digest', digest)
    const put = await rawRequest(commit, { method: 'PUT' })
    if (put.status !== 201) throw new Error(`curl baseline: PUT answered ${put.status} ${put.body.toString('utf8')}`)
    const putMs = performance.now() - started
    return {
      ms: postMs + Number(timeTotal) * 1000 + putMs,
      wallMs: performance.now() - wallStart,
      maxRssKiB: run.maxRssKiB,
      cpuMs: run.cpuUserMs + run.cpuSystemMs,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
