/**
 * The console's thin typed layer over Keyward's HTTP API. Every call goes to
 * the same /v1 endpoints that API clients use; the session cookie (HttpOnly,
 * set by Keyward's backend-for-frontend) authenticates it, and the
 * `X-Keyward-Console` header is the CSRF guard Keyward requires on every
 * state-changing call. No token ever reaches page script.
 */

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

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { 'X-Keyward-Console': '1', Accept: 'application/json', ...options.headers };
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    if (options.contentType) {
      headers['Content-Type'] = options.contentType;
      body = options.body as BodyInit;
    } else {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
  }
  if (options.text) headers.Accept = '*/*';
  const res = await fetch(withQuery(path, options.query), { method, headers, body, credentials: 'same-origin' });
  if (!res.ok) {
    let problem: Record<string, unknown> = {};
    try {
      problem = (await res.json()) as Record<string, unknown>;
    } catch {
      problem = { title: res.statusText || `HTTP ${res.status}` };
    }
    const error = new ApiProblem(res.status, problem);
    if (res.status === 401 && onSessionExpired) onSessionExpired(error.code);
    throw error;
  }
  if (res.status === 204) return undefined as T;
  if (options.text) return (await res.text()) as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
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
