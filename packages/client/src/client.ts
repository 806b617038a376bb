/**
 * A typed client for Keyward's REST API: openapi-fetch over the types that
 * openapi-typescript generated from the server's OpenAPI 3.1 document
 * (schema.ts). Paths, parameters, bodies and answers are checked by the
 * compiler; every answer with an error status, and every failure to get one,
 * is thrown as a {@link KeywardApiError}, so a call returns its data.
 */
import createClient, { type Client, type FetchResponse, type MaybeOptionalInit, type Middleware } from 'openapi-fetch';
import type { HttpMethod, PathsWithMethod, RequiredKeysOf } from 'openapi-typescript-helpers';
import { errorFromAnswer, KeywardApiError, networkReason } from './errors.ts';
import type { paths } from './schema.ts';
import type { RenewingTokenProvider, TokenProvider } from './tokens.ts';

/** The media types whose bodies the typed methods return: JSON. */
export type JsonMedia = `${string}/json`;

/** A fetch the client calls with a complete Request (the global fetch by default). */
export type FetchLike = (request: Request) => Promise<Response>;

export interface KeywardClientOptions {
  /** Keyward's address: `https://keyward.example` (paths start with /v1). */
  readonly baseUrl: string | URL;
  /** The bearer credential: a provider (clientCredentials, personalAccessToken, …) or a token string. None when absent. */
  readonly token?: TokenProvider | string;
  /** Headers sent with every call (the caller's own headers win over these). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Abort a call that has no answer after this many milliseconds (`client.timeout`); no limit when absent. */
  readonly timeoutMs?: number;
  /** The fetch to call: `mutualTlsFetch(…)` from `@keyward/client/mtls` for TLS client authentication, or a test double. */
  readonly fetch?: FetchLike;
}

type InitParam<Init> = RequiredKeysOf<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }];

type Data<T> = [T] extends [never] ? undefined : T;

/** What a typed call resolves to: the parsed success body and the Response (status, headers such as Location). */
export interface KeywardResponse<Operation, Init> {
  readonly data: Operation extends Record<string | number, any>
    ? Data<NonNullable<FetchResponse<Operation, Init, JsonMedia>['data']>>
    : never;
  readonly response: Response;
}

/** One HTTP method of the typed client, e.g. `kw.GET('/v1/realms/{realm}/policies', { params: { path: { realm } } })`. */
export type KeywardMethod<M extends HttpMethod> = <P extends PathsWithMethod<paths, M>, I extends MaybeOptionalInit<paths[P], M>>(
  url: P,
  ...init: InitParam<I>
) => Promise<KeywardResponse<paths[P][M], I>>;

export interface KeywardClient {
  readonly baseUrl: string;
  readonly GET: KeywardMethod<'get'>;
  readonly PUT: KeywardMethod<'put'>;
  readonly POST: KeywardMethod<'post'>;
  readonly PATCH: KeywardMethod<'patch'>;
  readonly DELETE: KeywardMethod<'delete'>;
  /**
   * The openapi-fetch client underneath, with the same credential and the same
   * errors (they throw too): for `parseAs: 'text'` downloads or its `request(method, …)`.
   */
  readonly raw: Client<paths, JsonMedia>;
}

const isJson = (type: string | null) => type !== null && /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type);

/**
 * @example
 * const kw = createKeywardClient({
 *   baseUrl: 'https://keyward.example',
 *   token: clientCredentials({ issuer: 'https://sso.example/realms/acme', clientId: 'deployer', clientSecret }),
 * });
 * const { data } = await kw.GET('/v1/realms/{realm}/policies', { params: { path: { realm: 'acme' } } });
 */
export function createKeywardClient(options: KeywardClientOptions): KeywardClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError(`${base.href} is not an http(s) URL`);
  const baseUrl = base.href.replace(/\/+$/, '');
  const given = options.token;
  const token: TokenProvider | undefined = typeof given === 'string' ? async () => given : given;
  const underlying: FetchLike = options.fetch ?? ((r) => globalThis.fetch(r));
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new TypeError('timeoutMs must be a positive number of milliseconds');
  const send: FetchLike =
    timeoutMs === undefined
      ? underlying
      : (r) => underlying(new Request(r, { signal: AbortSignal.any([r.signal, AbortSignal.timeout(timeoutMs)]) }));

  const raw = createClient<paths, JsonMedia>({
    baseUrl,
    fetch: send,
    headers: { accept: 'application/json', ...options.headers },
  });
  const middleware: Middleware = {
    async onRequest({ request }) {
      if (!token || request.headers.has('authorization')) return undefined;
      const t = await token();
      if (t) request.headers.set('authorization', `Bearer ${t}`);
      return request;
    },
    async onResponse({ response, options: o }) {
      // A refused token (revoked, or its client's secret rotated) is not offered again: the next call gets a new one.
      if (response.status === 401) (token as Partial<RenewingTokenProvider> | undefined)?.invalidate?.();
      if (!response.ok) throw errorFromAnswer(response, await response.text());
      const length = response.headers.get('content-length');
      if (o.parseAs === 'json' && response.status !== 204 && length !== '0' && !isJson(response.headers.get('content-type')))
        throw new KeywardApiError({
          status: response.status,
          code: 'client.unexpected_response',
          detail: `HTTP ${response.status} answered ${response.headers.get('content-type') ?? 'no content type'}, not JSON`,
          body: await response.text(),
          response,
        });
      return undefined;
    },
    onError({ error, request }) {
      if (error instanceof KeywardApiError) return error;
      const name = (error as { name?: string } | undefined)?.name;
      if (name === 'AbortError') return error as Error;
      const at = new URL(request.url).origin;
      if (name === 'TimeoutError')
        return new KeywardApiError(
          { status: 0, code: 'client.timeout', detail: `no answer from Keyward at ${at} within ${timeoutMs} ms` },
          { cause: error },
        );
      return new KeywardApiError(
        { status: 0, code: 'client.unreachable', detail: `cannot reach Keyward at ${at} (${networkReason(error)})` },
        { cause: error },
      );
    },
  };
  raw.use(middleware);

  const method =
    <M extends HttpMethod>(m: M): KeywardMethod<M> =>
    async (url, ...init) => {
      try {
        const { data, response } = await (raw.request as (m: M, u: string, i?: unknown) => Promise<{ data?: unknown; response: Response }>)(
          m,
          url as string,
          init[0],
        );
        return { data, response } as never;
      } catch (err) {
        if (err instanceof SyntaxError)
          throw new KeywardApiError(
            { status: 0, code: 'client.unexpected_response', detail: `the answer to ${m.toUpperCase()} ${String(url)} is not valid JSON` },
            { cause: err },
          );
        throw err;
      }
    };

  return Object.freeze({
    baseUrl,
    GET: method('get'),
    PUT: method('put'),
    POST: method('post'),
    PATCH: method('patch'),
    DELETE: method('delete'),
    raw,
  });
}
