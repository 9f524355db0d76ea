import { fileTypeName } from '../gguf/file-type.js'
import type { GgufInfo } from '../gguf/read-gguf.js'
import { humanNumber } from '../model/human-number.js'
import { goJson } from './go-json.js'

/** What the config blob says about the model (Ollama's `model.ConfigV2`). */
export interface ModelConfig {
  model_format: string
  model_family: string
  model_families: string[] | null
  model_type: string
  file_type: string
  /** Carried over from a `from` model's config when it has them (Ollama does the same). */
  renderer?: string
  parser?: string
  requires?: string
  capabilities?: string[]
}

/** An empty config, to be filled from model layers (Ollama's `cmp.Or`: the first non-empty value wins). */
export function emptyConfig(): ModelConfig {
  return { model_format: '', model_family: '', model_families: null, model_type: '', file_type: '' }
}

/** Fold one model layer's GGUF metadata into the config, as Ollama's `createModel` does per model layer. */
export function addModelLayer(config: ModelConfig, info: GgufInfo): void {
  const architecture = stringValue(info.metadata.get('general.architecture')) || 'unknown'
  config.model_format ||= 'gguf'
  config.model_family ||= architecture
  config.model_type ||= humanNumber(info.parameterCount)
  config.file_type ||= fileTypeName(info.metadata.get('general.file_type'))
  config.model_families = [...(config.model_families ?? []), architecture]
}

/** Fields a parent's config hands down when its model layer cannot be read as GGUF. */
export function inheritConfig(config: ModelConfig, parent: Record<string, unknown>): void {
  config.model_format ||= stringValue(parent.model_format)
  config.model_family ||= stringValue(parent.model_family)
  config.model_type ||= stringValue(parent.model_type)
  config.file_type ||= stringValue(parent.file_type)
  if (config.model_families === null && Array.isArray(parent.model_families) && parent.model_families.every((f) => typeof f === 'string')) {
    config.model_families = [...(parent.model_families as string[])]
  }
}

/** Settings Ollama copies from a `from` model's config whatever its layers are. */
export function inheritSettings(config: ModelConfig, parent: Record<string, unknown>): void {
  for (const key of ['renderer', 'parser', 'requires'] as const) {
    const value = stringValue(parent[key])
    if (value) config[key] = value
  }
  if (Array.isArray(parent.capabilities) && parent.capabilities.length > 0 && parent.capabilities.every((c) => typeof c === 'string')) {
    config.capabilities = [...(parent.capabilities as string[])]
  }
}

/**
 * The config blob's bytes: `ConfigV2`'s fields in Go's order (`omitempty` ones left out when empty),
 * Ollama's `architecture: "amd64"`, `os: "linux"`, and the `rootfs` older Ollama (≤ 0.32.6) wrote.
 */
export function configBytes(config: ModelConfig, layerDigests: readonly string[]): Buffer {
  return goJson({
    model_format: config.model_format,
    model_family: config.model_family,
    model_families: config.model_families,
    model_type: config.model_type,
    file_type: config.file_type,
    ...(config.renderer ? { renderer: config.renderer } : {}),
    ...(config.parser ? { parser: config.parser } : {}),
    ...(config.requires ? { requires: config.requires } : {}),
    ...(config.capabilities?.length ? { capabilities: config.capabilities } : {}),
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layerDigests },
  })
}

function stringValue(value: unknown): string {
  return typeof value === 'string' ? value : ''
}
