/**
 * Where the client's bearer credential comes from: a token given once, a
 * Keyward personal access token, or an OAuth 2.0 client credentials grant
 * (RFC 6749 §4.4) at the API client's Keycloak realm, cached and renewed
 * before it expires.
 */
import * as oidc from 'openid-client';
import { KeywardApiError } from './errors.ts';

/**
 * Gives the bearer credential for the next call, or undefined to send none.
 * Called before every request; a provider caches what is costly to get.
 */
export type TokenProvider = () => Promise<string | undefined>;

/**
 * An access token obtained elsewhere (a CI job's token, a token exchange).
 *
 * @example
 * createKeywardClient({ baseUrl, token: staticToken(tokenFromMyCiJob) });
 */
export function staticToken(token: string): TokenProvider {
  if (!token) throw new TypeError('staticToken needs a non-empty token');
  return async () => token;
}

/**
 * A Keyward personal access token (`kwp_<id>_<secret>`), sent as a bearer token.
 *
 * @example
 * createKeywardClient({ baseUrl, token: personalAccessToken(pat) });
 */
export function personalAccessToken(pat: string): TokenProvider {
  if (!/^kwp_[A-Za-z0-9]+_[A-Za-z0-9_-]+$/.test(pat)) throw new TypeError('a personal access token looks like kwp_<id>_<secret>');
  return async () => pat;
}

/** A token and how long it lives, as a token endpoint answers (`expires_in`, RFC 6749 §5.1). */
export interface IssuedToken {
  readonly accessToken: string;
  /** Seconds from now; undefined when the endpoint did not say (then 60 s is assumed). */
  readonly expiresInSeconds: number | undefined;
}

export interface CachedTokenOptions {
  /** Get the next token this many seconds before the current one expires (default 30), at most half its lifetime. */
  readonly refreshBeforeSeconds?: number;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  readonly now?: () => number;
}

/** A provider that also forgets its token, so the next call gets a new one (after a 401, or a rotated secret). */
export interface RenewingTokenProvider extends TokenProvider {
  invalidate(): void;
}

/**
 * Caches the tokens `issue` gives and asks for the next one before the current
 * one expires; concurrent callers share one request, and a failed request is
 * not cached.
 *
 * @example
 * const provider = cachedToken(async () => ({ accessToken: await mint(), expiresInSeconds: 300 }));
 */
export function cachedToken(issue: () => Promise<IssuedToken>, options: CachedTokenOptions = {}): RenewingTokenProvider {
  const now = options.now ?? Date.now;
  const before = (options.refreshBeforeSeconds ?? 30) * 1000;
  if (!(before >= 0)) throw new TypeError('refreshBeforeSeconds must be a number ≥ 0');
  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const provider = async (): Promise<string> => {
    if (current && now() < current.renewAt) return current.token;
    pending ??= (async () => {
      try {
        const issued = await issue();
        const lifetime = (issued.expiresInSeconds ?? 60) * 1000;
        const start = now();
        current = { token: issued.accessToken, renewAt: start + lifetime - Math.min(before, lifetime / 2) };
        return issued.accessToken;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
  return Object.assign(provider, {
    invalidate: () => {
      current = undefined;
    },
  });
}

export interface ClientCredentialsOptions extends CachedTokenOptions {
  /** The API client's realm as an issuer URL: `https://sso.example/realms/acme`. */
  readonly issuer: string | URL;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated scopes to ask for; Keycloak's defaults when absent. */
  readonly scope?: string;
  /** Allow an http:// issuer (a development Keycloak); refused otherwise. */
  readonly allowInsecureHttp?: boolean;
  /** Milliseconds Keycloak may take to answer (default 30 000). */
  readonly timeoutMs?: number;
}

/**
 * Tokens of an API client by the client credentials grant, the secret sent
 * with HTTP Basic authentication (RFC 6749 §2.3.1), through openid-client. The
 * issuer's discovery document is read once. Keycloak's refusal (a wrong secret,
 * a disabled client) or silence becomes a KeywardApiError `client.token_failed`
 * whose cause is openid-client's error.
 *
 * @example
 * const token = clientCredentials({ issuer: 'https://sso.example/realms/acme', clientId: 'deployer', clientSecret });
 * const kw = createKeywardClient({ baseUrl: 'https://keyward.example', token });
 */
export function clientCredentials(options: ClientCredentialsOptions): RenewingTokenProvider {
  const issuer = new URL(options.issuer);
  if (!options.clientId) throw new TypeError('clientCredentials needs a clientId');
  if (!options.clientSecret) throw new TypeError('clientCredentials needs a clientSecret');
  if (issuer.protocol === 'http:' && !options.allowInsecureHttp)
    throw new TypeError(`the issuer ${issuer.origin} is not https://; pass allowInsecureHttp: true for a development Keycloak`);
  const timeout = Math.ceil((options.timeoutMs ?? 30_000) / 1000);
  let config: Promise<oidc.Configuration> | undefined;
  const discover = () =>
    (config ??= oidc
      .discovery(issuer, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        timeout,
        ...(issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((err: unknown) => {
        config = undefined;
        throw err;
      }));
  return cachedToken(async () => {
    try {
      const t = await oidc.clientCredentialsGrant(await discover(), options.scope ? { scope: options.scope } : undefined);
      return { accessToken: t.access_token, expiresInSeconds: t.expiresIn() };
    } catch (err) {
      const e = err as { error?: string; error_description?: string; code?: string; message?: string };
      const reason = e.error ? `${e.error}${e.error_description ? `: ${e.error_description}` : ''}` : (e.message ?? String(err));
      throw new KeywardApiError(
        {
          status: 0,
          code: 'client.token_failed',
          detail: `no access token for client ${options.clientId} from ${issuer.href.replace(/\/$/, '')} (${reason})`,
        },
        { cause: err },
      );
    }
  }, options);
}
