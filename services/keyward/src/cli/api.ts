/**
 * The CLI's HTTP client for a Keyward server: what CI pipelines use. It
 * authenticates with KEYWARD_TOKEN, or gets a token by client credentials
 * (KEYWARD_CLIENT_ID / KEYWARD_CLIENT_SECRET in KEYWARD_CLIENT_REALM) from
 * KEYWARD_KEYCLOAK_URL. Problem details from the server become CliApiError
 * with the stable code.
 */
import * as oidc from 'openid-client';
import { readLogin, writeLogin } from './credentials.ts';

export class CliApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, code: string, message: string, body: unknown) {
    super(message);
    this.name = 'CliApiError';
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

export interface Api {
  readonly baseUrl: string;
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** A GET whose answer is read as it arrives (an export): the response of a 2xx, else CliApiError. */
  download(path: string, accept: string): Promise<Response>;
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

export function apiFromEnv(env: NodeJS.ProcessEnv = process.env): Api {
  const baseUrl = (env.KEYWARD_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  let cached: { token: string; exp: number } | undefined;
  const token = async (): Promise<string | undefined> => {
    if (env.KEYWARD_TOKEN) return env.KEYWARD_TOKEN;
    if (!env.KEYWARD_CLIENT_ID) return storedLogin(env);
    if (cached && cached.exp - Date.now() > 10_000) return cached.token;
    if (!env.KEYWARD_KEYCLOAK_URL || !env.KEYWARD_CLIENT_SECRET)
      throw new Error('KEYWARD_CLIENT_ID needs KEYWARD_CLIENT_SECRET and KEYWARD_KEYCLOAK_URL (or set KEYWARD_TOKEN)');
    const kcUrl = env.KEYWARD_KEYCLOAK_URL.replace(/\/+$/, '');
    const realm = env.KEYWARD_CLIENT_REALM ?? 'master';
    const cfg = await oidc.discovery(
      new URL(`${kcUrl}/realms/${realm}`),
      env.KEYWARD_CLIENT_ID,
      undefined,
      oidc.ClientSecretBasic(env.KEYWARD_CLIENT_SECRET),
      new URL(kcUrl).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
    const t = await oidc.clientCredentialsGrant(cfg);
    cached = { token: t.access_token, exp: Date.now() + (t.expiresIn() ?? 60) * 1000 };
    return cached.token;
  };
  const send = async (method: string, path: string, body: unknown, accept: string): Promise<Response> => {
    const t = await token();
    try {
      return await fetch(baseUrl + path, {
        method,
        headers: {
          accept,
          ...(t ? { authorization: `Bearer ${t}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliApiError(
        0,
        'cli.unreachable',
        `cannot reach Keyward at ${baseUrl} ` +
          `(${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}); set KEYWARD_URL`,
        undefined,
      );
    }
  };
  const refused = async (res: Response): Promise<CliApiError> => {
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    const code = parsed?.code ?? `http.${res.status}`;
    return new CliApiError(res.status, code, `${parsed?.detail ?? parsed?.title ?? res.statusText} [${code}]`, parsed);
  };
  return {
    baseUrl,
    async download(path, accept) {
      const res = await send('GET', path, undefined, accept);
      if (!res.ok) throw await refused(res);
      return res;
    },
    async request(method, path, body) {
      const t = await token();
      let res: Response;
      try {
        res = await fetch(baseUrl + path, {
          method,
          headers: {
            accept: 'application/json',
            ...(t ? { authorization: `Bearer ${t}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        throw new CliApiError(
          0,
          'cli.unreachable',
          `cannot reach Keyward at ${baseUrl} ` +
            `(${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}); set KEYWARD_URL`,
          undefined,
        );
      }
      const text = await res.text();
      let parsed: any;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      if (!res.ok) {
        const code = parsed?.code ?? `http.${res.status}`;
        throw new CliApiError(res.status, code, `${parsed?.detail ?? parsed?.title ?? res.statusText} [${code}]`, parsed);
      }
      return parsed;
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
 * A JSON call on Keyward's HTTPS listener with a TLS client certificate as
 * the only credential (`keyward certificate renew`). Problem details become
 * CliApiError with the stable code, as for {@link apiFromEnv}.
 */
export async function mutualTlsRequest<T = any>(baseUrl: string, tls: MutualTls, method: string, path: string, body?: unknown): Promise<T> {
  const { request } = await import('node:https');
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  if (url.protocol !== 'https:')
    throw new CliApiError(0, 'cli.not_https', `${baseUrl} is not an https:// URL: renewal needs TLS`, undefined);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca ? { ca: tls.ca } : {}),
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
        timeout: 30_000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) =>
      reject(new CliApiError(0, 'cli.unreachable', `cannot reach Keyward at ${url.origin} (${(err as Error).message})`, undefined)),
    );
    req.end(payload);
  });
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (status < 200 || status >= 300) {
    const code = parsed?.code ?? `http.${status}`;
    throw new CliApiError(status, code, `${parsed?.detail ?? parsed?.title ?? `HTTP ${status}`} [${code}]`, parsed);
  }
  return parsed as T;
}
