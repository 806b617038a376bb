/**
 * The console's session as a browser holds it, in a real Chromium against a
 * real Keyward, Keycloak (its own login page) and PostgreSQL:
 * - no token or secret is readable by page script: `document.cookie`, the
 *   storages and every response the page received hold none, and the session
 *   cookie is HttpOnly and SameSite=Strict;
 * - a page of another site, and one of another origin on the same site, in the
 *   same browser as a logged-in admin, cannot create anything through /v1
 *   (fetch with the console's header, a "simple" fetch, an HTML form);
 * - "Log out" ends the console session and Keycloak's: the old cookie gets 401
 *   session.expired and the next login asks for the password again;
 * - the login page and the navigation work with the keyboard alone;
 * - a session that ends while the console is open sends the user to the login
 *   page with "Your session ended. Log in again.", and logging in again returns
 *   to the page the user was on.
 */
import { expect } from 'chai';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { consolePage, launchChromium, logIn, screenshot, type ConsolePage } from '../support/chromium.ts';
import { call, createUser, integrationEnv, keycloakAdmin, operatorToken, unique } from '../support/env.ts';
import { freePort, serveOnPort, type ServedKeyward } from '../support/served.ts';

const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;
const COOKIE = 'keyward-session'; // plain http: no __Host- prefix

/** The session cookie's value in a browser context. */
async function sessionCookie(cp: ConsolePage, url: string): Promise<string> {
  const c = (await cp.context.cookies(url)).find((x) => x.name === COOKIE);
  if (!c) throw new Error('the browser holds no session cookie');
  return c.value;
}

/** A call from Node with a browser's session cookie. */
const withCookie = (url: string, method: string, path: string, cookie: string, extra: Record<string, string> = {}, body?: unknown) =>
  call(url, method, path, { headers: { cookie: `${COOKIE}=${cookie}`, ...extra }, ...(body === undefined ? {} : { body }) });

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Console' });

/**
 * The page another origin serves: with the visitor's browser it tries to create an API client (a fetch with the
 * console's header, which needs a CORS preflight) and to rotate the secret of `victim` (a "simple" no-cors fetch and
 * an HTML form, neither of which needs a preflight; the rotation takes no body, so Keyward's authentication decides).
 */
function attackerPages(keyward: string, realm: string, victim: string): Server {
  const create = `${keyward}/v1/realms/${encodeURIComponent(realm)}/api-clients`;
  const rotate = `${create}/${encodeURIComponent(victim)}/secret`;
  return createHttpServer((req, res) => {
    const tag = new URL(req.url ?? '/', 'http://x').searchParams.get('tag') ?? 'x';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><meta charset="utf-8"><title>Another site</title>
<h1>Another site</h1>
<form id="f" method="POST" action="${rotate}"><input type="hidden" name="x" value="1"></form>
<script>
  window.results = {};
  (async () => {
    try {
      const r = await fetch(${JSON.stringify(create)}, {
        method: 'POST', credentials: 'include',
        headers: { 'Content-Type': 'application/json', 'X-Keyward-Console': '1' },
        body: JSON.stringify({ clientId: 'evil-fetch-${tag}', roles: ['keyward-admin'] }),
      });
      window.results.fetch = 'HTTP ' + r.status + ' ' + (await r.text());
    } catch (e) { window.results.fetch = 'blocked: ' + e.message; }
    try {
      const r = await fetch(${JSON.stringify(rotate)}, { method: 'POST', credentials: 'include', mode: 'no-cors' });
      window.results.simple = r.type;
    } catch (e) { window.results.simple = 'blocked: ' + e.message; }
    window.results.done = true;
  })();
</script>`);
  });
}

describe('console: the session in a browser', function () {
  this.timeout(600_000);
  const realm = unique('sess');
  const password = 'Session-pass-1';
  const admin = unique('admin');
  let port: number;
  let kw: ServedKeyward;
  let browser: Browser;
  const pages: ConsolePage[] = [];
  const servers: Server[] = [];

  async function fresh(): Promise<ConsolePage> {
    const cp = await consolePage(browser, { baseURL: kw.url });
    pages.push(cp);
    return cp;
  }

  before(async () => {
    await integrationEnv();
    port = await freePort();
    kw = await serveOnPort(port);
    const op = await operatorToken();
    const put = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { displayName: 'Session tests' } });
    expect(put.status, JSON.stringify(put.body)).to.equal(201);
    await createUser(realm, admin, password, ['keyward-admin']);
    browser = await launchChromium();
  });

  after(async () => {
    for (const p of pages) await p.close().catch(() => {});
    for (const s of servers) await new Promise((r) => s.close(r));
    await browser?.close();
    await kw?.close();
  });

  it('gives page script no token: cookie HttpOnly and SameSite=Strict, storages empty, no token in any response', async () => {
    const cp = await fresh();
    const seen: Array<{ url: string; status: number; body: string; headers: string; script: boolean }> = [];
    const reading: Promise<void>[] = [];
    cp.page.on('response', (r) => {
      reading.push(
        (async () => {
          const body = await r.text().catch(() => ''); // redirects have no body
          const script = ['script', 'stylesheet'].includes(r.request().resourceType());
          seen.push({ url: r.url(), status: r.status(), body, headers: JSON.stringify(await r.allHeaders()), script });
        })(),
      );
    });
    await logIn(cp.page, { realm, username: admin, password, path: `/console/${realm}/api-clients` });
    await cp.page.getByRole('heading', { name: 'API clients', level: 1 }).waitFor();
    await nav(cp.page).getByRole('link', { name: 'Home' }).click();
    await cp.page.waitForLoadState('networkidle');
    await Promise.all(reading);

    expect(await cp.page.evaluate<string>('document.cookie'), 'document.cookie').to.equal('');
    expect(await cp.page.evaluate<number>('localStorage.length'), 'localStorage').to.equal(0);
    expect(await cp.page.evaluate<number>('sessionStorage.length'), 'sessionStorage').to.equal(0);
    const cookie = (await cp.context.cookies(kw.url)).find((c) => c.name === COOKIE);
    expect(cookie, 'the session cookie').to.not.equal(undefined);
    expect(cookie!.httpOnly, 'HttpOnly').to.equal(true);
    expect(cookie!.sameSite, 'SameSite').to.equal('Strict');
    expect(cookie!.value).to.not.match(JWT);

    const keyward = seen.filter((s) => s.url.startsWith(kw.url));
    expect(
      keyward.some((s) => s.url.includes('/v1/whoami') && s.status === 200),
      'the page called /v1/whoami',
    ).to.equal(true);
    expect(keyward.some((s) => s.url.includes('/console/auth/session') && s.body.includes('"authenticated":true'))).to.equal(true);
    for (const s of seen) {
      expect(s.body, `body of ${s.url}`).to.not.match(JWT);
      // The console's script names the PAT prefix and OAuth fields in its texts; no answer holds one.
      if (!s.script) expect(s.body, `body of ${s.url}`).to.not.match(/kwp_[A-Za-z0-9_-]{8,}|"(access|refresh|id)_token"/);
    }
    // Keycloak's own SSO cookies are JWTs on Keycloak's origin; Keyward's headers hold none.
    for (const s of keyward) expect(s.headers, `headers of ${s.url}`).to.not.match(JWT).and.not.match(/kwp_/);
    await screenshot(cp.page, 'session-logged-in');
    cp.expectClean();
  });

  it("refuses cross-site and cross-origin POSTs made with the logged-in admin's browser; nothing is created", async () => {
    const cp = await fresh();
    await logIn(cp.page, { realm, username: admin, password, path: `/console/${realm}/` });
    const cookie = await sessionCookie(cp, kw.url);
    const op = await operatorToken();
    const victim = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: 'victim', roles: [] } });
    expect(victim.status, JSON.stringify(victim.body)).to.equal(201);
    const [kc] = (await (await keycloakAdmin(`/${realm}/clients?clientId=victim`)).json()) as Array<{ id: string }>;
    const secretInKeycloak = async () =>
      ((await (await keycloakAdmin(`/${realm}/clients/${kc!.id}/client-secret`)).json()) as { value: string }).value;
    const secretBefore = await secretInKeycloak();
    expect(secretBefore).to.equal(victim.body.secret);

    const attacker = attackerPages(kw.url, realm, 'victim');
    servers.push(attacker);
    await new Promise<void>((r) => attacker.listen(0, r)); // every interface: localhost and 127.0.0.1
    const ap = (attacker.address() as { port: number }).port;
    // localhost is another site than 127.0.0.1, so SameSite=Strict keeps the cookie home; 127.0.0.1:<other port> is
    // the same site but another origin, so the cookie goes along and Keyward's Origin and header checks must refuse.
    const origins = { site: `http://localhost:${ap}`, origin: `http://127.0.0.1:${ap}` } as const;
    const saw: Record<string, { fetch: string; simple: string; answers: string[]; form: string; errors: string[] }> = {};
    for (const [tag, origin] of Object.entries(origins)) {
      const page = await cp.context.newPage();
      const answers: string[] = [];
      const errors: string[] = [];
      page.on('response', async (r) => {
        if (r.url().startsWith(kw.url)) answers.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      await page.goto(`${origin}/?tag=${tag}`);
      await page.waitForFunction('window.results.done === true');
      const results = await page.evaluate<{ fetch: string; simple: string }>('window.results');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().startsWith(kw.url) && r.request().method() === 'POST' && r.request().isNavigationRequest()),
        page.evaluate('document.getElementById("f").submit()'),
      ]);
      const formBody = (await answer.text().catch(() => '{}')) || '{}';
      const form = `${answer.status()} ${(JSON.parse(formBody) as { code?: string }).code}`;
      await page.waitForLoadState();
      await screenshot(page, `session-cross-${tag}-form`);
      await page.close();
      saw[tag] = { fetch: results.fetch, simple: results.simple, answers: [...answers], form, errors };
      // The fetch with X-Keyward-Console needs a preflight, which Keyward never permits: the POST is never sent.
      expect(results.fetch, `${tag}: fetch with the console header`).to.match(/^blocked: Failed to fetch/);
      expect(
        errors.some((e) => /blocked by CORS policy/.test(e)),
        `${tag}: the CORS error`,
      ).to.equal(true);
      expect(
        errors.filter((e) => !/blocked by CORS policy|net::ERR_FAILED|status of 40[13]/.test(e)),
        `${tag}: other errors`,
      ).to.deep.equal([]);
      expect(
        answers.filter((x) => / 20\d$/.test(x)),
        `${tag}: nothing Keyward accepted`,
      ).to.deep.equal([]);
    }
    process.stderr.write(`» what the browser saw: ${JSON.stringify(saw)}\n`);
    // Another site: the browser sends no cookie (SameSite=Strict), so the POSTs are not authenticated at all.
    expect(saw.site!.form).to.equal('401 auth.missing');
    expect(saw.site!.answers).to.include(`POST /v1/realms/${realm}/api-clients/victim/secret 401`);
    // Same site, another origin: the cookie goes along, and Keyward refuses it without its header and own Origin.
    expect(saw.origin!.form).to.equal('403 session.csrf');
    expect(saw.origin!.answers).to.include(`POST /v1/realms/${realm}/api-clients/victim/secret 403`);

    const clients = (await (await keycloakAdmin(`/${realm}/clients?max=1000`)).json()) as Array<{ clientId: string }>;
    expect(clients.map((c) => c.clientId).filter((id) => id.startsWith('evil'))).to.deep.equal([]);
    expect(await secretInKeycloak(), "the victim's secret is unchanged").to.equal(secretBefore);

    // From Node: the same cookie with the header but a foreign Origin gets 403 session.csrf.
    const foreign = await withCookie(
      kw.url,
      'POST',
      `/v1/realms/${realm}/api-clients`,
      cookie,
      { origin: origins.site, 'x-keyward-console': '1' },
      { clientId: 'evil-node', roles: [] },
    );
    expect(foreign.status).to.equal(403);
    expect(foreign.body.code).to.equal('session.csrf');
    const listed = await withCookie(kw.url, 'GET', `/v1/realms/${realm}/api-clients`, cookie);
    expect(listed.status, JSON.stringify(listed.body)).to.equal(200);
    expect(JSON.stringify(listed.body)).to.include('victim').and.not.to.include('evil');
    // The console's own page still works with the session.
    await cp.page.reload();
    await cp.page.getByTestId('current-user').waitFor();
    cp.expectClean();
  });

  it('logs out: back at the login page, the old cookie gets 401 session.expired, Keycloak asks for the password again', async () => {
    const cp = await fresh();
    await logIn(cp.page, { realm, username: admin, password, path: `/console/${realm}/` });
    const cookie = await sessionCookie(cp, kw.url);
    expect((await withCookie(kw.url, 'GET', '/v1/whoami', cookie)).status).to.equal(200);
    const kcOrigin = new URL((await integrationEnv()).keycloakUrl).origin;
    const visited: string[] = [];
    cp.page.on('request', (r) => {
      if (r.isNavigationRequest()) visited.push(r.url());
    });
    await cp.page.getByRole('button', { name: 'Log out' }).click();
    await cp.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(
      visited.some((u) => u.startsWith(`${kcOrigin}/realms/${realm}/protocol/openid-connect/logout`)),
      visited.join(' '),
    ).to.equal(true);
    expect(new URL(cp.page.url()).pathname).to.equal('/console/');
    expect(
      (await cp.context.cookies(kw.url)).some((c) => c.name === COOKIE),
      'the cookie is cleared',
    ).to.equal(false);
    await screenshot(cp.page, 'session-logged-out');

    const old = await withCookie(kw.url, 'GET', '/v1/whoami', cookie);
    expect(old.status).to.equal(401);
    expect(old.body.code).to.equal('session.expired');
    // Keycloak's SSO session of this browser is gone too: logging in asks for the password again.
    await cp.page.getByLabel('Realm').first().selectOption(realm);
    await cp.page.getByRole('button', { name: 'Log in' }).click();
    await cp.page.waitForSelector('#kc-form-login');
    expect(await cp.page.locator('#password').count(), 'Keycloak asks for the password').to.equal(1);
    cp.expectClean();
  });

  it('lets the user log in and navigate with the keyboard alone', async () => {
    const cp = await fresh();
    const page = cp.page;
    await page.goto('/console/');
    const select = page.getByLabel('Realm').first();
    await select.waitFor();
    const focusedText = () => page.evaluate<string>("document.activeElement?.textContent?.trim() ?? ''");
    const focusedId = () => page.evaluate<string>("document.activeElement?.id ?? ''");
    for (let i = 0; i < 10 && (await focusedId()) !== 'login-realm'; i++) await page.keyboard.press('Tab');
    expect(await focusedId(), 'Tab reaches the realm select').to.equal('login-realm');
    await page.keyboard.press('End'); // master (operators), the last option
    expect(await select.inputValue()).to.equal('master');
    // Other realms of the same database may come first: arrow up to this one.
    for (let i = 0; i < 50 && (await select.inputValue()) !== realm; i++) await page.keyboard.press('ArrowUp');
    expect(await select.inputValue()).to.equal(realm);
    await page.keyboard.press('Tab');
    expect(await focusedText(), 'Tab reaches the Log in button').to.equal('Log in');
    await screenshot(page, 'session-keyboard-login');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#kc-form-login');
    await page.locator('#username').waitFor();
    expect(await focusedId(), "Keycloak's page starts in the username field").to.equal('username');
    await page.keyboard.type(admin);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.getByTestId('current-user').waitFor();

    for (let i = 0; i < 40 && (await focusedText()) !== 'API clients'; i++) await page.keyboard.press('Tab');
    expect(await focusedText(), 'Tab reaches the API clients link in the navigation').to.equal('API clients');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'API clients', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).to.equal(`/console/${realm}/api-clients`);
    await page.waitForLoadState('networkidle');
    await screenshot(page, 'session-keyboard-navigated');
    cp.expectClean();
  });

  describe('with a short idle time', () => {
    before(async () => {
      await kw.close();
      kw = await serveOnPort(port, { KEYWARD_CONSOLE_SESSION_IDLE_MINUTES: '0.1' }); // 6 s
    });

    it('sends the user whose session ended to the login page, saying so, and back to the page after logging in', async () => {
      const cp = await fresh();
      const page = cp.page;
      await logIn(page, { realm, username: admin, password, path: `/console/${realm}/` });
      const cookie = await sessionCookie(cp, kw.url);
      // /console/auth/session does not count as activity: ask it until the session is over.
      await until('the session to end', async () => !(await withCookie(kw.url, 'GET', '/console/auth/session', cookie)).body.authenticated);
      await nav(page).getByRole('link', { name: 'API clients' }).click();
      const notice = page.getByTestId('login-error');
      await notice.getByText('Your session ended. Log in again.').waitFor();
      expect(await notice.locator('.pf-v6-c-alert__title').textContent()).to.include('Session ended');
      expect(await notice.textContent()).to.include('session.expired');
      expect(new URL(page.url()).pathname).to.equal(`/console/${realm}/api-clients`);
      // Enabled once the login page has its realm (a moment on a busy machine).
      await until('the Log in button enabled', async () => page.getByRole('button', { name: 'Log in' }).isEnabled());
      await page.waitForTimeout(400); // the button's colour transition, for the screenshot
      await screenshot(page, 'session-expired');

      await page.getByRole('button', { name: 'Log in' }).click();
      // Keycloak's SSO session is still there: it may log in without asking.
      const kc = page.locator('#kc-form-login');
      await Promise.race([kc.waitFor(), page.getByTestId('current-user').waitFor()]);
      if (await kc.count()) {
        await page.locator('#username').fill(admin);
        await page.locator('#password').fill(password);
        await page.locator('#kc-login').click();
      }
      await page.getByRole('heading', { name: 'API clients', level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).to.equal(`/console/${realm}/api-clients`);
      expect(await page.getByTestId('login-error').count()).to.equal(0);
      cp.expectClean(/status of 401/);
    });
  });
});
