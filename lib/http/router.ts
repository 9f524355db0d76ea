import { Router } from 'express'
import { resolveOptions, type PushRouterOptions } from '../options.js'
import { mountable, type ModelApiRouter } from './mountable.js'
import { handlePush } from './push-handler.js'
import { handleWhoami } from './whoami-handler.js'

/**
 * An Express router serving Ollama's `POST /api/push`, plus what the Go CLI asks before a push:
 * `HEAD /` (its heartbeat, 200) and `POST /api/me` (see `whoamiHandler`). Mount it at the root of
 * an app (or under a prefix: it answers `<prefix>/api/push`). Options are validated once, here.
 * Body parsers mounted before it cannot break it (see `mountable`).
 */
export function createPushRouter(options: PushRouterOptions = {}): ModelApiRouter {
  const resolved = resolveOptions(options)
  const router = Router()
  router.head('/', (_req, res) => {
    res.status(200).end()
  })
  router.post('/api/push', (req, res) => handlePush(resolved, req, res))
  router.post('/api/me', (req, res) => handleWhoami(resolved, req, res))
  return mountable(router, ['/', '/api/push', '/api/me'])
}
