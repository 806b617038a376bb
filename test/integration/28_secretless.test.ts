/**
 * Secretless API clients: Keycloak authenticates them with Keyward certificates over mutual TLS (its `client-x509`
 * authenticator, RFC 8705 §2) and binds their tokens to the certificate (RFC 8705 §3, `cnf.x5t#S256`); Keyward
 * accepts such a token only from a connection that presents that very certificate.
 *
 * This file starts its own Keycloak (the official distribution, with a TLS listener, `--https-client-auth=request` and
 * a truststore directory that Keyward keeps) beside a real PostgreSQL, and talks to it with curl and openssl as a
 * client would.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  startKeycloakDistribution,
  type KeycloakHandle,
  type StartKeycloakOptions,
} from '../../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../../services/keyward/src/keycloak/bootstrap.ts';
import { truststoreFile } from '../../services/keyward/src/keycloak/truststore.ts';
import { keyward } from '../support/cli.ts';
import { curl } from '../support/curl.ts';
import { call, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { must } from '../support/openssl.ts';

const say = (line: string) => process.stderr.write(`  [secretless] ${line}\n`);

/** The payload of a JWT (not verified: the test reads what Keycloak put in it). */
const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

/** RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER. */
const thumbprintOf = (pem: string): string =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64'))
    .digest('base64url');

describe('28 secretless API clients: mutual TLS at Keycloak, certificate-bound tokens at Keyward (RFC 8705)', function () {
  this.timeout(900_000);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-secretless-'));
  const trustDir = join(dir, 'truststore');
  const realm = unique('mtls');
  const clientId = 'orders-sync';
  let kcOptions: StartKeycloakOptions;
  let kc: KeycloakHandle;
  let kw: RunningKeyward;
  let operator: { clientId: string; clientSecret: string };
  const serverCa = join(dir, 'server.crt');

  const operatorToken = async (): Promise<string> => {
    const r = await fetch(`${kc.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: operator.clientId, client_secret: operator.clientSecret }),
    });
    return ((await r.json()) as { access_token: string }).access_token;
  };
  const adminToken = async (): Promise<string> => {
    const r = await fetch(`${kc.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: kc.adminUser, password: kc.adminPassword }),
    });
    return ((await r.json()) as { access_token: string }).access_token;
  };
  /** Keycloak's own admin REST API: the independent witness. */
  const keycloakClient = async (id: string): Promise<Record<string, any>> => {
    const headers = { authorization: `Bearer ${await adminToken()}` };
    const [c] = (await (await fetch(`${kc.url}/admin/realms/${realm}/clients?clientId=${id}`, { headers })).json()) as Record<
      string,
      any
    >[];
    const secret = await (await fetch(`${kc.url}/admin/realms/${realm}/clients/${c!.id}/client-secret`, { headers })).json();
    return { ...c, secretValue: (secret as { value?: string }).value };
  };
  /** `curl --cert … --key …` against Keycloak's token endpoint over mutual TLS, as the README shows it. */
  const mtlsToken = (cert: string, key: string, id = clientId) =>
    curl(`${kc.httpsUrl}/realms/${realm}/protocol/openid-connect/token`, [
      '--cacert',
      serverCa,
      '--cert',
      cert,
      '--key',
      key,
      '-d',
      'grant_type=client_credentials',
      '-d',
      `client_id=${id}`,
    ]);
  const whoamiTls = (token: string, cert?: { cert: string; key: string }) =>
    curl(`${kw.tlsUrl}/v1/whoami`, [
      '--cacert',
      serverCa,
      ...(cert ? ['--cert', cert.cert, '--key', cert.key] : []),
      '-H',
      `authorization: Bearer ${token}`,
    ]);

  let certFile: string;
  let keyFile: string;
  let firstSerial: string;

  before(async () => {
    // One server certificate for both TLS listeners (Keycloak's and Keyward's), made for this run.
    await must([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'server.key'),
      '-out',
      serverCa,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
    ]);
    mkdirSync(trustDir); // Keycloak refuses to start on a truststore path that does not exist; an empty directory is fine
    kcOptions = {
      log: say,
      persistentDir: join(dir, 'keycloak'),
      port: await freePort(),
      https: { port: await freePort(), certificateFile: serverCa, keyFile: join(dir, 'server.key'), truststorePaths: [trustDir] },
    };
    kc = await startKeycloakDistribution(kcOptions);
    const boot = await bootstrap({
      url: kc.url,
      adminUser: kc.adminUser,
      adminPassword: kc.adminPassword,
      clientId: 'keyward-control-plane',
      audience: 'keyward',
      operatorClientId: 'keyward-operator-secretless',
    });
    operator = boot.operator!;
    kw = await startKeyward({
      KEYWARD_KEYCLOAK_URL: kc.url,
      KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
      KEYWARD_KEYCLOAK_TRUSTSTORE_DIR: trustDir,
      KEYWARD_TLS_CERT: serverCa,
      KEYWARD_TLS_KEY: join(dir, 'server.key'),
      KEYWARD_TLS_PORT: '0',
    });
    const op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    const policy = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/mtls`, {
      token: op,
      body: {
        keyTypes: ['EC-P256'],
        maxValidityDays: 30,
        subject: { required: ['CN'], allowed: ['CN'] },
        san: { dns: [], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['clientAuth'],
        approval: 'none',
      },
    });
    expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
  });

  after(async () => {
    await kw?.close();
    await kc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a certificate client: client-x509 with its exact subject and CA pinned, bound tokens, no secret', async () => {
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: await operatorToken(),
      body: { clientId, roles: ['keyward-requester'], authentication: 'certificate', certificatePolicy: 'mtls' },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.authentication).to.equal('certificate');
    expect(created.body).to.not.have.property('secret');
    const { certificate, privateKey, serialNumber, subject } = created.body.certificate;
    expect(subject).to.match(new RegExp(`^CN=${clientId} [0-9a-f]{16}$`));
    certFile = join(dir, 'client.crt');
    keyFile = join(dir, 'client.key');
    writeFileSync(certFile, certificate);
    writeFileSync(keyFile, privateKey, { mode: 0o600 });
    firstSerial = serialNumber;
    const text = await must(['x509', '-in', certFile, '-noout', '-text']);
    expect(text).to.include('TLS Web Client Authentication');

    const c = await keycloakClient(clientId);
    expect(c.clientAuthenticatorType).to.equal('client-x509');
    expect(c.secretValue ?? '').to.equal('');
    expect(c.attributes['x509.subjectdn']).to.equal(subject);
    const chain: string[] = (await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } })).body.chain;
    const root = (await must(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], chain.at(-1)!)).replace(/^subject=/, '').trim();
    expect(c.attributes['x509.casubjectdn'], "the chain's anchor").to.equal(root);
    expect(c.attributes['x509.allow.regex.pattern.comparison']).to.equal('false');
    expect(c.attributes['tls.client.certificate.bound.access.tokens']).to.equal('true');
    expect(readFileSync(truststoreFile(trustDir, realm), 'utf8').trim()).to.equal(chain.join('\n').trim());
  });

  let deviceClientId: string;
  const deviceCrt = () => join(dir, 'device.crt');
  const deviceKey = () => join(dir, 'device.key');

  it("accepts a device's self-signed certificate as a client-x509 client with bound tokens (IBM SKLM compatible)", async () => {
    const op = await operatorToken();
    const on = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/devices`, { token: op, body: { enabled: true } });
    expect(on.status, JSON.stringify(on.body)).to.equal(200);
    await must([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      deviceKey(),
      '-out',
      deviceCrt(),
      '-subj',
      '/O=Acme Devices/CN=tape-library-7',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ]);
    const hello = await curl(`${kw.tlsUrl}/v1/realms/${realm}/devices/hello`, [
      '--cacert',
      serverCa,
      '--cert',
      deviceCrt(),
      '--key',
      deviceKey(),
    ]);
    expect(hello.status, JSON.stringify(hello.body)).to.equal(403);
    expect(hello.body.code).to.equal('device.pending');
    const accepted = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
      token: op,
      body: { alias: 'tape7', uuid: hello.body.uuid },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(201);
    deviceClientId = accepted.body.clientId;
    const c = await keycloakClient(deviceClientId);
    expect(c.clientAuthenticatorType).to.equal('client-x509');
    expect(c.attributes['x509.subjectdn']).to.equal('CN=tape-library-7,O=Acme Devices');
    expect(c.attributes['tls.client.certificate.bound.access.tokens']).to.equal('true');
    const listed = await call(kw.url, 'GET', `/v1/realms/${realm}/api-clients`, { token: op });
    expect(
      listed.body.items.map((x: { clientId: string }) => x.clientId),
      'a device is not an API client',
    ).to.not.include(deviceClientId);
  });

  it("is not trusted by a Keycloak that started before the realm's CA was in its truststore; after a restart it is", async () => {
    const before = await mtlsToken(certFile, keyFile);
    expect(before.body?.access_token, 'a token before the restart').to.equal(undefined);
    say(`before the restart: HTTP ${before.status} ${JSON.stringify(before.body)} ${before.stderr.trim()}`);
    await kc.stop();
    kc = await startKeycloakDistribution(kcOptions);
    const after = await mtlsToken(certFile, keyFile);
    expect(after.status, JSON.stringify(after.body)).to.equal(200);
  });

  let token: string;

  it("gets a client-credentials token over mutual TLS whose cnf.x5t#S256 is the certificate's SHA-256 thumbprint", async () => {
    const r = await mtlsToken(certFile, keyFile);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    token = r.body.access_token;
    const claims = claimsOf(token);
    expect(claims.cnf).to.deep.equal({ 'x5t#S256': thumbprintOf(readFileSync(certFile, 'utf8')) });
    expect(claims.azp).to.equal(clientId);
    const noCert = await curl(`${kc.httpsUrl}/realms/${realm}/protocol/openid-connect/token`, [
      '--cacert',
      serverCa,
      '-d',
      'grant_type=client_credentials',
      '-d',
      `client_id=${clientId}`,
    ]);
    expect(noCert.status).to.equal(401);
    expect(noCert.body.error).to.equal('invalid_client');
  });

  it('the bound token works against Keyward over mTLS with the same certificate', async () => {
    const r = await whoamiTls(token, { cert: certFile, key: keyFile });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.clientId).to.equal(clientId);
  });

  it('is refused with 401 token.certificate_mismatch with another certificate, without one, and over plain HTTP', async () => {
    await must([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'other.key'),
      '-out',
      join(dir, 'other.crt'),
      '-subj',
      `/CN=${clientId}`,
      '-days',
      '1',
    ]);
    const other = await whoamiTls(token, { cert: join(dir, 'other.crt'), key: join(dir, 'other.key') });
    expect(other.status, JSON.stringify(other.body)).to.equal(401);
    expect(other.body.code).to.equal('token.certificate_mismatch');
    const none = await whoamiTls(token);
    expect(none.status).to.equal(401);
    expect(none.body.code).to.equal('token.certificate_mismatch');
    const plain = await call(kw.url, 'GET', '/v1/whoami', { token });
    expect(plain.status).to.equal(401);
    expect(plain.body.code).to.equal('token.certificate_mismatch');
    expect(plain.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
  });

  it('the accepted device gets a bound token from Keycloak with its own certificate and calls /v1/whoami with it', async () => {
    const t = await mtlsToken(deviceCrt(), deviceKey(), deviceClientId);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    expect(claimsOf(t.body.access_token).cnf['x5t#S256']).to.equal(thumbprintOf(readFileSync(deviceCrt(), 'utf8')));
    const me = await whoamiTls(t.body.access_token, { cert: deviceCrt(), key: deviceKey() });
    expect(me.status, JSON.stringify(me.body)).to.equal(200);
    expect(me.body.clientId).to.equal(deviceClientId);
    const elsewhere = await whoamiTls(t.body.access_token, { cert: certFile, key: keyFile });
    expect(elsewhere.body.code).to.equal('token.certificate_mismatch');
  });

  let renewedSerial: string;

  it('after `keyward certificate renew` the new certificate (same subject) gets tokens bound to it', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const r = await keyward(['certificate', 'renew', '--cert', certFile, '--key', keyFile, '--url', kw.tlsUrl!, '--ca-file', serverCa], {
      PATH: process.env.PATH ?? '',
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
    });
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    renewedSerial = /serial ([0-9a-f]+)/.exec(r.stdout)![1]!;
    expect(renewedSerial).to.not.equal(firstSerial);
    const t = await mtlsToken(certFile, keyFile);
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    expect(claimsOf(t.body.access_token).cnf['x5t#S256']).to.equal(thumbprintOf(readFileSync(certFile, 'utf8')));
    token = t.body.access_token;
  });

  it('after revocation in Keyward, Keycloak refuses the certificate at once', async () => {
    const revoked = await curl(`${kw.tlsUrl}/v1/realms/${realm}/certificates/${renewedSerial}/revoke`, [
      '--cacert',
      serverCa,
      '--cert',
      certFile,
      '--key',
      keyFile,
      '-H',
      `authorization: Bearer ${token}`,
      '-H',
      'content-type: application/json',
      '-d',
      JSON.stringify({ reason: 'keyCompromise' }),
    ]);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    expect(revoked.body.status).to.equal('revoked');
    const t = await mtlsToken(certFile, keyFile);
    expect(t.status, JSON.stringify(t.body)).to.equal(401);
    expect(t.body.error).to.equal('invalid_client');
    const subject = (await must(['x509', '-in', certFile, '-noout', '-subject', '-nameopt', 'RFC2253'])).replace(/^subject=/, '').trim();
    const c = await keycloakClient(clientId);
    expect(c.attributes['x509.subjectdn'], 'the pin moved to a new generation').to.match(new RegExp(`^CN=${clientId} [0-9a-f]{16}$`));
    expect(c.attributes['x509.subjectdn']).to.not.equal(subject);
  });

  it('a new certificate (PATCH authentication: certificate, from a CSR) works again; switching to a secret is audited', async () => {
    await must([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'next.key'),
      '-out',
      join(dir, 'next.csr'),
      '-subj',
      '/CN=ignored',
    ]);
    const patched = await call(kw.url, 'PATCH', `/v1/realms/${realm}/api-clients/${clientId}`, {
      token: await operatorToken(),
      body: { authentication: 'certificate', csr: readFileSync(join(dir, 'next.csr'), 'utf8') },
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body.certificate).to.not.have.property('privateKey');
    writeFileSync(join(dir, 'next.crt'), patched.body.certificate.certificate);
    const t = await mtlsToken(join(dir, 'next.crt'), join(dir, 'next.key'));
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    const old = await mtlsToken(certFile, keyFile);
    expect(old.status, 'the revoked generation stays refused').to.equal(401);

    const toSecret = await call(kw.url, 'PATCH', `/v1/realms/${realm}/api-clients/${clientId}`, {
      token: await operatorToken(),
      body: { authentication: 'secret' },
    });
    expect(toSecret.status, JSON.stringify(toSecret.body)).to.equal(200);
    expect(toSecret.body.authentication).to.equal('secret');
    expect(toSecret.body.secret).to.be.a('string').with.length.greaterThan(16);
    const c = await keycloakClient(clientId);
    expect(c.clientAuthenticatorType).to.equal('client-secret');
    const bySecret = await fetch(`${kc.url}/realms/${realm}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: toSecret.body.secret }),
    });
    expect(bySecret.status).to.equal(200);
    const unbound = ((await bySecret.json()) as { access_token: string }).access_token;
    expect(claimsOf(unbound)).to.not.have.property('cnf');
    expect((await call(kw.url, 'GET', '/v1/whoami', { token: unbound })).status, 'an unbound token works as before').to.equal(200);
    const audit = await kw.keyward.db.query<{ action: string; details: Record<string, unknown> }>(
      "SELECT action, details FROM audit_events WHERE realm = $1 AND target = $2 AND action LIKE 'api_client.%' ORDER BY seq",
      [realm, clientId],
    );
    expect(audit.rows.map((r) => r.action)).to.include.members([
      'api_client.created',
      'api_client.certificate_unpinned',
      'api_client.certificate_issued',
      'api_client.authentication_changed',
    ]);
    expect(existsSync(truststoreFile(trustDir, realm))).to.equal(true);
  });
  it('`keyward api-clients create --auth certificate --out DIR` writes files that get a bound token at once', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const out = join(dir, 'cli');
    const r = await keyward(
      ['api-clients', 'create', 'cli-made', '--realm', realm, '--role', 'keyward-requester', '--auth', 'certificate'].concat([
        '--certificate-policy',
        'mtls',
        '--out',
        out,
      ]),
      { PATH: process.env.PATH ?? '', HOME: home, KEYWARD_URL: kw.url, KEYWARD_TOKEN: await operatorToken() },
    );
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.include('authentication:   certificate');
    expect(r.stdout).to.not.include('secret:');
    const t = await mtlsToken(join(out, 'cli-made.crt'), join(out, 'cli-made.key'), 'cli-made');
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    expect(claimsOf(t.body.access_token).cnf['x5t#S256']).to.equal(thumbprintOf(readFileSync(join(out, 'cli-made.crt'), 'utf8')));
  });

  it('realm-config declares a certificate client; apply issues its certificate once, and a second apply changes nothing', async () => {
    const file = {
      name: `${realm}.json`,
      content: {
        realm,
        apiClients: [{ clientId: 'from-config', roles: ['keyward-requester'], authentication: 'certificate', certificatePolicy: 'mtls' }],
      },
    };
    const applied = await call(kw.url, 'POST', '/v1/realm-config/apply', { token: await operatorToken(), body: { files: [file] } });
    expect(applied.status, JSON.stringify(applied.body)).to.equal(200);
    expect(applied.body.generatedSecrets).to.deep.equal([]);
    const [issued] = applied.body.issuedCertificates;
    expect(issued.clientId).to.equal('from-config');
    writeFileSync(join(dir, 'config.crt'), issued.certificate);
    writeFileSync(join(dir, 'config.key'), issued.privateKey, { mode: 0o600 });
    const t = await mtlsToken(join(dir, 'config.crt'), join(dir, 'config.key'), 'from-config');
    expect(t.status, JSON.stringify(t.body)).to.equal(200);
    expect((await keycloakClient('from-config')).clientAuthenticatorType).to.equal('client-x509');
    const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: await operatorToken(), body: { files: [file] } });
    expect(plan.status, JSON.stringify(plan.body)).to.equal(200);
    expect(plan.body.changes).to.deep.equal([]);
  });
});
