/**
 * Keyward's own session with Keycloak's admin API: the control-plane client of
 * the master realm, authenticated with client credentials through
 * openid-client, handed to @keycloak/keycloak-admin-client as a token provider.
 *
 * Why a token provider: since admin-client 26.5.3 `auth()` refreshes with a
 * refresh token, which a client-credentials grant never returns, so after the
 * master realm's 60 s token lifespan every call would fail
 * with "Cannot refresh token: missing refresh token or credentials" (see the
 * Keycloak 26.5.3 release notes). We re-grant 10 s before expiry instead.
 */
import KcAdminClient from '@keycloak/keycloak-admin-client';
import * as oidc from 'openid-client';
import { KeywardError } from '../kernel/errors.ts';
import { unavailable } from './errors.ts';

export interface AdminSessionOptions {
  readonly url: string;
  /** Keycloak's public base URL in tokens' `iss`, when Keyward reaches Keycloak at another address. */
  readonly issuerUrl?: string | undefined;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timeoutMs: number;
}

export interface AdminSession {
  readonly client: KcAdminClient;
  /** A fresh master-realm access token of the control-plane client. */
  accessToken(): Promise<string>;
}

/** Options for openid-client that allow plain http only for loopback development servers. */
export function oidcExecute(url: string): { execute?: Array<(c: oidc.Configuration) => void> } {
  return new URL(url).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {};
}

export async function discover(
  url: string,
  realm: string,
  clientId: string,
  auth: oidc.ClientAuth,
  timeoutMs: number,
  issuerUrl?: string,
): Promise<oidc.Configuration> {
  if (issuerUrl && issuerUrl.replace(/\/+$/, '') !== url.replace(/\/+$/, '')) {
    // Keycloak's discovery document names its public address, which Keyward may not reach (a cluster-internal
    // service, say): the token endpoint is taken at the address Keyward uses, the issuer is the public one.
    const base = `${url.replace(/\/+$/, '')}/realms/${encodeURIComponent(realm)}`;
    const config = new oidc.Configuration(
      {
        issuer: `${issuerUrl.replace(/\/+$/, '')}/realms/${encodeURIComponent(realm)}`,
        token_endpoint: `${base}/protocol/openid-connect/token`,
      },
      clientId,
      undefined,
      auth,
    );
    if (new URL(url).protocol === 'http:') oidc.allowInsecureRequests(config);
    config.timeout = Math.ceil(timeoutMs / 1000);
    return config;
  }
  try {
    return await oidc.discovery(new URL(`${url}/realms/${encodeURIComponent(realm)}`), clientId, undefined, auth, {
      ...oidcExecute(url),
      timeout: Math.ceil(timeoutMs / 1000),
    });
  } catch (err) {
    throw unavailable(`discover realm ${realm}`, err);
  }
}

export function createAdminSession(options: AdminSessionOptions): AdminSession {
  let config: oidc.Configuration | undefined;
  let cached: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  const grant = async (): Promise<string> => {
    config ??= await discover(
      options.url,
      'master',
      options.clientId,
      oidc.ClientSecretBasic(options.clientSecret),
      options.timeoutMs,
      options.issuerUrl,
    );
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.clientCredentialsGrant(config);
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError) {
        throw new KeywardError(
          'keycloak.rejected',
          `Keycloak refused Keyward's client credentials for ${options.clientId} (${err.error}); run keyward bootstrap`,
          { cause: err },
        );
      }
      throw unavailable('obtain an admin token', err);
    }
    cached = { token: tokens.access_token, expiresAt: Date.now() + (tokens.expiresIn() ?? 60) * 1000 };
    return tokens.access_token;
  };

  const accessToken = async (): Promise<string> => {
    if (cached && cached.expiresAt - Date.now() > 10_000) return cached.token;
    inflight ??= grant().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  const client = new KcAdminClient({ baseUrl: options.url, realmName: 'master', timeout: options.timeoutMs });
  client.registerTokenProvider({ getAccessToken: accessToken });
  return { client, accessToken };
}
