import { Ollama } from 'ollama'

const ollama = new Ollama({ host: 'http://127.0.0.1:11434' })
for await (const p of await ollama.push({ model: 'registry.example.com/team/llama:q4', stream: true })) console.log(p)
