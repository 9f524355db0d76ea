#!/usr/bin/env node
// The standalone server: `npx express-model-push`, `npm start`. Serves the router from the embedded
// default store, configured by environment variables only (see --help and lib/server/config.ts).
import { stat } from 'node:fs/promises'
import { helpText, readServerConfig } from './server/config.js'
import { lineLogger } from './server/logger.js'
import { startServer, ServerStartError } from './server/serve.js'

async function main(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(helpText())
    return 0
  }
  if (args.length > 0) {
    process.stderr.write(`express-model-push: unknown argument ${JSON.stringify(args[0])}; it is configured by environment variables (--help)\n`)
    return 2
  }
  const config = readServerConfig(process.env)
  const logger = lineLogger(config.logLevel, (line) => process.stderr.write(line))
  const models = await stat(config.models).catch(() => undefined)
  if (!models?.isDirectory()) {
    logger.warn?.('models directory does not exist; every push will answer "not found" (set OLLAMA_MODELS)', { models: config.models })
  }
  const server = await startServer(config, logger)
  logger.info?.(`listening on ${server.url}`, { models: config.models, pid: process.pid })
  const stop = (signal: NodeJS.Signals) => {
    server.shutdown(signal).then(
      () => {
        logger.info?.('stopped')
        process.exit(0)
      },
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return -1 // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (error: unknown) => {
    const message = error instanceof ServerStartError || error instanceof TypeError ? error.message : String(error)
    process.stderr.write(`express-model-push: ${message}\n`)
    process.exitCode = 1
  },
)
