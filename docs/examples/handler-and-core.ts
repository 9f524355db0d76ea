import express from 'express'
import { bodyParserErrorHandler, MemoryStorage, OciRegistryUploader, pushHandler, pushModel } from 'express-model-push'

const storage = new MemoryStorage()
const app = express()
// The handler alone, on a path of your own; the error handler answers body-parser failures there.
app.post('/models/push', express.json(), pushHandler({ storage, defaultRegistry: process.env.DEFAULT_REGISTRY }))
app.use('/models', bodyParserErrorHandler)

// The framework-free core: an async iterable of Ollama's progress lines.
const uploader = new OciRegistryUploader()
for await (const p of pushModel('localhost:5000/team/llama:q4', { storage, uploader }, { insecure: true })) console.log(p.status)
