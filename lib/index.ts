// Public entry point: re-exports only. Each concept lives in its own file.

// The Express surface and the framework-free core.
export { createPushRouter } from './http/router.js'
export { pushHandler, type PushRequestHandler } from './http/push-handler.js'
export { whoamiHandler } from './http/whoami-handler.js'
export type { PushRequestBody } from './http/push-request.js'
export type { PushRouterOptions } from './options.js'
export { pushModel, type PushDependencies, type PushOptions } from './push/push-model.js'

// Names, contracts and the shipped implementations.
export type * from './model/types.js'
export { parseModelName, formatModelName, displayModelName, type ParseModelNameOptions } from './model/name.js'
export type { StorageAdapter, OpenBlobOptions, WriteBlobOptions } from './storage/adapter.js'
export type { RegistryUploader, RegistryTarget, BlobOpener, UploadBlobOptions, ManifestPayload } from './registry/uploader.js'
export { FilesystemStorage, type FilesystemStorageOptions } from './storage/filesystem.js'
export { MemoryStorage, type MemoryStorageOptions } from './storage/memory.js'
export { OciRegistryUploader, type OciRegistryUploaderOptions } from './registry/oci-uploader.js'

// Ollama's signed-key auth (registry.ollama.ai / ollama.com), for custom uploaders.
export { OllamaKey, defaultOllamaKeyPath } from './registry/ollama/key.js'
export {
  ollamaTokenSource,
  type TokenSource,
  type TokenChallenge,
  type TokenContext,
  type TokenHttpSend,
  type TokenHttpRequest,
  type TokenHttpResponse,
  type OllamaTokenSourceOptions,
} from './registry/ollama/token-source.js'
export { DEFAULT_OLLAMA_HOSTS, matchesOllamaHost } from './registry/ollama/hosts.js'

// Helpers for authors of their own storage adapters (see docs/storage-adapter.md).
export { partProblem, modelNameKey } from './model/name.js'
export { isSha256Digest, parseStoredManifest, serializeManifest } from './storage/manifest.js'

// Errors.
export * from './errors.js'
