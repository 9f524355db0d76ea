import express from 'express'
import { createHandler, showHandler, FilesystemStorage } from 'express-model-push'

const app = express()
const options = { storage: new FilesystemStorage() }
app.post('/api/create', createHandler(options))
app.post('/api/show', showHandler(options))
