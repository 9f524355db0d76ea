import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { Ollama } from 'ollama'

const server = 'http://127.0.0.1:11434'
const file = 'model.gguf'
const model = 'registry.example.com/team/m:q4'

// 1. The file's digest, read as a stream (models are many GiB).
const hash = createHash('sha256')
for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
const digest = `sha256:${hash.digest('hex')}`

// 2. Upload it raw, streamed: 201 stored, 200 already there, 400 digest mismatch.
const upload = await fetch(`${server}/api/blobs/${digest}`, {
  method: 'POST',
  body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
  duplex: 'half',
})
if (!upload.ok) throw new Error(`upload: ${upload.status} ${await upload.text()}`)

// 3. Create a model from it. ollama-js forwards `files`, although its request type lacks it.
const ollama = new Ollama({ host: server })
const request = { model, files: { [file]: digest }, system: 'You answer briefly.' }
await ollama.create(request as Parameters<typeof ollama.create>[0] & { stream?: false })

// 4. Push it, with Ollama's progress lines.
for await (const p of await ollama.push({ model, stream: true })) console.log(p.status, p.completed ?? '')
