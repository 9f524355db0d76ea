// Standalone server: `npm start`. Serves POST /api/push from the embedded default store
// (FilesystemStorage at $OLLAMA_MODELS or ~/.ollama/models) on $HOST:$PORT (127.0.0.1:11434).
import express from 'express'
import { createPushRouter } from './http/router.js'
import type { Logger } from './model/types.js'
import { FilesystemStorage } from './storage/filesystem.js'

const port = Number(process.env.PORT ?? 11434)
const host = process.env.HOST ?? '127.0.0.1'
const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`)
const logger: Logger = { info: line('info'), warn: line('warn'), error: line('error') }

const storage = new FilesystemStorage()
const app = express()
app.disable('x-powered-by')
app.get('/', (_req, res) => {
  res.type('text/plain').send('express-model-push is running')
})
app.use(createPushRouter({ storage, logger }))
const server = app.listen(port, host, () => {
  const address = server.address()
  const where = typeof address === 'object' && address ? `${address.address}:${address.port}` : String(address)
  logger.info?.(`listening on http://${where}`, { models: storage.root })
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
