import { Router } from 'express'
import { resolveOptions, type PushRouterOptions } from '../options.js'
import { mountable, type ModelApiRouter } from './mountable.js'
import { handlePush } from './push-handler.js'

/**
 * An Express router serving Ollama's `POST /api/push`. Mount it at the root of an app (or under a
 * prefix: it answers `<prefix>/api/push`). Options are validated once, here. Body parsers mounted
 * before it cannot break it (see `mountable`).
 */
export function createPushRouter(options: PushRouterOptions = {}): ModelApiRouter {
  const resolved = resolveOptions(options)
  const router = Router()
  router.post('/api/push', (req, res) => handlePush(resolved, req, res))
  return mountable(router, ['/api/push'])
}
