// Public entry point: re-exports only. Each concept lives in its own file.

// The Express surface and the framework-free core.
export { createPushRouter } from './http/router.js'
export { pushHandler, type PushRequestHandler } from './http/push-handler.js'
export { bodyParserErrorHandler } from './http/parser-errors.js'
export type { ModelApiRouter } from './http/mountable.js'
export type { ErrorBody } from './http/send-error.js'
export { whoamiHandler } from './http/whoami-handler.js'
export type { PushRequestBody } from './http/push-request.js'
export type { PushRouterOptions, ModelRouterOptions } from './options.js'
export type { AllowedRegistries } from './policy/registry-allowed.js'
export type { AllowInsecure } from './policy/insecure-allowed.js'
export { createModelRouter } from './http/model-router.js'
export { blobHandler } from './http/blob-handler.js'
export { copyHandler } from './http/copy-handler.js'
export { deleteHandler } from './http/delete-handler.js'
export { tagsHandler, type ListedModel } from './http/tags-handler.js'
export { versionHandler, rootHandler } from './http/info-handler.js'
export type { ModelRequestHandler } from './http/respond.js'
export { readModelDetails, type ModelDetails } from './model/details.js'
export { pruneBlobs, manifestDigests } from './model/prune.js'
export { pushModel, type PushDependencies, type PushOptions } from './push/push-model.js'
export { createHandler } from './http/create-handler.js'
export { showHandler, type ShowRequestBody } from './http/show-handler.js'
export { createModel, type CreateDependencies, type CreateProgress } from './create/create-model.js'
export { validateCreateBody, type CreateRequest, type CreateRequestBody, type CreateMessage } from './create/create-request.js'
export { showModel, type ShowResponse, type ShowOptions } from './model/show.js'

// Names, contracts and the shipped implementations.
export type * from './model/types.js'
export { parseModelName, formatModelName, displayModelName, repositoryOf, sameModelName, type ParseModelNameOptions } from './model/name.js'
export type { StorageAdapter, OpenBlobOptions, WriteBlobOptions } from './storage/adapter.js'
export type { RegistryUploader, RegistryPush, RegistryTarget, BlobOpener, UploadBlobOptions, ManifestPayload } from './registry/uploader.js'
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
