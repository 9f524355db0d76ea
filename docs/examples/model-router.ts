import express from 'express'
import { createModelRouter, FilesystemStorage } from 'express-model-push'

const app = express()
app.use(createModelRouter({ storage: new FilesystemStorage({ root: '/var/models' }), maxBlobBytes: 64 * 1024 ** 3 }))
app.listen(11434)
