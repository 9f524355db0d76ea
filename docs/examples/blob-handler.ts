import express from 'express'
import { blobHandler, FilesystemStorage } from 'express-model-push'

const storage = new FilesystemStorage()
const app = express()
app.all('/blobs/:digest', blobHandler({ storage, maxBlobBytes: 64 * 1024 ** 3 }))
