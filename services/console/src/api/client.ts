/**
 * The console's thin typed layer over Keyward's HTTP API, on the same
 * TypeScript client that API clients use (@keyward/client, its browser entry).
 * Every call goes to the same /v1 endpoints that API clients use; the session
 * cookie (HttpOnly, set by Keyward's backend-for-frontend) authenticates it,
 * and the `X-Keyward-Console` header is the CSRF guard Keyward requires on
 * every state-changing call. No token ever reaches page script.
 */
import { createKeywardClient, KeywardApiError, type KeywardClient } from '@keyward/client/core';

/** A problem+json answer (RFC 9457) from Keyward, with its stable code. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** JSON Pointer (RFC 6901) of the field a validation error names, when there is one. */
  readonly pointer: string | undefined;
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    const title = typeof body.title === 'string' ? body.title : `HTTP ${status}`;
    super(typeof body.detail === 'string' ? body.detail : title);
    this.name = 'ApiProblem';
    this.status = status;
    this.body = body;
    this.code = typeof body.code === 'string' ? body.code : `http.${status}`;
    this.title = title;
    this.detail = typeof body.detail === 'string' ? body.detail : undefined;
    this.pointer = typeof body.pointer === 'string' ? body.pointer : problemPointer(body);
  }
}

function problemPointer(body: Record<string, unknown>): string | undefined {
  const errors = body.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    const first = errors[0] as Record<string, unknown>;
    if (typeof first.pointer === 'string') return first.pointer;
    if (typeof first.instancePath === 'string') return first.instancePath;
  }
  return undefined;
}

/** Called with the problem's code when Keyward answers 401 (the session is gone): the app sends the user back to login. */
let onSessionExpired: ((code: string) => void) | undefined;
export function whenSessionExpires(handler: (code: string) => void): void {
  onSessionExpired = handler;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  readonly query?: Query | undefined;
  readonly body?: unknown;
  /** A raw body (PEM text) sent with this content type instead of JSON. */
  readonly contentType?: string | undefined;
  /** Answer as text instead of JSON (PEM downloads). */
  readonly text?: boolean | undefined;
  readonly headers?: Record<string, string> | undefined;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

/**
 * The typed client of the console: same-origin calls with the session cookie and the CSRF header.
 * Its refusals are KeywardApiError; {@link request} turns them into ApiProblem.
 */
export const keyward: KeywardClient = createKeywardClient({
  baseUrl: window.location.origin,
  headers: { 'X-Keyward-Console': '1' },
  fetch: (r) => fetch(r, { credentials: 'same-origin' }),
});

type UntypedCall = (
  method: string,
  url: string,
  init: { headers: Record<string, string>; body?: unknown; bodySerializer?: (b: unknown) => unknown; parseAs: 'text' },
) => Promise<{ data?: string; response: Response }>;

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: options.text ? '*/*' : 'application/json', ...options.headers };
  const raw = options.body !== undefined && options.contentType !== undefined;
  if (raw) headers['Content-Type'] = options.contentType!;
  let answer: { data?: string; response: Response };
  try {
    answer = await (keyward.raw.request as unknown as UntypedCall)(method.toLowerCase(), withQuery(path, options.query), {
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(raw ? { bodySerializer: (b: unknown) => b } : {}),
      parseAs: 'text',
    });
  } catch (err) {
    if (!(err instanceof KeywardApiError)) throw err;
    // No answer: the network error itself, as fetch gave it.
    if (!err.response) throw err.cause ?? err;
    const body =
      typeof err.body === 'object' && err.body !== null
        ? (err.body as Record<string, unknown>)
        : { title: err.response.statusText || `HTTP ${err.status}` };
    const error = new ApiProblem(err.status, body);
    if (err.status === 401 && onSessionExpired) onSessionExpired(error.code);
    throw error;
  }
  const { data: text, response: res } = answer;
  if (res.status === 204) return undefined as T;
  if (options.text) return (text ?? '') as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? JSON.parse(text ?? '') : (text ?? '')) as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', path, { query }),
  text: (path: string, query?: Query) => request<string>('GET', path, { query, text: true }),
  post: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'body'> = {}) => request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, { body }),
  del: <T = void>(path: string, body?: unknown) => request<T>('DELETE', path, { body }),
};

/** Path segment encoding for realm names, client ids and serials. */
export const seg = (s: string) => encodeURIComponent(s);
