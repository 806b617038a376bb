import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { Authenticator } from '../../../services/keyward/src/http/authenticate.ts';
import {
  checkCsrf,
  parseCookies,
  safeReturnPath,
  serializeCookie,
  sessionCookies,
} from '../../../services/keyward/src/http/console/cookies.ts';
import { blobToCookie, cookieToBlob, openJson, sealJson } from '../../../services/keyward/src/http/console/sealed.ts';
import {
  consoleClientRepresentation,
  consoleClientSecret,
  MAX_CONSOLE_ADDRESSES,
  withEarlierRedirects,
} from '../../../services/keyward/src/keycloak/console_client.ts';
import { isKeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { loadConfig } from '../../../services/keyward/src/kernel/config.ts';
import type { AccessTokenVerifier } from '../../../services/keyward/src/tokens/access_token_verifier.ts';

const attrs = (c: string) =>
  c
    .split(';')
    .slice(1)
    .map((a) => a.trim());

function refusal(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (isKeywardError(err)) return err.code;
    throw err;
  }
}

describe('web console: cookies', () => {
  it('makes a __Host- session cookie on https: Secure, HttpOnly, SameSite=Strict, Path=/, no Domain', () => {
    const c = sessionCookies('https://keyward.example.com');
    expect(c.name).to.equal('__Host-keyward-session');
    const set = c.set('abc_DEF-123');
    expect(set.startsWith('__Host-keyward-session=abc_DEF-123;')).to.equal(true);
    expect(attrs(set)).to.have.members(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict']);
    expect(set).not.to.match(/domain=/i);
    expect(attrs(c.clear())).to.include('Max-Age=0');
  });

  it('makes keyward-session without Secure on plain http (loopback development)', () => {
    const c = sessionCookies('http://127.0.0.1:3000');
    expect(c.name).to.equal('keyward-session');
    expect(attrs(c.set('x'))).to.have.members(['Path=/', 'HttpOnly', 'SameSite=Strict']);
  });

  it('keeps the login state in a SameSite=Lax cookie limited to /console/auth, for ten minutes', () => {
    const https = sessionCookies('https://k.example');
    expect(https.loginName).to.equal('__Secure-keyward-console-login');
    expect(attrs(https.setLogin('v'))).to.have.members(['Path=/console/auth', 'Max-Age=600', 'HttpOnly', 'Secure', 'SameSite=Lax']);
    expect(attrs(sessionCookies('http://localhost:3000').setLogin('v'))).not.to.include('Secure');
  });

  it('refuses cookie values that could inject attributes', () => {
    expect(() => serializeCookie('a', 'x; Domain=evil.example')).to.throw(TypeError);
    expect(() => serializeCookie('a b', 'x')).to.throw(TypeError);
  });

  it('parses a Cookie header, the first of two same-named cookies winning', () => {
    const m = parseCookies('a=1; keyward-session=abc; b=x=y; keyward-session=later');
    expect(m.get('keyward-session')).to.equal('abc');
    expect(m.get('b')).to.equal('x=y');
    expect(parseCookies(undefined).size).to.equal(0);
  });
});

describe('web console: return paths', () => {
  it('keeps paths under /console/ with their query and fragment', () => {
    expect(safeReturnPath('/console/certificates?status=valid#top')).to.equal('/console/certificates?status=valid#top');
    expect(safeReturnPath('/console')).to.equal('/console');
    expect(safeReturnPath('/console/')).to.equal('/console/');
  });

  it('sends everything else to /console/', () => {
    for (const bad of [
      undefined,
      42,
      '',
      'https://evil.example/console/',
      '//evil.example/console/',
      '/\\evil.example',
      '/console/../v1/whoami',
      '/console/%2e%2e/v1/whoami',
      '/console/..%2fv1',
      '/v1/whoami',
      '/consolex',
      '/console/\nSet-Cookie:x',
      '/console/\\evil',
      'javascript:alert(1)',
      '/console/' + 'a'.repeat(3000),
    ]) {
      expect(safeReturnPath(bad), String(bad)).to.equal('/console/');
    }
  });
});

describe('web console: CSRF rules', () => {
  const origin = 'https://keyward.example.com';
  it('lets reads through without the header', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(refusal(() => checkCsrf({ method, header: undefined, origin: 'https://evil.example', expectedOrigin: origin }))).to.equal(
        undefined,
      );
    }
  });

  it('requires X-Keyward-Console: 1 on writes', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post']) {
      expect(refusal(() => checkCsrf({ method, header: undefined, origin: undefined, expectedOrigin: origin }))).to.equal('session.csrf');
      expect(refusal(() => checkCsrf({ method, header: 'true', origin: undefined, expectedOrigin: origin }))).to.equal('session.csrf');
      expect(refusal(() => checkCsrf({ method, header: '1', origin: undefined, expectedOrigin: origin }))).to.equal(undefined);
    }
  });

  it('requires the own origin when Origin is present', () => {
    const check = (o: string) => refusal(() => checkCsrf({ method: 'POST', header: '1', origin: o, expectedOrigin: origin }));
    expect(check(origin)).to.equal(undefined);
    expect(check('https://evil.example')).to.equal('session.csrf');
    expect(check('null')).to.equal('session.csrf');
    expect(check('http://keyward.example.com')).to.equal('session.csrf');
    expect(check('https://keyward.example.com:8443')).to.equal('session.csrf');
  });
});

describe('web console: sealing', () => {
  const kek = randomBytes(32);
  it('opens what it sealed, for the same use only', () => {
    const blob = sealJson(kek, { access: 'a', refresh: 'r' }, 'console-session:01');
    expect(JSON.stringify(blob)).not.to.include('"access"');
    expect(openJson(kek, blob, 'console-session:01')).to.deep.equal({ access: 'a', refresh: 'r' });
    expect(openJson(kek, blob, 'console-session:02')).to.equal(undefined); // moved to another row
    expect(openJson(randomBytes(32), blob, 'console-session:01')).to.equal(undefined); // another KEK
  });

  it('refuses a tampered blob or cookie', () => {
    const blob = sealJson(kek, { state: 's' }, 'login');
    const ct = blob.data.ct;
    const flipped = { ...blob, data: { ...blob.data, ct: (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1) } };
    expect(openJson(kek, flipped, 'login')).to.equal(undefined);
    expect(openJson(kek, cookieToBlob(blobToCookie(blob)), 'login')).to.deep.equal({ state: 's' });
    expect(openJson(kek, cookieToBlob('not-base64-json'), 'login')).to.equal(undefined);
    expect(openJson(kek, undefined, 'login')).to.equal(undefined);
  });
});

describe('web console: the keyward-console client', () => {
  it('is a confidential standard-flow client with PKCE S256 and its redirects at the public URL', () => {
    const c = consoleClientRepresentation({ publicUrl: 'https://keyward.example.com/', secret: 's' });
    expect(c).to.deep.include({
      clientId: 'keyward-console',
      publicClient: false,
      standardFlowEnabled: true,
      implicitFlowEnabled: false,
      directAccessGrantsEnabled: false,
      serviceAccountsEnabled: false,
      alwaysDisplayInConsole: true,
      baseUrl: 'https://keyward.example.com/console/',
    });
    expect(c.redirectUris).to.deep.equal(['https://keyward.example.com/console/auth/callback']);
    expect(c.webOrigins).to.deep.equal(['https://keyward.example.com']);
    expect(c.attributes).to.deep.include({
      'pkce.code.challenge.method': 'S256',
      'post.logout.redirect.uris': 'https://keyward.example.com/console/*',
    });
  });

  it('in master, adds the new address to those the client serves, keeping the most recently added', () => {
    let client = consoleClientRepresentation({ publicUrl: 'http://127.0.0.1:1000', secret: 's' });
    for (let i = 1; i <= MAX_CONSOLE_ADDRESSES + 5; i++) {
      const wanted = consoleClientRepresentation({ publicUrl: `http://127.0.0.1:${1000 + i}`, secret: 's' });
      client = withEarlierRedirects(wanted, client, new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    }
    expect(client.redirectUris).to.have.length(MAX_CONSOLE_ADDRESSES);
    expect(client.redirectUris![0]).to.equal(`http://127.0.0.1:${1000 + MAX_CONSOLE_ADDRESSES + 5}/console/auth/callback`);
    expect(client.redirectUris).to.include(`http://127.0.0.1:1006/console/auth/callback`);
    expect(client.redirectUris).not.to.include(`http://127.0.0.1:1005/console/auth/callback`);
    const logout = String(client.attributes!['post.logout.redirect.uris']).split('##');
    expect(logout).to.have.length(MAX_CONSOLE_ADDRESSES);
    expect(logout[0]).to.equal(`http://127.0.0.1:${1000 + MAX_CONSOLE_ADDRESSES + 5}/console/*`);
    expect(client.webOrigins).to.include('http://127.0.0.1:1006');
  });

  it("derives a different secret per realm from the control plane's secret", () => {
    const a = consoleClientSecret('cp-secret', 'demo');
    expect(a).to.equal(consoleClientSecret('cp-secret', 'demo'));
    expect(a).not.to.equal(consoleClientSecret('cp-secret', 'other'));
    expect(a).not.to.equal(consoleClientSecret('cp-secret-2', 'demo'));
    expect(a).to.match(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('web console: configuration', () => {
  it('reads the session lifetimes, fractions allowed, and refuses nonsense', () => {
    const c = loadConfig({}, { KEYWARD_CONSOLE_SESSION_IDLE_MINUTES: '0.05', KEYWARD_CONSOLE_SESSION_HOURS: '0.5' });
    expect(c.console).to.deep.include({ idleSeconds: 3, lifetimeSeconds: 1800, publicUrlSet: false });
    expect(loadConfig({}).console).to.deep.include({ idleSeconds: 1800, lifetimeSeconds: 36000 });
    expect(() => loadConfig({}, { KEYWARD_CONSOLE_SESSION_IDLE_MINUTES: '-1' })).to.throw(/KEYWARD_CONSOLE_SESSION_IDLE_MINUTES/);
    expect(() => loadConfig({}, { KEYWARD_CONSOLE_SESSION_HOURS: 'ten' })).to.throw(/KEYWARD_CONSOLE_SESSION_HOURS/);
    expect(loadConfig({}, { KEYWARD_PUBLIC_URL: 'https://k.example' }).console.publicUrlSet).to.equal(true);
  });
});

describe('web console: the Authenticator and session cookies', () => {
  const verifier = {
    verify: async (token: string) => ({
      realm: 'demo',
      issuer: 'http://kc/realms/demo',
      subject: `sub-of-${token}`,
      clientId: 'keyward-console',
      username: 'alice',
      realmRoles: ['keyward-admin'],
      expiresAt: new Date(Date.now() + 60_000),
      claims: {},
    }),
  } as unknown as AccessTokenVerifier;
  const sessions = {
    cookieName: 'keyward-session',
    expectedOrigin: () => 'http://127.0.0.1:3000',
    accessToken: async (id: string) => `token-${id}`,
  };
  const req = (method: string, headers: Record<string, string>) =>
    ({
      method,
      socket: {},
      get: (name: string) => headers[name.toLowerCase()],
    }) as unknown as Request;

  it("authenticates a cookie-only request as the session's user, credential session", async () => {
    const auth = new Authenticator(verifier, { sessions });
    const p = await auth.principal(req('GET', { cookie: 'keyward-session=abc' }));
    expect(p).to.deep.include({ credential: 'session', kind: 'user', realm: 'demo', subject: 'sub-of-token-abc', username: 'alice' });
  });

  it('prefers the Authorization header over the cookie (Bearer calls are unaffected)', async () => {
    const auth = new Authenticator(verifier, { sessions });
    const p = await auth.principal(req('POST', { cookie: 'keyward-session=abc', authorization: 'Bearer xyz' }));
    expect(p).to.deep.include({ credential: 'bearer', subject: 'sub-of-xyz' });
  });

  it('refuses session writes without the header or from another origin', async () => {
    const auth = new Authenticator(verifier, { sessions });
    const code = async (r: Request) =>
      auth.principal(r).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(await code(req('POST', { cookie: 'keyward-session=abc' }))).to.equal('session.csrf');
    expect(await code(req('DELETE', { cookie: 'keyward-session=abc', 'x-keyward-console': '1', origin: 'https://evil.example' }))).to.equal(
      'session.csrf',
    );
    expect(await code(req('POST', { cookie: 'keyward-session=abc', 'x-keyward-console': '1', origin: 'http://127.0.0.1:3000' }))).to.equal(
      'ok',
    );
  });

  it('without sessions configured, a cookie alone is no credential', async () => {
    const auth = new Authenticator(verifier);
    const code = await auth.principal(req('GET', { cookie: 'keyward-session=abc' })).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
    expect(code).to.equal('auth.missing');
  });
});
