import { Router } from 'express'
import { resolveOptions, type PushRouterOptions } from '../options.js'
import { handlePush } from './push-handler.js'

/**
 * An Express router serving Ollama's `POST /api/push`. Mount it at the root of an app (or under a
 * prefix: it answers `<prefix>/api/push`). Options are validated once, here.
 */
export function createPushRouter(options: PushRouterOptions = {}): Router {
  const resolved = resolveOptions(options)
  const router = Router()
  router.post('/api/push', (req, res) => handlePush(resolved, req, res))
  return router
}
