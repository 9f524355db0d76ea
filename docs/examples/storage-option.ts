import express from 'express'
import { createPushRouter, FilesystemStorage } from 'express-model-push'

const app = express()
app.use(createPushRouter({ storage: new FilesystemStorage({ root: '/srv/ollama/models' }) }))
