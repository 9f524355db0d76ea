import type { RegistryError } from '../../errors.js'
import type { RegistryResponse } from '../http-client.js'
import { registryErrorFromResponse } from '../registry-error.js'

/**
 * The one place an unexpected registry answer becomes an error: returns `response` when its status
 * is one of `codes`, else throws the `RegistryError` the answer means (status, OCI codes, redacted
 * URL, whether a retry makes sense, `Retry-After`).
 */
export function expectStatus(response: RegistryResponse, action: string, ...codes: number[]): RegistryResponse {
  if (codes.includes(response.status)) return response
  throw unexpected(response, action)
}

/** The error for an answer that is not what `action` needed. */
export function unexpected(response: RegistryResponse, action: string): RegistryError {
  return registryErrorFromResponse(response, { action, url: response.url })
}
