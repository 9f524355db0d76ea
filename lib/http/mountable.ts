import express, { type Application, type Express, type Router } from 'express'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bodyParserErrorHandler } from './parser-errors.js'

/** What `createPushRouter` (and every router of this package) returns: an Express sub-app. */
export type ModelApiRouter = Express

/**
 * Wrap a router so that body parsers mounted *before* it cannot break its routes.
 *
 * Express never hands an error to a normal middleware: when `express.json()` in front of the router
 * fails on malformed JSON, the router is skipped and Express answers with its HTML error page. Only
 * an error handler placed *after* the router sees that error. So the router travels inside a
 * sub-app, which Express tells when it is mounted (`app.use(router)` emits `mount`); at that moment
 * an error handler for the router's own `routes` is added right after it in the host's app. It
 * answers nothing else: the host's other routes keep their own error handling. Mounting on an
 * `express.Router()` emits no `mount`: mount `bodyParserErrorHandler` there yourself.
 *
 * `routes` are Express-style paths relative to the mount point (`/api/push`, `/api/blobs/:digest`).
 */
export function mountable(router: Router, routes: readonly string[]): ModelApiRouter {
  const app = express()
  // A sub-app's own default settings would shadow the host's (it inherits the rest on mount).
  delete (app.settings as Record<string, unknown>)['x-powered-by']
  app.use(router)
  app.use(bodyParserErrorHandler)
  const ours = routes.map(routePattern)
  const forOurRoutes = (error: unknown, req: IncomingMessage & { path?: string }, res: ServerResponse, next: (error?: unknown) => void) => {
    if (ours.some((pattern) => pattern.test(req.path ?? ''))) bodyParserErrorHandler(error, req, res, next)
    else next(error)
  }
  app.on('mount', (parent: Application) => {
    parent.use(app.mountpath, forOurRoutes)
  })
  return app
}

/** `/api/blobs/:digest` → a RegExp matching one path segment per parameter. */
function routePattern(route: string): RegExp {
  const escaped = route
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${escaped}/?$`, 'i')
}
