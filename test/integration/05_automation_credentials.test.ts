/**
 * Scenario 05 — certificates as automation credentials, checked with curl and
 * openssl as the products we follow describe them:
 * - like Flocker's `flocker-ca`: `keyward ca` files, `curl --cacert cluster.crt --cert <name>.crt --key <name>.key`;
 * - as in IBM CSM: a user's client certificate sent in X-Client-Certificate, with
 *   the user's current authority.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  call,
  createLoginClient,
  createUser,
  integrationEnv,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  userToken,
  type RunningKeyward,
} from '../support/env.ts';
import { curl, run } from '../support/curl.ts';
import { csr, must, work, write } from '../support/openssl.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));

describe('05 automation credentials', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('auto');
  let kw: RunningKeyward;
  let op: string;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    const env = await integrationEnv();
    // The CA files first: Keyward's HTTPS listener serves the control certificate.
    for (const args of [
      ['initialize', 'test-cluster'],
      ['create-control-certificate', '127.0.0.1'],
      ['create-api-certificate', 'deployer'],
      ['create-api-certificate', 'stranger'],
    ]) {
      const r = await run(BIN, ['ca', ...args, '--dir', dir]);
      expect(r.code, r.stderr).to.equal(0);
    }
    kw = await startKeyward({
      KEYWARD_TLS_CERT: join(dir, 'control-127.0.0.1.crt'),
      KEYWARD_TLS_KEY: join(dir, 'control-127.0.0.1.key'),
      KEYWARD_TLS_PORT: '0',
    });
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    cliEnv = {
      ...process.env,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: env.operator.clientId,
      KEYWARD_CLIENT_SECRET: env.operator.clientSecret,
    };
  });

  describe("keyward ca (like Flocker's flocker-ca)", () => {
    it('makes an API certificate whose subject is OU=<cluster UUID>, CN=user-<name>', async () => {
      const subject = await must(['x509', '-in', join(dir, 'deployer.crt'), '-noout', '-subject']);
      const uuid = /OU\s*=\s*([0-9a-f-]{36})/.exec(await must(['x509', '-in', join(dir, 'cluster.crt'), '-noout', '-subject']))![1];
      expect(subject.trim()).to.equal(`subject=OU = ${uuid}, CN = user-deployer`);
      expect(
        readFileSync(join(dir, 'deployer.key')) && (await import('node:fs')).statSync(join(dir, 'deployer.key')).mode & 0o777,
      ).to.equal(0o600);
      await must([
        'pkcs12',
        '-export',
        '-in',
        join(dir, 'deployer.crt'),
        '-inkey',
        join(dir, 'deployer.key'),
        '-out',
        join(dir, 'deployer.p12'),
        '-passout',
        'pass:x',
      ]);
    });

    it('authenticates curl --cacert cluster.crt --cert --key as the API client of the trusting realm', async () => {
      const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
        token: op,
        body: { clientId: 'deployer', roles: ['keyward-requester'] },
      });
      expect(made.status).to.equal(201);
      const untrusted = await curl(`${kw.tlsUrl}/v1/whoami`, [
        '--cacert',
        join(dir, 'cluster.crt'),
        '--cert',
        join(dir, 'deployer.crt'),
        '--key',
        join(dir, 'deployer.key'),
      ]);
      expect(untrusted.status).to.equal(401);
      expect(untrusted.body.code).to.equal('client_certificate.untrusted');
      const trust = await run(BIN, ['ca', 'trust', '--realm', realm, join(dir, 'cluster.crt')], cliEnv);
      expect(trust.code, trust.stderr).to.equal(0);
      const me = await curl(`${kw.tlsUrl}/v1/whoami`, [
        '--cacert',
        join(dir, 'cluster.crt'),
        '--cert',
        join(dir, 'deployer.crt'),
        '--key',
        join(dir, 'deployer.key'),
      ]);
      expect(me.status, me.stderr).to.equal(200);
      expect(me.body).to.include({ credential: 'client_certificate', kind: 'client', realm, clientId: 'deployer' });
      expect(me.body.roles[realm]).to.include('keyward-requester');
    });

    it('issues a certificate to that client over mutual TLS', async () => {
      await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, {
        token: op,
        body: {
          keyTypes: ['EC-P256'],
          maxValidityDays: 30,
          subject: { required: ['CN'], allowed: ['CN'] },
          san: { dns: ['*.auto.internal'], ip: [], uri: [], email: [] },
          keyUsage: ['digitalSignature'],
          extendedKeyUsage: ['serverAuth'],
          approval: 'none',
        },
      });
      const req = await csr(dir, { subject: '/CN=a.auto.internal', sans: ['DNS:a.auto.internal'] });
      const res = await curl(`${kw.tlsUrl}/v1/realms/${realm}/certificates?policy=svc`, [
        '--cacert',
        join(dir, 'cluster.crt'),
        '--cert',
        join(dir, 'deployer.crt'),
        '--key',
        join(dir, 'deployer.key'),
        '-H',
        'Content-Type: application/pkcs10',
        '--data-binary',
        `@${req.csrFile}`,
      ]);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.requester.name).to.equal('deployer');
    });

    it('refuses a CN that names no API client with 403 client_certificate.unknown_principal', async () => {
      const r = await curl(`${kw.tlsUrl}/v1/whoami`, [
        '--cacert',
        join(dir, 'cluster.crt'),
        '--cert',
        join(dir, 'stranger.crt'),
        '--key',
        join(dir, 'stranger.key'),
      ]);
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('client_certificate.unknown_principal');
    });

    it('stops trusting at once when the realm removes the CA', async () => {
      const del = await call(kw.url, 'DELETE', `/v1/realms/${realm}/trusted-client-cas/test-cluster`, { token: op });
      expect(del.status).to.equal(204);
      const r = await curl(`${kw.tlsUrl}/v1/whoami`, [
        '--cacert',
        join(dir, 'cluster.crt'),
        '--cert',
        join(dir, 'deployer.crt'),
        '--key',
        join(dir, 'deployer.key'),
      ]);
      expect(r.status).to.equal(401);
      const again = await run(BIN, ['ca', 'trust', '--realm', realm, join(dir, 'cluster.crt')], cliEnv);
      expect(again.code).to.equal(0);
    });

    it('refuses a non-CA certificate as a trusted CA', async () => {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/trusted-client-cas/bad`, {
        token: op,
        body: { certificate: readFileSync(join(dir, 'deployer.crt'), 'utf8') },
      });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('trusted_ca.invalid');
    });
  });

  describe("users' client certificates for automation (as in IBM CSM)", () => {
    let alice: string;
    let aliceId: string;
    let bundle: string;
    let certId: string;
    const header = (pem: string) => ({ 'X-Client-Certificate': Buffer.from(pem).toString('base64') });

    before(async () => {
      await createLoginClient(realm);
      aliceId = await createUser(realm, 'alice', 'alice-password-1', ['keyward-requester']);
      await createUser(realm, 'root-admin', 'admin-password-1', ['keyward-admin']);
      alice = await userToken(realm, 'alice', 'alice-password-1');
      await must([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'foreign.key'),
        '-out',
        join(dir, 'foreign.crt'),
        '-days',
        '5',
        '-subj',
        '/CN=user-deployer',
      ]);
    });

    it('is disabled until an admin enables it', async () => {
      const r = await call(kw.url, 'POST', '/v1/client-certificates', { token: alice, body: { expiresInDays: 10 } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('client_certificate.disabled');
      const notAdmin = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/client-certificates`, {
        token: alice,
        body: { enabled: true, maxExpirationDays: 30 },
      });
      expect(notAdmin.status).to.equal(403);
      const admin = await userToken(realm, 'root-admin', 'admin-password-1');
      const on = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/client-certificates`, {
        token: admin,
        body: { enabled: true, maxExpirationDays: 30 },
      });
      expect(on.status).to.equal(200);
    });

    it('refuses an expiry above the maximum with 422, naming the maximum', async () => {
      const r = await call(kw.url, 'POST', '/v1/client-certificates', { token: alice, body: { expiresInDays: 31 } });
      expect(r.status).to.equal(422);
      expect(r.body.code).to.equal('client_certificate.expiry_exceeded');
      expect(r.body.maximum).to.equal(30);
      expect(r.body.detail).to.contain('30');
    });

    it('creates a named certificate with a generated key; the .pem downloads again at any time', async () => {
      const r = await call(kw.url, 'POST', '/v1/client-certificates', {
        token: alice,
        body: { name: 'nightly-backup', expiresInDays: 30 },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({ name: 'nightly-backup', expiresInDays: 30, status: 'valid', username: 'alice', mode: 'generated' });
      expect(r.body.pem).to.contain('BEGIN CERTIFICATE').and.to.contain('BEGIN PRIVATE KEY');
      bundle = r.body.pem;
      certId = r.body.id;
      const again = await fetch(`${kw.url}/v1/client-certificates/${certId}/pem`, { headers: { authorization: `Bearer ${alice}` } });
      expect(await again.text()).to.equal(bundle);
      const list = await call(kw.url, 'GET', '/v1/client-certificates', { token: alice });
      expect(list.body.maximumExpirationDays).to.equal(30);
      expect(list.body.items.map((c: any) => c.name)).to.deep.equal(['nightly-backup']);
    });

    it("authenticates the .pem in X-Client-Certificate (base64 or URL-encoded) with alice's authority", async () => {
      const me = await call(kw.url, 'GET', '/v1/whoami', { headers: header(bundle) });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body).to.include({ credential: 'client_certificate', kind: 'user', realm, username: 'alice' });
      expect(me.body.roles[realm]).to.include('keyward-requester');
      const encoded = await call(kw.url, 'GET', '/v1/whoami', { headers: { 'X-Client-Certificate': encodeURIComponent(bundle) } });
      expect(encoded.status).to.equal(200);
    });

    it('works in the TLS handshake too', async () => {
      const pemFile = write(dir, 'alice.pem', bundle);
      const r = await curl(`${kw.tlsUrl}/v1/whoami`, ['--cacert', join(dir, 'cluster.crt'), '--cert', pemFile]);
      expect(r.status, r.stderr).to.equal(200);
      expect(r.body).to.include({ credential: 'client_certificate', username: 'alice' });
    });

    it('follows role changes in Keycloak at once (within the role cache)', async () => {
      const role = await (await keycloakAdmin(`/${realm}/roles/keyward-requester`)).json();
      expect(
        (await keycloakAdmin(`/${realm}/users/${aliceId}/role-mappings/realm`, { method: 'DELETE', body: JSON.stringify([role]) })).status,
      ).to.equal(204);
      await new Promise((r) => setTimeout(r, 1500));
      const me = await call(kw.url, 'GET', '/v1/whoami', { headers: header(bundle) });
      expect(me.body.roles[realm] ?? []).to.not.include('keyward-requester');
      await keycloakAdmin(`/${realm}/users/${aliceId}/role-mappings/realm`, { method: 'POST', body: JSON.stringify([role]) });
    });

    const refusals: Array<[string, () => Record<string, string>, number, string]> = [
      ['a header that is not a certificate', () => ({ 'X-Client-Certificate': 'not a certificate' }), 400, 'client_certificate.malformed'],
      [
        'the certificate without its key from an address that is not a proxy',
        () => header(bundle.slice(0, bundle.indexOf('-----BEGIN PRIVATE KEY'))),
        401,
        'client_certificate.key_required',
      ],
      [
        'a key that does not match',
        () => header(bundle.slice(0, bundle.indexOf('-----BEGIN PRIVATE KEY')) + readFileSync(join(dir, 'stranger.key'), 'utf8')),
        401,
        'client_certificate.key_mismatch',
      ],
      [
        'a certificate of another CA',
        () => header(readFileSync(join(dir, 'foreign.crt'), 'utf8') + readFileSync(join(dir, 'foreign.key'), 'utf8')),
        401,
        'client_certificate.untrusted',
      ],
      ['a header over the limit', () => ({ 'X-Client-Certificate': 'A'.repeat(13_000) }), 431, 'client_certificate.header_too_large'],
    ];
    for (const [what, headers, status, code] of refusals) {
      it(`refuses ${what} with ${status} ${code}`, async () => {
        const r = await call(kw.url, 'GET', '/v1/whoami', { headers: headers() });
        expect(r.status, JSON.stringify(r.body)).to.equal(status);
        expect(r.body.code).to.equal(code);
      });
    }

    it('keeps the key on the client when a CSR is sent', async () => {
      const req = await csr(dir, { subject: '/CN=ignored' });
      const r = await call(kw.url, 'POST', '/v1/client-certificates', {
        token: alice,
        body: { name: 'from-csr', expiresInDays: 5, csr: req.pem },
      });
      expect(r.status).to.equal(201);
      expect(r.body.mode).to.equal('csr');
      expect(r.body.pem).to.not.contain('PRIVATE KEY');
      const me = await call(kw.url, 'GET', '/v1/whoami', { headers: header(r.body.pem + readFileSync(req.keyFile, 'utf8')) });
      expect(me.body.username).to.equal('alice');
    });

    it("shows admins every user's certificates", async () => {
      const admin = await userToken(realm, 'root-admin', 'admin-password-1');
      const r = await call(kw.url, 'GET', `/v1/realms/${realm}/client-certificates`, { token: admin });
      expect(r.body.items.map((c: any) => `${c.username}/${c.name}`)).to.include.members(['alice/nightly-backup', 'alice/from-csr']);
      const denied = await call(kw.url, 'GET', `/v1/realms/${realm}/client-certificates`, { token: alice });
      expect(denied.status).to.equal(403);
    });

    it('stops working when revoked', async () => {
      const del = await call(kw.url, 'DELETE', `/v1/client-certificates/${certId}`, { token: alice });
      expect(del.status).to.equal(200);
      expect(del.body.status).to.equal('revoked');
      const r = await call(kw.url, 'GET', '/v1/whoami', { headers: header(bundle) });
      expect(r.status).to.equal(401);
      expect(r.body.code).to.equal('client_certificate.revoked');
    });

    it('stops working when the user is disabled in Keycloak', async () => {
      const c = await call(kw.url, 'POST', '/v1/client-certificates', { token: alice, body: { expiresInDays: 2 } });
      const user = await (await keycloakAdmin(`/${realm}/users/${aliceId}`)).json();
      await keycloakAdmin(`/${realm}/users/${aliceId}`, { method: 'PUT', body: JSON.stringify({ ...(user as object), enabled: false }) });
      const r = await call(kw.url, 'GET', '/v1/whoami', { headers: header(c.body.pem) });
      expect(r.status).to.equal(401);
      expect(r.body.code).to.equal('client_certificate.user_disabled');
    });

    it('honours a bare certificate only from a configured proxy in proxy mode', async () => {
      await keycloakAdmin(`/${realm}/users/${aliceId}`, { method: 'PUT', body: JSON.stringify({ enabled: true }) });
      const fresh = await call(kw.url, 'POST', '/v1/client-certificates', {
        token: await userToken(realm, 'alice', 'alice-password-1'),
        body: { expiresInDays: 2 },
      });
      const certOnly = fresh.body.pem.slice(0, fresh.body.pem.indexOf('-----BEGIN PRIVATE KEY'));
      const strict = await startKeyward({ KEYWARD_CLIENT_CERT_HEADER: 'proxy' });
      const ignored = await call(strict.url, 'GET', '/v1/whoami', {
        headers: { 'X-Client-Certificate': encodeURIComponent(fresh.body.pem) },
      });
      expect(ignored.status).to.equal(401);
      expect(ignored.body.code).to.equal('auth.missing');
      await strict.close();
      const proxied = await startKeyward({ KEYWARD_CLIENT_CERT_HEADER: 'proxy', KEYWARD_TRUSTED_PROXIES: '127.0.0.1' });
      const ok = await call(proxied.url, 'GET', '/v1/whoami', { headers: { 'X-Client-Certificate': encodeURIComponent(certOnly) } });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(ok.body.username).to.equal('alice');
      await proxied.close();
    });

    it('is for users only: an API client gets 403', async () => {
      const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: unique('svc') } });
      const { clientToken } = await import('../support/env.ts');
      const t = await clientToken(realm, made.body.clientId, made.body.secret);
      const r = await call(kw.url, 'POST', '/v1/client-certificates', { token: t, body: { expiresInDays: 1 } });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('client_certificate.users_only');
    });
  });
});

describe('05 automation credentials: keyward login', function () {
  this.timeout(600_000);

  it('logs a user in with the device authorization grant, and the CLI then creates and uses a client certificate', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, statSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { approveDeviceLogin } = await import('../support/browser.ts');
    const env = await integrationEnv();
    const kw = await startKeyward();
    const op = await operatorToken();
    const realm = unique('login');
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/client-certificates`, {
      token: op,
      body: { enabled: true, maxExpirationDays: 10 },
    });
    await createUser(realm, 'carol', 'carol-password-1', ['keyward-requester']);
    const config = mkdtempSync(join(tmpdir(), 'keyward-cfg-'));
    const { KEYWARD_CLIENT_ID: _id, KEYWARD_TOKEN: _token, ...base } = process.env;
    const cliEnv = { ...base, XDG_CONFIG_HOME: config, KEYWARD_URL: kw.url, KEYWARD_KEYCLOAK_URL: env.keycloakUrl };
    const child = spawn(BIN, ['login', '--realm', realm], { env: cliEnv });
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const m = /Open (\S+) in a browser/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`login exited ${code}: ${stdout}`)));
    });
    const page = await approveDeviceLogin(url, 'carol', 'carol-password-1');
    expect(page).to.match(/success|successful/i);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stdout).to.equal(0);
    expect(stdout).to.contain(`Logged in as carol of realm ${realm}`);
    expect(statSync(join(config, 'keyward', 'credentials.json')).mode & 0o777).to.equal(0o600);
    const me = await run(BIN, ['whoami'], cliEnv);
    expect(JSON.parse(me.stdout)).to.include({ kind: 'user', username: 'carol', realm });
    const pemFile = join(config, 'carol.pem');
    const made = await run(BIN, ['client-certificates', 'create', '--days', '5', '--name', 'ci', '--out', pemFile], cliEnv);
    expect(made.code, made.stderr).to.equal(0);
    const viaHeader = await call(kw.url, 'GET', '/v1/whoami', {
      headers: { 'X-Client-Certificate': Buffer.from(readFileSync(pemFile)).toString('base64') },
    });
    expect(viaHeader.body).to.include({ credential: 'client_certificate', username: 'carol' });
    expect((await run(BIN, ['logout'], cliEnv)).stdout).to.contain('Logged out');
  });
});
