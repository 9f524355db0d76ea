import type { Logger } from '../model/types.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * A logger writing one readable line per event, `<time> <level> <message> key=value …`, and only at
 * or above `level`: the per-request registry objects are `debug`, pushes and errors `info` and up.
 */
export function lineLogger(level: LogLevel, write: (line: string) => void): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (name: Exclude<LogLevel, 'silent'>) =>
    LOG_LEVELS.indexOf(name) < threshold
      ? undefined
      : (message: string, fields?: Record<string, unknown>) => write(`${new Date().toISOString()} ${name} ${message}${formatFields(fields)}\n`)
  const logger: Logger = {}
  for (const name of ['debug', 'info', 'warn', 'error'] as const) {
    const method = at(name)
    if (method) logger[name] = method
  }
  return logger
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return ''
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}=${formatValue(value)}`)
    .join('')
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value) ?? String(value)
}
