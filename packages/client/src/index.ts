/**
 * `@keyward/client`: the typed TypeScript client of Keyward's REST API.
 *
 * @example
 * import { clientCredentials, createKeywardClient, isKeywardApiError } from '@keyward/client';
 *
 * const kw = createKeywardClient({
 *   baseUrl: 'https://keyward.example',
 *   token: clientCredentials({ issuer: 'https://sso.example/realms/acme', clientId: 'deployer', clientSecret }),
 * });
 * try {
 *   const { data } = await kw.POST('/v1/realms/{realm}/certificates', { params: { path: { realm: 'acme' } }, body: { csr } });
 * } catch (err) {
 *   if (isKeywardApiError(err, 'policy.san_not_allowed')) console.error(err.detail);
 * }
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
export {
  cachedToken,
  clientCredentials,
  personalAccessToken,
  staticToken,
  type CachedTokenOptions,
  type ClientCredentialsOptions,
  type IssuedToken,
  type RenewingTokenProvider,
  type TokenProvider,
} from './tokens.ts';
