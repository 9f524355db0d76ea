// `express-model-push/contract`: the shared contract suites (node:test), re-exports only.
export {
  storageAdapterContract,
  contractModel,
  type StorageContractModel,
  type StorageContractOptions,
  type StorageContractSubject,
} from './storage.js'
export {
  registryUploaderContract,
  type UploaderContractOptions,
  type UploaderContractSubject,
  type UploaderReadBack,
} from './uploader.js'
