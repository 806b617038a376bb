/**
 * The CLI's HTTP client for a Keyward server: what CI pipelines use. It is the
 * TypeScript client `@keyward/client` (packages/client), authenticated with
 * KEYWARD_TOKEN, or with a token by client credentials (KEYWARD_CLIENT_ID /
 * KEYWARD_CLIENT_SECRET in KEYWARD_CLIENT_REALM) from KEYWARD_KEYCLOAK_URL, or
 * with the stored login of `keyward login`.
 *
 * `api.client` is the typed client; `api.request(method, path, body)` and
 * {@link mutualTlsRequest} are untyped calls over the same client. Problem
 * details from the server become CliApiError with the stable code, by both.
 */
import {
  clientCredentials,
  createKeywardClient,
  KeywardApiError,
  staticToken,
  type KeywardClient,
  type TokenProvider,
} from '@keyward/client';
import * as oidc from 'openid-client';
import { readLogin, writeLogin } from './credentials.ts';

export class CliApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, code: string, message: string, body: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliApiError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

export interface Api {
  readonly baseUrl: string;
  /** The typed client (@keyward/client) with the same credential; its refusals are CliApiError too. */
  readonly client: KeywardClient;
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** A GET whose answer is read as it arrives (an export): the response of a 2xx, else CliApiError. */
  download(path: string, accept: string): Promise<Response>;
}

/** True for the refusals of a Keyward server, by either client: `err.status` is the HTTP status, 0 without an answer. */
export function isApiError(err: unknown): err is CliApiError | KeywardApiError {
  return err instanceof CliApiError || err instanceof KeywardApiError;
}

/** The token of `keyward login`, refreshed when it is about to expire. */
async function storedLogin(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const login = readLogin(env);
  if (!login) return undefined;
  if (login.expiresAt - Date.now() > 10_000) return login.accessToken;
  if (!login.refreshToken) throw new Error('the stored login has expired: run keyward login again');
  const cfg = await oidc.discovery(
    new URL(`${login.keycloakUrl}/realms/${login.realm}`),
    login.clientId,
    undefined,
    oidc.None(),
    new URL(login.keycloakUrl).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
  );
  let t;
  try {
    t = await oidc.refreshTokenGrant(cfg, login.refreshToken);
  } catch {
    throw new Error('the stored login has expired: run keyward login again');
  }
  writeLogin(
    {
      ...login,
      accessToken: t.access_token,
      refreshToken: t.refresh_token ?? login.refreshToken,
      expiresAt: Date.now() + (t.expiresIn() ?? 60) * 1000,
    },
    env,
  );
  return t.access_token;
}

/** KEYWARD_TOKEN, else the client credentials of KEYWARD_CLIENT_*, else the stored login (none: no credential). */
function tokenFromEnv(env: NodeJS.ProcessEnv): TokenProvider {
  if (env.KEYWARD_TOKEN) return staticToken(env.KEYWARD_TOKEN);
  if (!env.KEYWARD_CLIENT_ID) return () => storedLogin(env);
  if (!env.KEYWARD_KEYCLOAK_URL || !env.KEYWARD_CLIENT_SECRET)
    return async () => {
      throw new Error('KEYWARD_CLIENT_ID needs KEYWARD_CLIENT_SECRET and KEYWARD_KEYCLOAK_URL (or set KEYWARD_TOKEN)');
    };
  const kcUrl = env.KEYWARD_KEYCLOAK_URL.replace(/\/+$/, '');
  return clientCredentials({
    issuer: `${kcUrl}/realms/${env.KEYWARD_CLIENT_REALM ?? 'master'}`,
    clientId: env.KEYWARD_CLIENT_ID,
    clientSecret: env.KEYWARD_CLIENT_SECRET,
    allowInsecureHttp: new URL(kcUrl).protocol === 'http:',
    refreshBeforeSeconds: 10,
  });
}

/** The CLI's words for the client's errors: the codes and messages the CLI has always printed. */
function cliError(err: unknown, hint: string): unknown {
  if (!(err instanceof KeywardApiError)) return err;
  if (err.code === 'client.unreachable') return new CliApiError(0, 'cli.unreachable', `${err.detail}${hint}`, undefined, { cause: err });
  if (err.code === 'client.unexpected_response' && err.status >= 400) {
    const code = `http.${err.status}`;
    const b = err.body as { detail?: unknown; title?: unknown } | undefined;
    const said = typeof b === 'object' && b !== null ? (b.detail ?? b.title) : undefined;
    return new CliApiError(err.status, code, `${typeof said === 'string' ? said : err.detail} [${code}]`, err.body, { cause: err });
  }
  return new CliApiError(err.status, err.code, err.message, err.body, { cause: err });
}

/** An untyped call: the answer's JSON, or its text when it is not JSON (a PEM download). */
async function untyped<T>(client: KeywardClient, method: string, path: string, body: unknown, hint: string): Promise<T> {
  const call = client.raw.request as unknown as (
    m: string,
    url: string,
    init: { body?: unknown; parseAs: 'text' },
  ) => Promise<{ data?: string; response: Response }>;
  let text: string | undefined;
  try {
    ({ data: text } = await call(method.toLowerCase(), path, { ...(body !== undefined ? { body } : {}), parseAs: 'text' }));
  } catch (err) {
    throw cliError(err, hint);
  }
  try {
    return (text ? JSON.parse(text) : undefined) as T;
  } catch {
    return text as T;
  }
}

/** The typed client whose methods throw the CLI's words (`raw` is left as it is). */
function translated(client: KeywardClient, hint: string): KeywardClient {
  const wrap = <F extends (...args: never[]) => Promise<unknown>>(f: F): F =>
    (async (...args: Parameters<F>) => {
      try {
        return await f(...args);
      } catch (err) {
        throw cliError(err, hint);
      }
    }) as F;
  return Object.freeze({
    ...client,
    GET: wrap(client.GET),
    PUT: wrap(client.PUT),
    POST: wrap(client.POST),
    PATCH: wrap(client.PATCH),
    DELETE: wrap(client.DELETE),
  });
}

export function apiFromEnv(env: NodeJS.ProcessEnv = process.env): Api {
  const baseUrl = (env.KEYWARD_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const client = translated(createKeywardClient({ baseUrl, token: tokenFromEnv(env) }), '; set KEYWARD_URL');
  return {
    baseUrl,
    client,
    request: (method, path, body) => untyped(client, method, path, body, '; set KEYWARD_URL'),
    download: async (path, accept) => {
      const call = client.raw.request as unknown as (
        m: string,
        url: string,
        init: { parseAs: 'stream'; headers: Record<string, string> },
      ) => Promise<{ response: Response }>;
      try {
        return (await call('get', path, { parseAs: 'stream', headers: { accept } })).response;
      } catch (err) {
        throw cliError(err, '; set KEYWARD_URL');
      }
    },
  };
}

/** The client certificate (and the CA to trust) of a call on Keyward's HTTPS listener authenticated by TLS alone. */
export interface MutualTls {
  readonly cert: string;
  readonly key: string;
  /** PEM of the CAs that vouch for the listener's certificate; the system's CAs when absent. */
  readonly ca?: string | undefined;
}

/**
 * The typed client on Keyward's HTTPS listener with a TLS client certificate
 * as the only credential (`keyward certificate renew`); it gives up after 30 s.
 */
export async function mutualTlsClient(baseUrl: string, tls: MutualTls): Promise<KeywardClient> {
  if (new URL(baseUrl).protocol !== 'https:')
    throw new CliApiError(0, 'cli.not_https', `${baseUrl} is not an https:// URL: renewal needs TLS`, undefined);
  const { mutualTlsFetch } = await import('@keyward/client/mtls');
  return translated(createKeywardClient({ baseUrl, fetch: mutualTlsFetch(tls), timeoutMs: 30_000 }), '');
}

/**
 * A JSON call on Keyward's HTTPS listener with a TLS client certificate as
 * the only credential. Problem details become CliApiError with the stable
 * code, as for {@link apiFromEnv}.
 */
export async function mutualTlsRequest<T = any>(baseUrl: string, tls: MutualTls, method: string, path: string, body?: unknown): Promise<T> {
  return untyped<T>(await mutualTlsClient(baseUrl, tls), method, path, body, '');
}
