import type { StorageAdapter } from '../storage/adapter.js'
import type { OperationOptions, StoredManifest } from './types.js'

/**
 * A model's `details`, as Ollama's `/api/tags` and `/api/show` answer them (`api.ModelDetails`),
 * read from the config blob Ollama writes (`model.ConfigV2`).
 */
export interface ModelDetails {
  /** Always `""` here (Ollama fills it only for models made from a local file path). */
  parent_model: string
  /** Config `model_format`, e.g. `gguf`. */
  format: string
  /** Config `model_family`, e.g. `llama`. */
  family: string
  /** Config `model_families`; `null` when the config has none (Go's nil slice). */
  families: string[] | null
  /** Config `model_type`: the parameter count in Ollama's form, e.g. `8.0B`. */
  parameter_size: string
  /** Config `file_type`: the GGUF file type's name, e.g. `Q4_K_M`. */
  quantization_level: string
}

/** A config blob larger than this is not read: Ollama's are a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * The `details` of a stored model, from its config blob. A config that is absent, too large or not
 * the JSON Ollama writes gives empty fields rather than an error, so one odd model never breaks a
 * listing. Storage failures other than absence still reject.
 */
export async function readModelDetails(storage: StorageAdapter, manifest: StoredManifest, options: OperationOptions = {}): Promise<ModelDetails> {
  const config = await readConfig(storage, manifest, options)
  const text = (key: string) => (typeof config[key] === 'string' ? config[key] : '')
  const families = config.model_families
  return {
    parent_model: '',
    format: text('model_format'),
    family: text('model_family'),
    families: Array.isArray(families) && families.every((f) => typeof f === 'string') ? families : null,
    parameter_size: text('model_type'),
    quantization_level: text('file_type'),
  }
}

async function readConfig(storage: StorageAdapter, manifest: StoredManifest, options: OperationOptions): Promise<Record<string, unknown>> {
  const { digest, size } = manifest.config
  if (size > MAX_CONFIG_BYTES) return {}
  const stat = await storage.statBlob(digest, options)
  if (stat === undefined || stat.size > MAX_CONFIG_BYTES) return {}
  const chunks: Buffer[] = []
  let length = 0
  const stream = await storage.openBlob(digest, options)
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > MAX_CONFIG_BYTES) {
      stream.destroy()
      return {}
    }
    chunks.push(Buffer.from(chunk))
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
