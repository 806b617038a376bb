/**
 * The web console at /console/: its login endpoints (/console/auth/*) and its
 * built files. Not part of the API (no OpenAPI entry): the single-page
 * application calls these and the `/v1/*` API with its session cookie.
 *
 * - `GET /console/auth/realms`: realms one may log in to (managed realms and master).
 * - `GET /console/auth/login?realm=R&return=/console/…`: 302 to Keycloak.
 * - `GET /console/auth/callback`: 303 back to the return path with the session cookie,
 *   or to `/console/?login_error=<code>`.
 * - `GET /console/auth/session`: who is logged in (never a token).
 * - `POST /console/auth/logout`: revokes and ends the session; the SPA goes to the returned end-session URL.
 *
 * Files: `/console/assets/*` (hashed names) are cached for a year; `index.html`
 * is served, uncached, for `/console` and every other path under it, so the
 * application's own routes survive a reload.
 */
import express, { type Request, type Response, type Router } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isKeywardError, KeywardError } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/log.ts';
import { checkCsrf, CSRF_HEADER, parseCookies, sessionCookies } from './cookies.ts';
import type { ConsoleSessions } from './sessions.ts';

export interface ConsoleRoutesOptions {
  readonly sessions: ConsoleSessions;
  readonly publicUrl: string;
  /** Whether KEYWARD_PUBLIC_URL was set; else Origin is compared with the request's own host. */
  readonly publicUrlSet: boolean;
  /** The built console (index.html, assets/). */
  readonly dir: string;
  readonly realms: () => Promise<Array<{ name: string; displayName: string | undefined }>>;
  readonly log: Logger;
}

/** The origin a session-authenticated request must come from. */
export function expectedOrigin(req: Request, publicUrl: string, publicUrlSet: boolean): string {
  return publicUrlSet ? new URL(publicUrl).origin : `${req.protocol}://${req.get('host') ?? ''}`;
}

/** Stable codes of a failed login, as `login_error` tells the SPA. */
const LOGIN_ERRORS = new Set([
  'realm.not_found',
  'realm.missing_in_keycloak',
  'console_client.missing',
  'login.state_invalid',
  'login.denied',
  'login.failed',
  'keycloak.unavailable',
  'keycloak.rejected',
  'store.unavailable',
]);

export function consoleRouter(o: ConsoleRoutesOptions): Router {
  const router = express.Router();
  const cookies = sessionCookies(o.publicUrl);
  const csp = [
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    `form-action 'self' ${o.sessions.keycloakOrigin}`,
  ].join('; ');
  router.use('/console', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  const sessionId = (req: Request) => parseCookies(req.get('cookie')).get(cookies.name);
  const loginError = (res: Response, err: unknown, status: 302 | 303, what: string, realm?: string) => {
    const code = isKeywardError(err) && LOGIN_ERRORS.has(err.code) ? err.code : 'login.failed';
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    const cause = isKeywardError(err) ? (err.cause as Error | undefined)?.message : (err as Error)?.message;
    o.log.warn(`console ${what} failed`, { requestId, code, realm, detail: (err as Error)?.message, cause });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(status, `/console/?login_error=${encodeURIComponent(code)}`);
  };

  router.get('/console/auth/realms', async (_req, res) => {
    const list = (await o.realms()).map((r) => ({ name: r.name, displayName: r.displayName ?? r.name }));
    res.setHeader('Cache-Control', 'no-store');
    res.json({ realms: [...list, { name: 'master', displayName: 'Keyward operators (master realm)' }] });
  });

  router.get('/console/auth/login', async (req, res) => {
    const realm = typeof req.query.realm === 'string' ? req.query.realm : '';
    try {
      if (!realm) throw new KeywardError('realm.not_found', 'Name the realm to log in to');
      const { url, stateCookie } = await o.sessions.startLogin(realm, req.query.return);
      res.setHeader('Set-Cookie', cookies.setLogin(stateCookie));
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, url);
    } catch (err) {
      loginError(res, err, 302, 'login', realm);
    }
  });

  router.get('/console/auth/callback', async (req, res) => {
    const state = parseCookies(req.get('cookie')).get(cookies.loginName);
    res.setHeader('Set-Cookie', cookies.clearLogin());
    try {
      const done = await o.sessions.finishLogin(state, req.query as Record<string, unknown>);
      await o.sessions.forget(sessionId(req)); // a session this browser had before is replaced
      res.setHeader('Set-Cookie', [cookies.clearLogin(), cookies.set(done.sessionId)]);
      res.setHeader('Cache-Control', 'no-store');
      o.log.info('console login', { realm: done.realm, username: done.username });
      res.redirect(303, done.returnTo);
    } catch (err) {
      loginError(res, err, 303, 'login callback');
    }
  });

  router.get('/console/auth/session', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const id = sessionId(req);
    const view = await o.sessions.view(id);
    if (!view) {
      if (id) res.setHeader('Set-Cookie', cookies.clear());
      res.json({ authenticated: false });
      return;
    }
    res.json({ authenticated: true, ...view });
  });

  router.post('/console/auth/logout', async (req, res) => {
    checkCsrf({
      method: req.method,
      header: req.get(CSRF_HEADER),
      origin: req.get('origin'),
      expectedOrigin: expectedOrigin(req, o.publicUrl, o.publicUrlSet),
    });
    const endSessionUrl = await o.sessions.logout(sessionId(req));
    res.setHeader('Set-Cookie', cookies.clear());
    res.setHeader('Cache-Control', 'no-store');
    res.json({ endSessionUrl });
  });

  // Files.
  const index = join(o.dir, 'index.html');
  const notBuilt = (req: Request, res: Response) => {
    const detail = 'The web console is not built: build it with `npm run console:build` (scripts/up does it)';
    if (req.accepts(['application/json', 'html']) === 'html') {
      res
        .status(503)
        .type('html')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Keyward console not built</title>' +
            '<h1>The Keyward web console is not built</h1><p>Build it with <code>npm run console:build</code> (scripts/up does it).</p>',
        );
      return;
    }
    throw new KeywardError('console.not_built', detail);
  };
  router.use(
    '/console/assets',
    express.static(join(o.dir, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true, redirect: false }),
  );
  router.get('/console/assets/{*splat}', (req) => {
    throw new KeywardError('request.not_found', `No console file ${req.path}`);
  });
  router.all('/console/auth/{*splat}', (req) => {
    throw new KeywardError('request.not_found', `No endpoint ${req.method} ${req.path}`);
  });
  router.use(
    '/console',
    express.static(o.dir, {
      index: false,
      redirect: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  const app = (req: Request, res: Response) => {
    if (!existsSync(index)) {
      notBuilt(req, res);
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  };
  // One path per route: the access log and metrics name a route by its path.
  router.get('/console', app);
  router.get('/console/{*splat}', app);
  return router;
}
