import { Router } from 'express'
import { resolveOptions, type ModelRouterOptions } from '../options.js'
import { handleHeadBlob, postBlob } from './blob-handler.js'
import { handleCopy } from './copy-handler.js'
import { handleCreate } from './create-handler.js'
import { handleDelete } from './delete-handler.js'
import { rootHandler, versionHandler } from './info-handler.js'
import { handlePush } from './push-handler.js'
import { handleShow } from './show-handler.js'
import { mountable, type ModelApiRouter } from './mountable.js'
import { handleTags } from './tags-handler.js'
import { handleWhoami } from './whoami-handler.js'

/**
 * An Express router serving Ollama's model-management API: push, blob upload and check, create,
 * show, copy, delete, list (tags), version, the root probe and `POST /api/me` (the Go CLI's sign-in check for ollama.com). Mount it at the root of an app (or under a
 * prefix). Body parsers mounted before it cannot break it (see `mountable`). Options are `createPushRouter`'s plus the ingest limits, validated once, here.
 */
export function createModelRouter(options: ModelRouterOptions = {}): ModelApiRouter {
  const resolved = resolveOptions(options, 'model')
  const router = Router()
  const root = rootHandler()
  router.get('/', root)
  router.head('/', root)
  router.get('/api/version', versionHandler())
  router.post('/api/push', (req, res) => handlePush(resolved, req, res))
  router.post('/api/me', (req, res) => handleWhoami(resolved, req, res))
  router.head('/api/blobs/:digest', (req, res) => handleHeadBlob(resolved, req, res))
  router.post('/api/blobs/:digest', postBlob(resolved))
  router.post('/api/create', (req, res) => handleCreate(resolved, req, res))
  router.post('/api/show', (req, res) => handleShow(resolved, req, res))
  router.post('/api/copy', (req, res) => handleCopy(resolved, req, res))
  router.delete('/api/delete', (req, res) => handleDelete(resolved, req, res))
  router.get('/api/tags', (req, res) => handleTags(resolved, req, res))
  router.head('/api/tags', (req, res) => handleTags(resolved, req, res))
  return mountable(router, ['/', '/api/version', '/api/push', '/api/me', '/api/blobs/:digest', '/api/create', '/api/show', '/api/copy', '/api/delete', '/api/tags'])
}
