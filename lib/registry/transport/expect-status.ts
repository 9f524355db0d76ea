import type { RegistryError } from '../../errors.js'
import type { RegistryResponse } from '../http-client.js'
import { isRetryableStatus, registryErrorFromResponse } from '../registry-error.js'

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

/** Throw the failure a retry loop should see for a 5xx or 429 answer; any other answer is returned for the caller to judge. */
export function rejectRetryable(response: RegistryResponse, action: string): RegistryResponse {
  if (isRetryableStatus(response.status)) throw unexpected(response, action)
  return response
}
