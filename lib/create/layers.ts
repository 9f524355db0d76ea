import { createHash } from 'node:crypto'
import type { CreateMessage } from './create-request.js'
import { goJson } from './go-json.js'

/** Ollama's layer media types (`server/create.go`, `server/images.go`). */
export const MEDIA = Object.freeze({
  model: 'application/vnd.ollama.image.model',
  adapter: 'application/vnd.ollama.image.adapter',
  projector: 'application/vnd.ollama.image.projector',
  template: 'application/vnd.ollama.image.template',
  system: 'application/vnd.ollama.image.system',
  params: 'application/vnd.ollama.image.params',
  license: 'application/vnd.ollama.image.license',
  messages: 'application/vnd.ollama.image.messages',
})

/** A layer of the manifest being built. `content` is set for a small blob this create makes. */
export interface PlannedLayer {
  mediaType: string
  digest: string
  size: number
  /** Where the layer came from: the parent model's short name (layers from `files` have none). */
  from?: string | undefined
  content?: Buffer | undefined
}

/** A layer whose blob is this text or JSON. */
export function contentLayer(mediaType: string, content: Buffer): PlannedLayer {
  return { mediaType, digest: `sha256:${createHash('sha256').update(content).digest('hex')}`, size: content.length, content }
}

/**
 * Ollama's rules for the layers after the model's own (`createModel` → `setTemplate`, `setSystem`,
 * `setLicense`, `setParameters`, `setMessages`), in that order:
 * - template: a non-empty one replaces every template layer;
 * - system: a non-empty one replaces every system layer (empty keeps the parent's);
 * - licenses: each appended as its own layer, after the parent's;
 * - parameters: the parent's values merged under the new ones; when the result is non-empty it
 *   replaces the params layer (JSON, keys sorted);
 * - messages: a non-empty list replaces the messages layer (JSON array).
 * A replaced layer moves to the end, as in Ollama (remove, then append).
 */
export function applyOverrides(
  layers: PlannedLayer[],
  request: { template: string; system: string; licenses: string[]; parameters: Record<string, unknown>; messages: CreateMessage[] },
  parentParameters: Record<string, unknown>,
): PlannedLayer[] {
  let out = [...layers]
  const replace = (mediaType: string, layer: PlannedLayer) => {
    out = out.filter((l) => l.mediaType !== mediaType)
    out.push(layer)
  }
  if (request.template !== '') replace(MEDIA.template, contentLayer(MEDIA.template, Buffer.from(request.template)))
  if (request.system !== '') replace(MEDIA.system, contentLayer(MEDIA.system, Buffer.from(request.system)))
  for (const license of request.licenses) out.push(contentLayer(MEDIA.license, Buffer.from(license)))
  const parameters = { ...parentParameters, ...request.parameters }
  if (Object.keys(parameters).length > 0) replace(MEDIA.params, contentLayer(MEDIA.params, goJson(parameters, { sortKeys: true })))
  if (request.messages.length > 0) replace(MEDIA.messages, contentLayer(MEDIA.messages, goJson(request.messages.map(storedMessage))))
  return out
}

/** The fields of `api.Message` in Go's field order, empty ones left out (`omitempty`). */
function storedMessage(message: CreateMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: message.role, content: message.content }
  if (message.thinking) out.thinking = message.thinking
  if (message.images && message.images.length > 0) out.images = message.images
  if (message.tool_name) out.tool_name = message.tool_name
  if (message.tool_call_id) out.tool_call_id = message.tool_call_id
  return out
}

/** Manifest bytes as Ollama's `WriteManifest` encodes them: schema 2, layers with `from` when set. */
export function manifestBytes(config: PlannedLayer, layers: readonly PlannedLayer[]): Buffer {
  const descriptor = (l: PlannedLayer) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.from ? { from: l.from } : {}) })
  return goJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: descriptor(config),
    layers: layers.map(descriptor),
  })
}
