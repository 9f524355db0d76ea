/**
 * The benchmark's client of `POST /api/push`: a plain Node request, the answer consumed as NDJSON
 * line by line the way the `ollama` client does, and checked: 200, `application/x-ndjson`, no
 * `error` line, `retrieving manifest` first, `pushing manifest` then `success` last, every blob
 * ending with `completed` = `total`.
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'

export interface HttpPushResult {
  ms: number
  /** Time to the first progress line (the pre-flight checks). */
  firstLineMs: number
  lines: number
}

interface ProgressLine {
  status?: string
  digest?: string
  total?: number
  completed?: number
  error?: string
}

export function httpPush(port: number, model: string): Promise<HttpPushResult> {
  const body = JSON.stringify({ model, insecure: true, stream: true })
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/push', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (response) => {
        let firstLineMs: number | undefined
        const lines: ProgressLine[] = []
        let pending = ''
        response.setEncoding('utf8')
        response.on('data', (text: string) => {
          pending += text
          let newline: number
          while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline)
            pending = pending.slice(newline + 1)
            if (line.trim() === '') continue
            firstLineMs ??= performance.now() - started
            lines.push(JSON.parse(line) as ProgressLine)
          }
        })
        response.on('error', reject)
        response.on('end', () => {
          const ms = performance.now() - started
          try {
            if (pending.trim() !== '') lines.push(JSON.parse(pending) as ProgressLine)
            checkProgress(response.statusCode, response.headers['content-type'], lines, model)
            resolve({ ms, firstLineMs: firstLineMs ?? ms, lines: lines.length })
          } catch (error) {
            reject(error)
          }
        })
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

function checkProgress(status: number | undefined, contentType: string | undefined, lines: readonly ProgressLine[], model: string): void {
  const fail = (why: string) => {
    throw new Error(`POST /api/push ${model}: ${why}\n${lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`)
  }
  if (status !== 200) fail(`status ${status}`)
  if (!contentType?.startsWith('application/x-ndjson')) fail(`content-type ${contentType}`)
  const error = lines.find((line) => line.error !== undefined)
  if (error) fail(`error line: ${error.error}`)
  if (lines[0]?.status !== 'retrieving manifest') fail('first line is not "retrieving manifest"')
  if (lines.at(-1)?.status !== 'success') fail('last line is not "success"')
  if (lines.at(-2)?.status !== 'pushing manifest') fail('"pushing manifest" does not precede "success"')
  const last = new Map<string, ProgressLine>()
  for (const line of lines) if (line.digest !== undefined) last.set(line.digest, line)
  for (const [digest, line] of last) if ((line.completed ?? 0) !== (line.total ?? 0)) fail(`blob ${digest} did not end with completed = total`)
}
