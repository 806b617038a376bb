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
export * from './core.ts';
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
