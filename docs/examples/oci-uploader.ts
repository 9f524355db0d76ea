import fs from 'node:fs'
import express from 'express'
import { createPushRouter, OciRegistryUploader, type Logger } from 'express-model-push'

declare function pino(): Logger // any logger with debug/info/warn/error methods

const app = express()
const uploader = new OciRegistryUploader({ ca: fs.readFileSync('/etc/ssl/private-ca.pem'), logger: pino() })
app.use(createPushRouter({ uploader }))
