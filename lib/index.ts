// Public entry point: re-exports only. Each concept lives in its own file.
export * from './errors.js'
export type * from './model/types.js'
export type * from './storage/adapter.js'
export type * from './registry/uploader.js'
