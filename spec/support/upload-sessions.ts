// Upload sessions still open in a real registry's storage. distribution keeps a session as
// `repositories/<name>/_uploads/<uuid>/` with a `startedat` file; a committed or cancelled (DELETE)
// session loses it. `cutOff` counts open sessions holding bytes of a PATCH that was cut off:
// distribution 2.8 refuses to cancel those (the session's `_state` offset no longer matches:
// BLOB_UPLOAD_INVALID), so no client can close them; the registry's upload purging does.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface OpenSessions {
  open: number
  cutOff: number
}

export async function openUploadSessions(storageDir: string): Promise<OpenSessions> {
  const found = { open: 0, cutOff: 0 }
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue
      const path = join(dir, entry.name)
      if (entry.name === '_uploads') {
        for (const session of await readdir(path).catch(() => [] as string[])) {
          if (!(await readdir(join(path, session)).catch(() => [] as string[])).includes('startedat')) continue
          found.open++
          if (((await stat(join(path, session, 'data')).catch(() => undefined))?.size ?? 0) > 0) found.cutOff++
        }
      } else if (!entry.name.startsWith('_')) await walk(path)
    }
  }
  await walk(join(storageDir, 'docker', 'registry', 'v2', 'repositories'))
  return found
}

/** Poll until only cut-off sessions (which no client can close) are open, or `deadlineMs` passes. */
export async function settledUploadSessions(storageDir: string, deadlineMs = 5_000): Promise<OpenSessions> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const sessions = await openUploadSessions(storageDir)
    if (sessions.open === sessions.cutOff || Date.now() >= until) return sessions
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
