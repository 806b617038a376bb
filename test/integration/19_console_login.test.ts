/**
 * Scenario 16 — the web console's login (backend-for-frontend). A real HTTP
 * client plays the browser: it follows redirects by hand, carries cookies,
 * reads Keycloak's real login form (`kc-form-login`) and posts the username
 * and password to it, against the real Keycloak and PostgreSQL.
 */
import { expect } from 'chai';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startRelay, type TcpRelay } from '../support/tcp_proxy.ts';
import { ensureDemoUsers } from '../../services/keyward/src/cli/commands/dev_demo.ts';
import { openJson } from '../../services/keyward/src/http/console/sealed.ts';
import { testDatabase } from '../../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../../services/keyward/src/keycloak/bootstrap.ts';
import { BIN } from '../support/cli.ts';
import { curl, run } from '../support/curl.ts';
import { call, createLoginClient, createUser, integrationEnv, keycloakAdmin, operatorToken, unique, userToken } from '../support/env.ts';

const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

interface Hop {
  readonly url: string;
  readonly status: number;
  readonly location: string | undefined;
  readonly setCookies: string[];
  readonly body: string;
}

/** A browser: a cookie jar (by name; host and port are one site here, as for browsers), redirects followed by hand. */
class Browser {
  readonly jar = new Map<string, string>();
  readonly hops: Hop[] = [];

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(url: string, init: RequestInit = {}): Promise<Hop> {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.cookieHeader() },
    });
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    const hop = { url, status: res.status, location: location && new URL(location, url).href, setCookies, body: await res.text() };
    this.hops.push(hop);
    return hop;
  }

  /** Follows redirects from `url` until a page that is not one. */
  async follow(url: string, init: RequestInit = {}): Promise<Hop> {
    let hop = await this.request(url, init);
    for (let i = 0; i < 10 && hop.status >= 300 && hop.status < 400 && hop.location; i++) hop = await this.request(hop.location);
    return hop;
  }
}

/** Posts the username and password to Keycloak's login form on `page`; returns the redirect back to Keyward. */
async function submitLogin(b: Browser, page: Hop, username: string, password: string): Promise<Hop> {
  const form = /<form[^>]*id="kc-form-login"[^>]*>/.exec(page.body)?.[0];
  if (!form) throw new Error(`no kc-form-login on ${page.url}: ${page.body.replace(/\s+/g, ' ').slice(0, 300)}`);
  const action = /action="([^"]+)"/.exec(form)![1]!.replace(/&amp;/g, '&');
  const hop = await b.request(new URL(action, page.url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, credentialId: '' }).toString(),
  });
  if (hop.status !== 302 || !hop.location) throw new Error(`Keycloak did not accept the login (${hop.status}): ${hop.body.slice(0, 300)}`);
  return hop;
}

/** The whole login: Keyward → Keycloak's form → the callback; returns the callback's answer. */
async function login(b: Browser, base: string, realm: string, username: string, password: string, ret = '/console/'): Promise<Hop> {
  const start = await b.request(`${base}/console/auth/login?realm=${realm}&return=${encodeURIComponent(ret)}`);
  expect(start.status, start.body).to.equal(302);
  // Keycloak shows its login form, or — when this browser is still logged in to Keycloak (SSO) — comes straight back.
  const page = await b.request(start.location!);
  const back = page.status === 302 ? page : await submitLogin(b, page, username, password);
  expect(back.location!.startsWith(`${base}/console/auth/callback?`), back.location).to.equal(true);
  return b.request(back.location!);
}

/** GET/POST a Keyward path as the browser (cookies only, no Authorization). */
async function asBrowser(b: Browser, base: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const hop = await b.request(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json: any;
  try {
    json = JSON.parse(hop.body);
  } catch {
    json = undefined;
  }
  return { ...hop, json };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `keyward dev` (what scripts/up runs) in a child process, up once it printed its instructions. */
interface RunningDev {
  readonly child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  stop(): Promise<void>;
}

function startDev(env: NodeJS.ProcessEnv, args: string[]): Promise<RunningDev> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['dev', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exited: Promise<void> | undefined;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = () =>
      (exited ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT'); // Ctrl-C: stops Keyward and its Keycloak
        await Promise.race([gone, sleep(60_000).then(() => child.kill('SIGKILL'))]);
      })());
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      if (stdout.includes('Press Ctrl-C')) resolve({ child, stdout, stderr, stop });
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      process.stderr.write(`  [keyward dev] ${d.toString('utf8').trimEnd().replace(/\n/g, '\n  [keyward dev] ')}\n`);
    });
    child.once('exit', (code, signal) => reject(new Error(`keyward dev exited (${signal ?? code}) before it was up:\n${stderr}`)));
  });
}

/** RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER. */
const thumbprintOf = (pem: string): string =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64'))
    .digest('base64url');

describe('16 web console login (backend-for-frontend)', function () {
  this.timeout(600_000);
  const realm = unique('console');
  const password = 'Console-pass-1';
  const admin = unique('admin');
  const requester = unique('req');
  const operator = unique('op');
  let port: number;
  let kw: ServedKeyward;
  let op: string;
  let consoleDir: string;

  before(async () => {
    const env = await integrationEnv();
    port = await freePort();
    // The master realm's console client is made by bootstrap, with the redirect of this Keyward.
    await bootstrap({
      url: env.keycloakUrl,
      adminUser: env.adminUser,
      adminPassword: env.adminPassword,
      clientId: 'keyward-control-plane',
      audience: 'keyward',
      consoleUrl: `http://127.0.0.1:${port}`,
    });
    consoleDir = mkdtempSync(join(tmpdir(), 'keyward-console-dist-'));
    mkdirSync(join(consoleDir, 'assets'));
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>Keyward</title><div id="root"></div>');
    writeFileSync(join(consoleDir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(consoleDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    kw = await serveOnPort(port, { KEYWARD_PUBLIC_URL: `http://127.0.0.1:${port}`, KEYWARD_CONSOLE_DIR: consoleDir });
    op = await operatorToken();
    const put = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { displayName: 'Console test realm' } });
    expect(put.status, JSON.stringify(put.body)).to.equal(201);
    await createUser(realm, admin, password, ['keyward-admin', 'keyward-user-admin']);
    await createUser(realm, requester, password, ['keyward-requester']);
    await createUser('master', operator, password, ['keyward-operator']);
    await createLoginClient(realm);
  });

  after(async () => {
    await kw?.close();
    rmSync(consoleDir, { recursive: true, force: true });
    const found = (await (await keycloakAdmin(`/master/users?username=${operator}&exact=true`)).json()) as Array<{ id: string }>;
    for (const u of found) await keycloakAdmin(`/master/users/${u.id}`, { method: 'DELETE' });
  });

  it('lists the managed realms and master for the login page', async () => {
    const r = await call(kw.url, 'GET', '/console/auth/realms');
    expect(r.status).to.equal(200);
    const names = (r.body.realms as Array<{ name: string; displayName: string }>).map((x) => x.name);
    expect(names).to.include(realm).and.to.include('master');
    expect(r.body.realms.find((x: { name: string }) => x.name === realm).displayName).to.equal('Console test realm');
  });

  it('logs a realm user in: HttpOnly, SameSite=Strict session cookie, no token anywhere, the same roles as a Bearer token', async () => {
    const b = new Browser();
    const cb = await login(b, kw.url, realm, admin, password, '/console/certificates?x=1');
    expect(cb.status, cb.body).to.equal(303);
    expect(cb.location).to.equal(`${kw.url}/console/certificates?x=1`);
    const cookie = cb.setCookies.find((c) => c.startsWith('keyward-session='))!;
    expect(cookie, cb.setCookies.join(' | ')).to.be.a('string');
    const attrs = cookie.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).to.include('httponly').and.to.include('samesite=strict').and.to.include('path=/');
    expect(attrs.some((a) => a.startsWith('domain='))).to.equal(false);
    expect(attrs).not.to.include('secure'); // plain http (loopback): browsers drop Secure cookies there
    expect(cookie.split(';')[0]!.split('=')[1]).to.match(/^[A-Za-z0-9_-]{43}$/);

    const session = await asBrowser(b, kw.url, 'GET', '/console/auth/session');
    expect(session.json).to.include({ authenticated: true, realm, username: admin });
    expect(session.json.name).to.equal(`${admin} Test`);
    expect(session.json.keycloakUrl).to.equal((await integrationEnv()).keycloakUrl.replace(/\/+$/, ''));
    expect(Date.parse(session.json.idleExpiresAt)).to.be.greaterThan(Date.now());
    expect(Date.parse(session.json.expiresAt)).to.be.at.least(Date.parse(session.json.idleExpiresAt));

    const who = await asBrowser(b, kw.url, 'GET', '/v1/whoami');
    expect(who.status, who.body).to.equal(200);
    expect(who.json.credential).to.equal('session');
    const bearer = await call(kw.url, 'GET', '/v1/whoami', { token: await userToken(realm, admin, password) });
    expect(bearer.body.credential).to.equal('bearer');
    expect(who.json.roles).to.deep.equal(bearer.body.roles);
    expect(who.json.roles[realm]).to.include('keyward-admin');
    expect(who.json.subject).to.equal(bearer.body.subject);

    // No Keyward answer carried a token, and every cookie Keyward set is HttpOnly.
    for (const hop of b.hops.filter((h) => h.url.startsWith(kw.url))) {
      expect(hop.body, hop.url).not.to.match(JWT);
      expect(hop.location ?? '', hop.url).not.to.match(JWT);
      for (const c of hop.setCookies) expect(c.toLowerCase(), c).to.include('httponly');
    }
    const loginHop = b.hops.find((h) => h.url.includes('/console/auth/login'))!;
    const state = loginHop.setCookies.find((c) => c.startsWith('keyward-console-login='))!;
    expect(state.toLowerCase()).to.include('samesite=lax').and.to.include('path=/console/auth').and.to.include('httponly');
  });

  it('refuses session writes without X-Keyward-Console or from a foreign origin (403 session.csrf); allows them with it', async () => {
    const b = new Browser();
    expect((await login(b, kw.url, realm, admin, password)).status).to.equal(303);
    const body = { clientId: 'console-made', roles: ['keyward-requester'] };
    const bare = await asBrowser(b, kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {}, body);
    expect(bare.status, bare.body).to.equal(403);
    expect(bare.json.code).to.equal('session.csrf');
    const foreign = await asBrowser(
      b,
      kw.url,
      'POST',
      `/v1/realms/${realm}/api-clients`,
      { 'x-keyward-console': '1', origin: 'https://evil.example' },
      body,
    );
    expect(foreign.status).to.equal(403);
    expect(foreign.json.code).to.equal('session.csrf');
    const noLogoutHeader = await asBrowser(b, kw.url, 'POST', '/console/auth/logout');
    expect(noLogoutHeader.status).to.equal(403);
    expect(noLogoutHeader.json.code).to.equal('session.csrf');
    const ok = await asBrowser(b, kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { 'x-keyward-console': '1', origin: kw.url }, body);
    expect(ok.status, ok.body).to.equal(201);
    // The API client exists in Keycloak, made by the user of the session (authorised by the same roles).
    const found = (await (await keycloakAdmin(`/${realm}/clients?clientId=console-made`)).json()) as unknown[];
    expect(found).to.have.length(1);
    // Bearer calls are unaffected by the console rules.
    const bearer = await call(kw.url, 'GET', `/v1/realms/${realm}/api-clients`, { token: await userToken(realm, admin, password) });
    expect(bearer.status).to.equal(200);
    // Reads need no header.
    expect((await asBrowser(b, kw.url, 'GET', `/v1/realms/${realm}/api-clients`)).status).to.equal(200);
  });

  it('a requester gets the requester roles only: authorisation is read at call time as for Bearer tokens', async () => {
    const b = new Browser();
    expect((await login(b, kw.url, realm, requester, password)).status).to.equal(303);
    const create = await asBrowser(
      b,
      kw.url,
      'POST',
      `/v1/realms/${realm}/api-clients`,
      { 'x-keyward-console': '1' },
      { clientId: 'not-allowed', roles: [] },
    );
    expect(create.status).to.equal(403);
    expect(create.json.code).to.equal('auth.forbidden');
    // Logging in again in the same browser replaces the session: the old id stops working.
    const old = b.jar.get('keyward-session')!;
    expect((await login(b, kw.url, realm, requester, password)).status).to.equal(303);
    expect(b.jar.get('keyward-session')).not.to.equal(old);
    const stale = await fetch(`${kw.url}/v1/whoami`, { headers: { cookie: `keyward-session=${old}` } });
    expect(stale.status).to.equal(401);
    expect((await asBrowser(b, kw.url, 'GET', '/v1/whoami')).status).to.equal(200);
  });

  it('answers login_error for unknown realms, tampered or missing state and errors from Keycloak; sanitises the return path', async () => {
    const unknown = await new Browser().request(`${kw.url}/console/auth/login?realm=nope-${Date.now()}`);
    expect(unknown.status).to.equal(302);
    expect(unknown.location).to.equal(`${kw.url}/console/?login_error=realm.not_found`);

    // The state in the callback does not match the state cookie.
    const b = new Browser();
    const start = await b.request(`${kw.url}/console/auth/login?realm=${realm}&return=${encodeURIComponent('https://evil.example/')}`);
    const page = await b.follow(start.location!);
    const back = await submitLogin(b, page, admin, password);
    const tampered = new URL(back.location!);
    tampered.searchParams.set('state', 'x' + tampered.searchParams.get('state'));
    const bad = await b.request(tampered.href);
    expect(bad.status).to.equal(303);
    expect(bad.location).to.equal(`${kw.url}/console/?login_error=login.state_invalid`);
    expect(bad.body).not.to.match(/at .*\.ts/); // never a stack trace
    expect(b.jar.has('keyward-session')).to.equal(false);

    // The same callback again: the state cookie is gone (cleared at the first callback).
    const replay = await b.request(back.location!);
    expect(replay.location).to.equal(`${kw.url}/console/?login_error=login.state_invalid`);

    // A tampered state cookie does not open.
    const c = new Browser();
    const s2 = await c.request(`${kw.url}/console/auth/login?realm=${realm}&return=${encodeURIComponent('//evil.example/x')}`);
    const p2 = await c.follow(s2.location!);
    const back2 = await submitLogin(c, p2, admin, password);
    const sealed = c.jar.get('keyward-console-login')!;
    c.jar.set('keyward-console-login', sealed.slice(0, -6) + (sealed.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
    const bad2 = await c.request(back2.location!);
    expect(bad2.location).to.equal(`${kw.url}/console/?login_error=login.state_invalid`);
    c.jar.set('keyward-console-login', sealed);
    // The genuine cookie works, and the return path outside /console/ became /console/.
    const good = await c.request(back2.location!);
    expect(good.status).to.equal(303);
    expect(good.location).to.equal(`${kw.url}/console/`);

    // Keycloak says no (the user refused, say): login.denied.
    const d = new Browser();
    const s3 = await d.request(`${kw.url}/console/auth/login?realm=${realm}`);
    const state = new URL(s3.location!).searchParams.get('state')!;
    const denied = await d.request(`${kw.url}/console/auth/callback?error=access_denied&state=${state}`);
    expect(denied.location).to.equal(`${kw.url}/console/?login_error=login.denied`);

    // A code Keycloak never issued: the exchange is refused.
    const e = new Browser();
    const s4 = await e.request(`${kw.url}/console/auth/login?realm=${realm}`);
    const st4 = new URL(s4.location!).searchParams.get('state')!;
    const forged = await e.request(`${kw.url}/console/auth/callback?code=forged.code.value&state=${st4}`);
    expect(forged.location).to.equal(`${kw.url}/console/?login_error=login.failed`);
  });

  it('refreshes the access token when it expires, once per session across replicas (refresh tokens single-use)', async () => {
    // Refresh tokens that Keycloak accepts once only: two replicas refreshing the same session at once would lose it.
    const set = (settings: Record<string, unknown>) =>
      keycloakAdmin(`/${realm}`, { method: 'PUT', body: JSON.stringify(settings) }).then((r) => expect(r.status).to.equal(204));
    await set({ accessTokenLifespan: 10, revokeRefreshToken: true, refreshTokenMaxReuse: 0 });
    const replica = await serveOnPort(await freePort(), { KEYWARD_PUBLIC_URL: kw.url, KEYWARD_CONSOLE_DIR: consoleDir });
    try {
      const b = new Browser();
      expect((await login(b, kw.url, realm, admin, password)).status).to.equal(303);
      const idHash = createHash('sha256').update(b.jar.get('keyward-session')!).digest();
      const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
      await db.connect();
      try {
        const expiry = async () =>
          (await db.query<{ at: Date }>('SELECT access_expires_at AS at FROM console_sessions WHERE id_hash = $1', [idHash])).rows[0]!.at;
        for (let round = 0; round < 2; round++) {
          const before = await expiry();
          expect(before.getTime() - Date.now()).to.be.below(11_000);
          await sleep(Math.max(0, before.getTime() - Date.now()) + 1000); // the access token has expired
          const calls = await Promise.all(
            [kw.url, replica.url, kw.url, replica.url, kw.url, replica.url].map((base) => asBrowser(b, base, 'GET', '/v1/whoami')),
          );
          for (const c of calls) expect(c.status, c.body).to.equal(200);
          expect((await expiry()).getTime()).to.be.greaterThan(before.getTime());
        }
      } finally {
        await db.end();
      }
    } finally {
      await replica.close();
      await set({ accessTokenLifespan: 300, revokeRefreshToken: false });
    }
  });

  it('logs out: revokes the refresh token at Keycloak, deletes the row, clears the cookie, returns the end-session URL', async () => {
    const b = new Browser();
    expect((await login(b, kw.url, realm, admin, password)).status).to.equal(303);
    const id = b.jar.get('keyward-session')!;
    const idHash = createHash('sha256').update(id).digest();
    const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
    await db.connect();
    let refresh: string;
    try {
      const row = (await db.query<{ tokens: unknown }>('SELECT tokens FROM console_sessions WHERE id_hash = $1', [idHash])).rows[0]!;
      const kek = Buffer.from(kw.keyward.config.kek!, 'base64');
      const tokens = openJson<{ refresh: string }>(kek, row.tokens, `console-session:${idHash.toString('hex')}`)!;
      refresh = tokens.refresh;
      expect(JSON.stringify(row.tokens)).not.to.match(JWT); // sealed at rest
      const secret = kw.keyward.consoleSessions.clientSecretFor(realm);
      const tokenUrl = `${(await integrationEnv()).keycloakUrl}/realms/${realm}/protocol/openid-connect/token`;
      const refreshAt = () =>
        fetch(tokenUrl, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`keyward-console:${secret}`).toString('base64')}` },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }),
        });
      const before = await refreshAt();
      expect(before.status, await before.clone().text()).to.equal(200);
      const out = await asBrowser(b, kw.url, 'POST', '/console/auth/logout', { 'x-keyward-console': '1', origin: kw.url });
      expect(out.status, out.body).to.equal(200);
      const end = new URL(out.json.endSessionUrl);
      expect(end.pathname).to.equal(`/realms/${realm}/protocol/openid-connect/logout`);
      expect(end.searchParams.get('post_logout_redirect_uri')).to.equal(`${kw.url}/console/`);
      expect(end.searchParams.get('id_token_hint')).to.match(JWT);
      expect(out.setCookies.some((c) => c.startsWith('keyward-session=;') && /max-age=0/i.test(c))).to.equal(true);
      const after = await refreshAt();
      expect(after.status).to.equal(400);
      expect(((await after.json()) as { error: string }).error).to.equal('invalid_grant');
      expect((await db.query('SELECT 1 FROM console_sessions WHERE id_hash = $1', [idHash])).rowCount).to.equal(0);
      // The old cookie no longer authenticates.
      const again = await fetch(`${kw.url}/v1/whoami`, { headers: { cookie: `keyward-session=${id}` } });
      expect(again.status).to.equal(401);
      expect(((await again.json()) as { code: string }).code).to.equal('session.expired');
      // The browser goes to Keycloak's end-session URL, which accepts it and sends it back to the console.
      const kcLogout = await b.follow(end.href);
      expect(kcLogout.status).to.be.below(500);
    } finally {
      await db.end();
    }
  });

  it('answers login_error=console_client.missing once the console client is deleted; PUT /v1/realms re-creates it', async () => {
    const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=keyward-console`)).json()) as Array<{ id: string }>;
    expect((await keycloakAdmin(`/${realm}/clients/${c!.id}`, { method: 'DELETE' })).status).to.equal(204);
    const missing = await new Browser().request(`${kw.url}/console/auth/login?realm=${realm}`);
    expect(missing.location).to.equal(`${kw.url}/console/?login_error=console_client.missing`);
    const put = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { displayName: 'Console test realm' } });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    const made = (await (await keycloakAdmin(`/${realm}/clients?clientId=keyward-console`)).json()) as Array<Record<string, any>>;
    expect(made).to.have.length(1);
    expect(made[0]!.redirectUris).to.deep.equal([`${kw.url}/console/auth/callback`]);
    expect(made[0]!.attributes['pkce.code.challenge.method']).to.equal('S256');
    expect(made[0]!.standardFlowEnabled).to.equal(true);
    expect(made[0]!.directAccessGrantsEnabled).to.equal(false);
    expect(made[0]!.alwaysDisplayInConsole).to.equal(true);
    const b = new Browser();
    expect((await login(b, kw.url, realm, admin, password)).status).to.equal(303);
  });

  it('logs an operator in through master (keyward-operator)', async () => {
    const b = new Browser();
    const cb = await login(b, kw.url, 'master', operator, password);
    expect(cb.status, cb.body).to.equal(303);
    const who = await asBrowser(b, kw.url, 'GET', '/v1/whoami');
    expect(who.status).to.equal(200);
    expect(who.json).to.include({ realm: 'master', operator: true, credential: 'session', username: operator });
    const put = await asBrowser(
      b,
      kw.url,
      'PUT',
      `/v1/realms/${realm}`,
      { 'x-keyward-console': '1' },
      { displayName: 'Console test realm' },
    );
    expect(put.status, put.body).to.equal(200);
  });

  it('keyward dev makes the demo users once, with passwords kept across restarts, and they log in', async () => {
    const first = await ensureDemoUsers(kw.keyward, realm);
    const again = await ensureDemoUsers(kw.keyward, realm); // a restart: same users, same passwords
    expect(again).to.deep.equal(first);
    for (const u of ['demo-user', 'demo-admin', 'demo-approver']) expect(first[u]).to.match(/^[A-Za-z0-9_-]{16}$/);
    const b = new Browser();
    expect((await login(b, kw.url, realm, 'demo-approver', first['demo-approver']!)).status).to.equal(303);
    const who = await asBrowser(b, kw.url, 'GET', '/v1/whoami');
    expect(who.json.roles[realm]).to.include.members(['keyward-approver', 'keyward-admin']);
    const user = new Browser();
    expect((await login(user, kw.url, realm, 'demo-user', first['demo-user']!)).status).to.equal(303);
    const roles = (await asBrowser(user, kw.url, 'GET', '/v1/whoami')).json.roles[realm] as string[];
    expect(roles).to.include('keyward-requester').and.not.to.include('keyward-admin');
  });

  it('keyward dev prints mutual-TLS curls for demo-secretless: a bound token /v1/whoami takes; restarts change nothing', async function () {
    this.timeout(900_000);
    // A `keyward dev` of its own, as scripts/up runs it: it starts its own Keycloak (with the TLS listener and the
    // truststore directory), so KEYWARD_KEYCLOAK_URL is not passed on; its store is a fresh database of its own.
    const database = await testDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'keyward-dev-'));
    const [kcPort, kcHttpsPort, kwPort, kwTlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_DATABASE_URL: database.url,
      KEYWARD_PORT: String(kwPort),
      KEYWARD_TLS_PORT: String(kwTlsPort),
      KEYWARD_KEYCLOAK_HTTPS_PORT: String(kcHttpsPort),
      KEYWARD_LOG_LEVEL: 'warn',
      ...(process.env.KEYWARD_CACHE_DIR ? { KEYWARD_CACHE_DIR: process.env.KEYWARD_CACHE_DIR } : {}),
      ...(process.env.KEYWARD_JAVA_HOME ? { KEYWARD_JAVA_HOME: process.env.KEYWARD_JAVA_HOME } : {}),
    };
    const args = ['--keycloak-port', String(kcPort), '--quiet-logs'];
    let dev: RunningDev | undefined;
    try {
      dev = await startDev(env, args);
      const tokenLine = dev.stdout.split('\n').find((l) => l.trimStart().startsWith('MTLS_TOKEN=$(curl'));
      const whoamiLine = dev.stdout.split('\n').find((l) => l.includes('$MTLS_TOKEN') && l.includes('/v1/whoami'));
      expect(tokenLine, dev.stdout).to.be.a('string');
      expect(whoamiLine, dev.stdout).to.be.a('string');
      expect(tokenLine).to.include(
        '-d grant_type=client_credentials -d client_id=demo-secretless' +
          ` https://127.0.0.1:${kcHttpsPort}/realms/demo/protocol/openid-connect/token`,
      );
      expect(dev.stderr, 'the first start trusts the new chain after one restart').to.include('restarting Keycloak once');
      const certFile = /--cert (\S+)/.exec(tokenLine!)![1]!;
      const keyFile = /--key (\S+)/.exec(tokenLine!)![1]!;
      const keycloakCa = /--cacert (\S+)/.exec(tokenLine!)![1]!;
      const keywardCa = /--cacert (\S+)/.exec(whoamiLine!)![1]!;
      for (const f of [certFile, keyFile]) expect(statSync(f).mode & 0o777, f).to.equal(0o600);
      expect(certFile.startsWith(dataDir) && keyFile.startsWith(dataDir), 'kept under the data directory').to.equal(true);

      // The printed lines, pasted into a shell.
      const shell = await run('bash', ['-c', `${tokenLine!.trim()}\n${whoamiLine!.trim()}`]);
      expect(shell.code, shell.stderr).to.equal(0);
      const me = JSON.parse(shell.stdout);
      expect(me).to.include({ clientId: 'demo-secretless', realm: 'demo', credential: 'bearer' });

      // The same with the printed paths, looking at the token and the statuses.
      const t = await curl(`https://127.0.0.1:${kcHttpsPort}/realms/demo/protocol/openid-connect/token`, [
        '--cert',
        certFile,
        '--key',
        keyFile,
        '--cacert',
        keycloakCa,
        '-d',
        'grant_type=client_credentials',
        '-d',
        'client_id=demo-secretless',
      ]);
      expect(t.status, JSON.stringify(t.body)).to.equal(200);
      const token: string = t.body.access_token;
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
      expect(claims.cnf).to.deep.equal({ 'x5t#S256': thumbprintOf(readFileSync(certFile, 'utf8')) });
      const who = await curl(`https://127.0.0.1:${kwTlsPort}/v1/whoami`, [
        '--cert',
        certFile,
        '--key',
        keyFile,
        '--cacert',
        keywardCa,
        '-H',
        `authorization: Bearer ${token}`,
      ]);
      expect(who.status, JSON.stringify(who.body)).to.equal(200);
      expect(who.body.clientId).to.equal('demo-secretless');
      const plain = await call(`http://127.0.0.1:${kwPort}`, 'GET', '/v1/whoami', { token });
      expect(plain.status).to.equal(401);
      expect(plain.body.code).to.equal('token.certificate_mismatch');
      await dev.stop();

      // A second start: the same client and certificate, no restart of Keycloak.
      const certificate = readFileSync(certFile, 'utf8');
      dev = await startDev(env, args);
      expect(dev.stderr).to.not.include('restarting Keycloak');
      expect(dev.stderr.match(/starting Keycloak /g), dev.stderr).to.have.length(1);
      expect(dev.stderr).to.not.include('secretless API client demo-secretless');
      expect(readFileSync(certFile, 'utf8'), 'the kept certificate').to.equal(certificate);
      const again = await run('bash', ['-c', `${tokenLine!.trim()}\n${whoamiLine!.trim()}`]);
      expect(JSON.parse(again.stdout).clientId, again.stderr).to.equal('demo-secretless');
      const db = new pg.Client({ connectionString: database.url });
      await db.connect();
      try {
        const created = await db.query(
          "SELECT count(*)::int AS n FROM audit_events WHERE realm = 'demo' AND target = 'demo-secretless'" +
            " AND action IN ('api_client.created', 'api_client.certificate_issued', 'api_client.authentication_changed')",
        );
        expect(created.rows[0].n, 'made once, its certificate issued once').to.equal(1);
      } finally {
        await db.end();
      }
      await dev.stop();

      // A lost key: the next start issues a new certificate to the same client (its generation, so no new pin).
      rmSync(keyFile);
      dev = await startDev(env, args);
      expect(dev.stderr).to.include(`renewed the secretless API client demo-secretless: ${certFile}`);
      expect(dev.stderr).to.not.include('restarting Keycloak');
      expect(readFileSync(certFile, 'utf8')).to.not.equal(certificate);
      for (const f of [certFile, keyFile]) expect(statSync(f).mode & 0o777, f).to.equal(0o600);
      const renewed = await run('bash', ['-c', `${tokenLine!.trim()}\n${whoamiLine!.trim()}`]);
      expect(JSON.parse(renewed.stdout).clientId, renewed.stderr).to.equal('demo-secretless');
    } finally {
      await dev?.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('serves the built console: hashed assets cached, index.html for client-side paths, security headers', async () => {
    const index = await fetch(`${kw.url}/console/`);
    expect(index.status).to.equal(200);
    expect(await index.text()).to.include('<div id="root">');
    expect(index.headers.get('cache-control')).to.equal('no-cache');
    expect(index.headers.get('content-security-policy')).to.include("frame-ancestors 'none'").and.to.include("default-src 'self'");
    expect(index.headers.get('content-security-policy')).to.include(
      `form-action 'self' ${new URL((await integrationEnv()).keycloakUrl).origin}`,
    );
    expect(index.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(index.headers.get('referrer-policy')).to.equal('no-referrer');
    for (const path of ['/console', '/console/certificates/0A1B', '/console/approvals']) {
      const r = await fetch(kw.url + path);
      expect(r.status, path).to.equal(200);
      expect(await r.text()).to.include('<div id="root">');
    }
    const asset = await fetch(`${kw.url}/console/assets/index-abc123.js`);
    expect(asset.status).to.equal(200);
    expect(asset.headers.get('cache-control')).to.include('immutable').and.to.include('max-age=31536000');
    expect((await fetch(`${kw.url}/console/assets/missing.js`)).status).to.equal(404);
    const favicon = await fetch(`${kw.url}/console/favicon.svg`);
    expect(favicon.status).to.equal(200);
    const auth = await call(kw.url, 'GET', '/console/auth/nothing');
    expect(auth.status).to.equal(404);
    expect(auth.body.code).to.equal('request.not_found');
  });

  describe('with short session lifetimes and no console built', () => {
    let short: ServedKeyward;
    before(async () => {
      await kw.close();
      short = await serveOnPort(port, {
        KEYWARD_CONSOLE_SESSION_IDLE_MINUTES: '0.05', // 3 s
        KEYWARD_CONSOLE_SESSION_HOURS: '0.0025', // 9 s
        KEYWARD_CONSOLE_DIR: join(tmpdir(), `keyward-no-console-${Date.now()}`),
      });
    });
    after(async () => {
      await short?.close();
    });

    it('ends an idle session: 401 session.expired and the row deleted', async () => {
      const b = new Browser();
      expect((await login(b, short.url, realm, admin, password)).status).to.equal(303);
      expect((await asBrowser(b, short.url, 'GET', '/v1/whoami')).status).to.equal(200);
      await sleep(4000);
      const r = await asBrowser(b, short.url, 'GET', '/v1/whoami');
      expect(r.status).to.equal(401);
      expect(r.json.code).to.equal('session.expired');
      expect((await asBrowser(b, short.url, 'GET', '/console/auth/session')).json).to.deep.equal({ authenticated: false });
    });

    it('ends an active session at its absolute lifetime', async () => {
      const b = new Browser();
      expect((await login(b, short.url, realm, admin, password)).status).to.equal(303);
      const started = Date.now();
      const { expiresAt } = (await asBrowser(b, short.url, 'GET', '/console/auth/session')).json;
      let last = 200;
      while (Date.now() - started < 12_000 && last === 200) {
        await sleep(1000); // well within the 3 s idle time
        last = (await asBrowser(b, short.url, 'GET', '/v1/whoami')).status;
      }
      expect(last).to.equal(401);
      expect(Date.now()).to.be.at.least(Date.parse(expiresAt));
    });

    it('answers 503 console.not_built when the console is not built', async () => {
      const html = await fetch(`${short.url}/console/`, { headers: { accept: 'text/html' } });
      expect(html.status).to.equal(503);
      expect(await html.text()).to.include('npm run console:build');
      const json = await call(short.url, 'GET', '/console/certificates', { headers: { accept: 'application/json' } });
      expect(json.status).to.equal(503);
      expect(json.body.code).to.equal('console.not_built');
    });
  });

  describe('while Keycloak is unreachable (Keyward reaches it through a relay; browsers and tokens use its own address)', () => {
    let relay: TcpRelay;
    let viaRelay: ServedKeyward;
    const set = (seconds: number) =>
      keycloakAdmin(`/${realm}`, { method: 'PUT', body: JSON.stringify({ accessTokenLifespan: seconds }) }).then((r) =>
        expect(r.status).to.equal(204),
      );
    before(async () => {
      await kw.close();
      const env = await integrationEnv();
      relay = await startRelay(env.keycloakUrl);
      viaRelay = await serveOnPort(port, {
        KEYWARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
        KEYWARD_KEYCLOAK_URL: relay.url,
        KEYWARD_KEYCLOAK_ISSUER_URL: env.keycloakUrl,
        KEYWARD_KEYCLOAK_TIMEOUT_MS: '1500',
        KEYWARD_CONSOLE_DIR: consoleDir,
      });
      await set(12);
    });
    after(async () => {
      relay?.resume();
      await set(300);
      await viaRelay?.close();
      await relay?.close();
    });

    it('goes on with the valid access token when the refresh cannot reach Keycloak, 503 once it expired, and recovers', async () => {
      const b = new Browser();
      const cb = await login(b, viaRelay.url, realm, admin, password);
      expect(cb.status, cb.location).to.equal(303);
      // The authorization endpoint the browser used is Keycloak's own address, not the relay's.
      const kcUrl = (await integrationEnv()).keycloakUrl;
      expect(b.hops.some((h) => h.url.startsWith(`${kcUrl}/realms/${realm}/protocol/openid-connect/auth`))).to.equal(true);
      expect((await asBrowser(b, viaRelay.url, 'GET', '/v1/whoami')).status).to.equal(200); // roles now known
      const idHash = createHash('sha256').update(b.jar.get('keyward-session')!).digest();
      const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
      await db.connect();
      try {
        const expiresAt = (
          await db.query<{ at: Date }>('SELECT access_expires_at AS at FROM console_sessions WHERE id_hash = $1', [idHash])
        ).rows[0]!.at.getTime();
        relay.stop();
        await sleep(Math.max(0, expiresAt - 4000 - Date.now())); // a refresh is due (within half the 12 s lifetime)
        const during = await asBrowser(b, viaRelay.url, 'GET', '/v1/whoami');
        expect(during.status, during.body).to.equal(200);
        await sleep(Math.max(0, expiresAt + 6000 - Date.now())); // past expiry and the verifier's clock skew
        const expired = await asBrowser(b, viaRelay.url, 'GET', '/v1/whoami');
        expect(expired.status, expired.body).to.equal(503);
        expect(expired.json.code).to.equal('keycloak.unavailable');
        relay.resume();
        await sleep(5500); // the back-off after a failed refresh
        const after = await asBrowser(b, viaRelay.url, 'GET', '/v1/whoami');
        expect(after.status, after.body).to.equal(200);
        expect((await asBrowser(b, viaRelay.url, 'GET', '/console/auth/session')).json.authenticated).to.equal(true);
      } finally {
        relay.resume();
        await db.end();
      }
    });
  });
});
