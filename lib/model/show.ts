import { ModelPushError } from '../errors.js'
import { fileTypeName } from '../gguf/file-type.js'
import { GgufError } from '../gguf/gguf-error.js'
import { readGguf, type GgufValue } from '../gguf/read-gguf.js'
import type { StorageAdapter } from '../storage/adapter.js'
import { throwIfAborted } from '../storage/blob-verifier.js'
import { readJsonObject, readSmallBlob } from '../storage/small-blob.js'
import { readModelDetails, type ModelDetails } from './details.js'
import { goSharpV, goV, modelfileQuote } from './go-format.js'
import { displayModelName } from './name.js'
import type { ModelName, OperationOptions } from './types.js'

/** The answer of `POST /api/show` (Ollama's `api.ShowResponse`, the fields this package fills). */
export interface ShowResponse {
  license?: string
  modelfile: string
  parameters?: string
  template?: string
  system?: string
  details: ModelDetails
  messages?: Array<{ role: string; content: string }>
  /** The model GGUF's metadata, keys sorted, minus `general.name` and `tokenizer.chat_template`. */
  model_info: Record<string, unknown>
  capabilities?: string[]
  modified_at?: string
}

export interface ShowOptions extends OperationOptions {
  /** Keep every metadata array (tokenizer vocabularies: megabytes). Default false: arrays read as `null`. */
  verbose?: boolean | undefined
  /** Registry host of names without one (for the short name shown). Default `registry.ollama.ai`. */
  defaultRegistry?: string | undefined
  /** Shown (and put in the Modelfile) instead of the model's own system prompt, as Ollama does. */
  system?: string | undefined
}

const MEDIA_PREFIX = 'application/vnd.ollama.image.'
/** Ollama's template for models without one (`template.DefaultTemplate`). */
const DEFAULT_TEMPLATE = '{{ .Prompt }}'
/** Width of the name column of `parameters` (`%-30s`). */
const PARAMETER_COLUMN = 30

/** Ollama's message for an unknown model on show and delete (single quotes, short name). */
export function showNotFound(shortName: string): ModelPushError {
  return new ModelPushError('MODEL_NOT_FOUND', `model '${shortName}' not found`, 'storage')
}

/**
 * What Ollama's `/api/show` says about a local model (`GetModelInfo` in `server/routes.go`): the
 * text layers, parameters as aligned text, a Modelfile, details from the config blob, and the model
 * GGUF's metadata (read from its header: tensor data is never touched).
 */
export async function showModel(storage: StorageAdapter, name: ModelName, options: ShowOptions = {}): Promise<ShowResponse> {
  const { signal } = options
  const shortName = displayModelName(name, { defaultRegistry: options.defaultRegistry })
  const manifest = await storage.readManifest(name, { signal })
  if (manifest === undefined) throw showNotFound(shortName)

  const text = async (digest: string) => (await readSmallBlob(storage, digest, { signal }))?.toString('utf8') ?? ''
  const layerFrom = fromFields(manifest.bytes)
  let modelLayer: { digest: string; size: number; from: string } | undefined
  let template = DEFAULT_TEMPLATE
  let system = ''
  const licenses: string[] = []
  let parameters: Record<string, unknown> = {}
  let messages: Array<{ role: string; content: string }> = []
  let projector = false
  for (const [index, layer] of manifest.layers.entries()) {
    throwIfAborted(signal)
    switch (layer.mediaType.slice(MEDIA_PREFIX.length)) {
      case 'model': modelLayer = { digest: layer.digest, size: layer.size, from: layerFrom[index] ?? '' }; break
      case 'projector': projector = true; break
      case 'template':
      case 'prompt': template = await text(layer.digest); break
      case 'system': system = await text(layer.digest); break
      case 'license': licenses.push(await text(layer.digest)); break
      case 'params': parameters = await readJsonObject(storage, layer.digest, { signal }); break
      case 'messages': messages = await readMessages(storage, layer.digest, signal); break
    }
  }

  if (options.system) system = options.system
  const details = { ...(await readModelDetails(storage, manifest, { signal })), parent_model: modelLayer?.from ?? '' }
  const metadata = modelLayer === undefined ? undefined : await readMetadata(storage, modelLayer, options)
  if (metadata !== undefined && (details.quantization_level === '' || details.quantization_level === 'unknown')) {
    const fileType = fileTypeName(metadata.get('general.file_type'))
    if (fileType !== 'unknown') details.quantization_level = fileType
  }

  const keys = Object.keys(parameters).sort()
  const parameterLines = keys.flatMap((key) => asList(parameters[key]).map((value) => `${key.padEnd(PARAMETER_COLUMN)} ${goSharpV(value)}`))
  const response: ShowResponse = {
    ...(licenses.length > 0 ? { license: licenses.join('\n') } : {}),
    modelfile: modelfile(shortName, { template, system, parameters, keys, licenses, messages }),
    ...(parameterLines.length > 0 ? { parameters: parameterLines.join('\n') } : {}),
    template,
    ...(system !== '' ? { system } : {}),
    details,
    ...(messages.length > 0 ? { messages } : {}),
    model_info: modelInfo(metadata),
  }
  const capabilities = capabilitiesOf(metadata, template, projector)
  if (capabilities.length > 0) response.capabilities = capabilities
  if (manifest.modifiedAt !== undefined) response.modified_at = manifest.modifiedAt.toISOString()
  return response
}

/**
 * The Modelfile text of `ollama show --modelfile`. One deliberate difference: `FROM` names the model
 * (which rebuilds it from the local copy) instead of a blob's path on the server's disk.
 */
function modelfile(
  shortName: string,
  m: { template: string; system: string; parameters: Record<string, unknown>; keys: string[]; licenses: string[]; messages: Array<{ role: string; content: string }> },
): string {
  const lines = [
    '# Modelfile generated by "ollama show"',
    '# To build a new Modelfile based on this, replace FROM with:',
    `# FROM ${shortName}`,
    '',
    `FROM ${shortName}`,
    `TEMPLATE ${modelfileQuote(m.template)}`,
  ]
  if (m.system !== '') lines.push(`SYSTEM ${modelfileQuote(m.system)}`)
  for (const key of m.keys) for (const value of asList(m.parameters[key])) lines.push(`PARAMETER ${key} ${modelfileQuote(goV(value))}`)
  for (const license of m.licenses) lines.push(`LICENSE ${modelfileQuote(license)}`)
  for (const message of m.messages) lines.push(`MESSAGE ${message.role} ${modelfileQuote(message.content)}`)
  return `${lines.join('\n')}\n`
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

/** The `from` field of each layer, read from the manifest's own bytes (descriptors do not carry it). */
function fromFields(bytes: Buffer): string[] {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { layers?: Array<{ from?: unknown }> }
    return (parsed.layers ?? []).map((layer) => (typeof layer?.from === 'string' ? layer.from : ''))
  } catch {
    return []
  }
}

async function readMessages(storage: StorageAdapter, digest: string, signal: AbortSignal | undefined): Promise<Array<{ role: string; content: string }>> {
  const bytes = await readSmallBlob(storage, digest, { signal })
  try {
    const parsed: unknown = JSON.parse(bytes?.toString('utf8') ?? '[]')
    if (!Array.isArray(parsed)) return []
    return parsed.map((m: { role?: unknown; content?: unknown }) => ({ role: String(m?.role ?? ''), content: String(m?.content ?? '') }))
  } catch {
    return []
  }
}

/** The model layer's GGUF metadata; `undefined` when the blob is not GGUF (the model is shown without it). */
async function readMetadata(storage: StorageAdapter, layer: { digest: string; size: number }, options: ShowOptions): Promise<Map<string, GgufValue> | undefined> {
  const stream = await storage.openBlob(layer.digest, { signal: options.signal })
  try {
    const info = await readGguf(stream as AsyncIterable<Buffer>, { size: layer.size, maxArrayLength: options.verbose ? -1 : 0, signal: options.signal })
    info.metadata.set('general.parameter_count', info.parameterCount)
    return info.metadata
  } catch (error) {
    if (error instanceof GgufError) return undefined
    throwIfAborted(options.signal)
    throw error
  } finally {
    stream.destroy()
  }
}

/** Metadata as JSON: keys sorted (a Go map), 64-bit integers as numbers, two keys left out as in Ollama. */
function modelInfo(metadata: Map<string, GgufValue> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (metadata === undefined) return out
  for (const key of [...metadata.keys()].sort()) {
    if (key === 'general.name' || key === 'tokenizer.chat_template') continue
    out[key] = jsonValue(metadata.get(key)!)
  }
  return out
}

function jsonValue(value: GgufValue): unknown {
  if (typeof value === 'bigint') return Number(value)
  if (Array.isArray(value)) return value.map(jsonValue)
  return value
}

/** Ollama's capability guesses that need no template engine: completion or embedding, tools, insert, vision. */
function capabilitiesOf(metadata: Map<string, GgufValue> | undefined, template: string, projector: boolean): string[] {
  if (metadata === undefined) return []
  const architecture = metadata.get('general.architecture')
  const pooling = typeof architecture === 'string' && metadata.has(`${architecture}.pooling_type`)
  const out = [pooling ? 'embedding' : 'completion']
  if (!pooling && template.includes('.Tools')) out.push('tools')
  if (!pooling && template.includes('.Suffix')) out.push('insert')
  if (projector || (typeof architecture === 'string' && metadata.has(`${architecture}.vision.block_count`))) out.push('vision')
  return out
}
