/**
 * The web console's cookies, return paths and cross-site request forgery
 * rules, as pure functions (RFC 6265bis cookie prefixes; OAuth 2.0 for
 * Browser-Based Applications, RFC 10017, on backend-for-frontend cookies):
 *
 * - the session cookie is `__Host-keyward-session` (Secure, HttpOnly,
 *   SameSite=Strict, Path=/, no Domain) when Keyward's public URL is https,
 *   and `keyward-session` (HttpOnly, SameSite=Strict, Path=/) on plain http,
 *   where browsers refuse the `__Host-` prefix (loopback development);
 * - the login-state cookie lives only between the redirect to Keycloak and the
 *   callback: SameSite=Lax (it must come back on Keycloak's top-level
 *   redirect), Path=/console/auth;
 * - a session-authenticated request that changes something must carry
 *   `X-Keyward-Console: 1` (a cross-site form or image cannot set a header, and
 *   a cross-site fetch with it needs a CORS preflight that Keyward never
 *   answers), and its `Origin`, when present, must be Keyward's own.
 */
import { KeywardError } from '../../kernel/errors.ts';

export const LOGIN_COOKIE = 'keyward-console-login';
export const CSRF_HEADER = 'x-keyward-console';
/** How long a login may take between the redirect to Keycloak and the callback. */
export const LOGIN_STATE_SECONDS = 600;

export interface CookieOptions {
  readonly httpOnly?: boolean;
  readonly secure?: boolean;
  readonly sameSite?: 'Strict' | 'Lax';
  readonly path?: string;
  readonly maxAge?: number;
}

const COOKIE_VALUE = /^[A-Za-z0-9._~+/=-]*$/;

/** A Set-Cookie header value. Values are restricted to cookie-safe characters (ours are base64url). */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new TypeError(`bad cookie name ${name}`);
  if (!COOKIE_VALUE.test(value)) throw new TypeError('bad cookie value');
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/'}`];
  if (options.maxAge !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAge))}`);
  if (options.httpOnly ?? true) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  parts.push(`SameSite=${options.sameSite ?? 'Strict'}`);
  return parts.join('; ');
}

/** The cookies of a Cookie header (first value wins, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export interface SessionCookies {
  readonly name: string;
  /** The login-state cookie's name (`__Secure-` prefixed on https). */
  readonly loginName: string;
  readonly secure: boolean;
  /** Set-Cookie for a new session. */
  set(value: string): string;
  /** Set-Cookie that removes the session cookie. */
  clear(): string;
  /** Set-Cookie for the login state. */
  setLogin(value: string): string;
  clearLogin(): string;
}

/** The cookies of a Keyward whose public URL is `publicUrl`. */
export function sessionCookies(publicUrl: string): SessionCookies {
  const secure = new URL(publicUrl).protocol === 'https:';
  const name = secure ? '__Host-keyward-session' : 'keyward-session';
  const login = secure ? `__Secure-${LOGIN_COOKIE}` : LOGIN_COOKIE;
  const base = { httpOnly: true, secure, path: '/' } as const;
  const loginBase = { httpOnly: true, secure, path: '/console/auth', sameSite: 'Lax' } as const;
  return {
    name,
    loginName: login,
    secure,
    set: (value) => serializeCookie(name, value, { ...base, sameSite: 'Strict' }),
    clear: () => serializeCookie(name, '', { ...base, sameSite: 'Strict', maxAge: 0 }),
    setLogin: (value) => serializeCookie(login, value, { ...loginBase, maxAge: LOGIN_STATE_SECONDS }),
    clearLogin: () => serializeCookie(login, '', { ...loginBase, maxAge: 0 }),
  };
}

/**
 * Where the browser goes after login: a path under /console/ of Keyward
 * itself, else /console/. No scheme, no host, no `//` or `/\` (which browsers
 * read as another host), no `..` segments, no control characters.
 */
export function safeReturnPath(raw: unknown): string {
  const fallback = '/console/';
  if (typeof raw !== 'string' || raw.length > 2048) return fallback;
  if (!raw.startsWith('/console/') && raw !== '/console') return fallback;
  if (/[\u0000-\u001f\u007f\\]/.test(raw) || raw.startsWith('//')) return fallback;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return fallback;
  }
  if (/(^|\/)\.\.?(\/|$|\?|#)/.test(decoded.split(/[?#]/)[0]!) || /[\\\u0000-\u001f]/.test(decoded)) return fallback;
  const u = new URL(raw, 'http://keyward.invalid');
  if (u.host !== 'keyward.invalid' || !(u.pathname.startsWith('/console/') || u.pathname === '/console')) return fallback;
  return u.pathname + u.search + u.hash;
}

export const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The CSRF rule of session-authenticated requests; throws 403 `session.csrf`.
 * `expectedOrigin`: the origin of KEYWARD_PUBLIC_URL (or of the request's own host when that is unset).
 */
export function checkCsrf(request: {
  method: string;
  header: string | undefined;
  origin: string | undefined;
  expectedOrigin: string;
}): void {
  if (!UNSAFE_METHODS.has(request.method.toUpperCase())) return;
  if (request.header !== '1') {
    throw new KeywardError('session.csrf', 'A console request that changes something must carry the header X-Keyward-Console: 1');
  }
  if (request.origin !== undefined && request.origin !== request.expectedOrigin) {
    throw new KeywardError('session.csrf', `A console request from origin ${request.origin.slice(0, 200)} is refused`);
  }
}
