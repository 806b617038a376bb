/**
 * `@keyward/client/core`: the client and its errors without the token
 * providers (openid-client) or TLS client authentication (undici), for a
 * browser bundle such as Keyward's web console, which a session cookie
 * authenticates.
 */
export {
  createKeywardClient,
  type FetchLike,
  type JsonMedia,
  type KeywardClient,
  type KeywardClientOptions,
  type KeywardMethod,
  type KeywardResponse,
} from './client.ts';
export { ERROR_CATALOGUE, type ErrorCode } from './error_codes.ts';
export {
  CLIENT_ERROR_CODES,
  isErrorCode,
  isKeywardApiError,
  KeywardApiError,
  type ClientErrorCode,
  type KeywardApiErrorInit,
  type KeywardErrorCode,
  type Problem,
} from './errors.ts';
export type { components, operations, paths } from './schema.ts';
export type { TokenProvider } from './tokens.ts';
