import { MemoryStorage } from 'express-model-push'

const weights = Buffer.alloc(1024 * 1024)
const storage = new MemoryStorage()
const manifestBytes = storage.addModel('registry.test/team/llama:q4', {
  config: Buffer.from('{"model_format":"gguf"}'), // or { mediaType, data }
  layers: [
    { mediaType: 'application/vnd.ollama.image.model', data: weights },
    { mediaType: 'application/vnd.ollama.image.template', data: Buffer.from('{{ .Prompt }}') },
  ],
})
const { layers } = JSON.parse(manifestBytes.toString('utf8')) as { layers: Array<{ digest: string }> }
await storage.deleteBlob(layers[0]!.digest) // make a model incomplete
