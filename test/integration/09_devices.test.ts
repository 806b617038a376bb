/**
 * Scenario 09 — device onboarding (compatible with IBM SKLM's pending client
 * certificates), checked with curl and openssl as a device and an admin would,
 * against the real Keycloak:
 * a device's TLS hello is recorded as pending (403 device.pending), an admin
 * accepts it with an alias, the device client appears in Keycloak and the
 * same curl reaches /v1/whoami as it; the SKLM-compatible path answers with
 * IBM SKLM's bodies; alias rules, name collisions, revocation through the
 * trust store and Keycloak, dual control and bad input.
 */
import * as x509 from '@peculiar/x509';
import { expect } from 'chai';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toPem } from '../../services/keyward/src/ca/pem.ts';
import { findJava } from '../../services/keyward/src/devenv/index.ts';
import {
  call,
  clientToken,
  integrationEnv,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  type RunningKeyward,
} from '../support/env.ts';
import { curl, run } from '../support/curl.ts';
import { must, work, write } from '../support/openssl.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));

interface DeviceFiles {
  crt: string;
  key: string;
  pem: string;
  fingerprint: string;
}

/** A device's self-signed certificate, as `openssl req -x509` makes it. */
async function device(
  dir: string,
  name: string,
  subject: string,
  extra: string[] = ['-addext', 'basicConstraints=critical,CA:FALSE'],
): Promise<DeviceFiles> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  await must([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    crt,
    '-subj',
    subject,
    '-days',
    '30',
    ...extra,
  ]);
  const fp = (await must(['x509', '-in', crt, '-noout', '-fingerprint', '-sha256'])).trim().replace(/^.*=/, '');
  return { crt, key, pem: readFileSync(crt, 'utf8'), fingerprint: fp };
}

async function findClient(realm: string, clientId: string): Promise<any | undefined> {
  const list = (await (await keycloakAdmin(`/${realm}/clients?clientId=${encodeURIComponent(clientId)}`)).json()) as any[];
  return list.find((c) => c.clientId === clientId);
}

describe('09 device onboarding', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('dev');
  let kw: RunningKeyward;
  let op: string;
  let serverCa: string;
  let d1: DeviceFiles;
  let cliEnv: NodeJS.ProcessEnv;
  /** curl as the device: its certificate and key, Keyward's certificate as the CA. */
  const asDevice = (d: DeviceFiles, path: string, extra: string[] = []) =>
    curl(`${kw.tlsUrl}${path}`, ['--cacert', serverCa, '--cert', d.crt, '--key', d.key, ...extra]);
  const pending = async () =>
    (await call(kw.url, 'GET', `/v1/realms/${realm}/pending-client-certificates`, { token: op })).body.items as any[];

  before(async () => {
    const env = await integrationEnv();
    const serverKey = join(dir, 'server.key');
    serverCa = join(dir, 'server.crt');
    await must([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      serverKey,
      '-out',
      serverCa,
      '-subj',
      '/CN=127.0.0.1',
      '-days',
      '2',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ]);
    kw = await startKeyward({
      KEYWARD_TLS_CERT: serverCa,
      KEYWARD_TLS_KEY: serverKey,
      KEYWARD_TLS_PORT: '0',
      KEYWARD_DEVICE_DEFAULT_REALM: realm,
      KEYWARD_DEVICE_PUSH_RATE: '100000',
    });
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    d1 = await device(dir, 'd1', '/O=Acme Devices/CN=tape-library-1');
    cliEnv = {
      ...process.env,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: env.operator.clientId,
      KEYWARD_CLIENT_SECRET: env.operator.clientSecret,
    };
  });

  describe('settings', () => {
    it('has device onboarding off by default: pushes get 403 device.onboarding_disabled until an admin enables it', async () => {
      const s = await call(kw.url, 'GET', `/v1/realms/${realm}/settings/devices`, { token: op });
      expect(s.body).to.deep.equal({ enabled: false, maxPending: 100, rejectForHours: 24 });
      const r = await asDevice(d1, `/v1/realms/${realm}/devices/hello`);
      expect(r.status, r.stderr).to.equal(403);
      expect(r.body.code).to.equal('device.onboarding_disabled');
      expect(await pending()).to.have.length(0);
      const on = await run(BIN, ['devices', 'settings', '--realm', realm, '--enable'], cliEnv);
      expect(on.code, on.stderr).to.equal(0);
      expect(on.stdout).to.contain('enabled, at most 100 pending');
    });

    it('refuses bad settings with 400 settings.invalid', async () => {
      for (const body of [{ maxPending: 0 }, { rejectForHours: -1 }, { enabled: 'yes' }]) {
        const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/devices`, { token: op, body });
        expect(r.status, JSON.stringify(body)).to.equal(400);
      }
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/settings/devices`, { token: op })).body.enabled).to.equal(true);
    });
  });

  describe('push, accept, authenticate', () => {
    let uuid: string;

    it("records a device's TLS hello as pending and answers 403 device.pending; asking again only updates lastSeen", async () => {
      const first = await asDevice(d1, `/v1/realms/${realm}/devices/hello`);
      expect(first.status, first.stderr).to.equal(403);
      expect(first.body.code).to.equal('device.pending');
      expect(first.body.uuid).to.match(/^CERTIFICATE-[0-9a-f-]{36}$/);
      uuid = first.body.uuid;
      const second = await asDevice(d1, `/v1/realms/${realm}/devices/hello`, ['-X', 'POST']);
      expect(second.status).to.equal(403);
      expect(second.body.uuid).to.equal(uuid);
      const list = await pending();
      expect(list).to.have.length(1);
      const p = list[0];
      expect(p).to.include({
        uuid,
        subject: 'O=Acme Devices, CN=tape-library-1',
        issuer: 'O=Acme Devices, CN=tape-library-1',
        sha256Fingerprint: d1.fingerprint,
        sourceAddress: '127.0.0.1',
        via: 'tls',
      });
      expect(p.serialNumber).to.match(/^[0-9a-f]+$/);
      expect(new Date(p.lastSeen).getTime()).to.be.greaterThanOrEqual(new Date(p.firstSeen).getTime());
      expect(new Date(p.notAfter).getTime()).to.be.greaterThan(Date.now());
    });

    it('refuses other callers: no credentials 401, a requester 403', async () => {
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/pending-client-certificates`)).status).to.equal(401);
      const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
        token: op,
        body: { clientId: unique('req'), roles: ['keyward-requester'] },
      });
      const t = await clientToken(realm, made.body.clientId, made.body.secret);
      const r = await call(kw.url, 'GET', `/v1/realms/${realm}/pending-client-certificates`, { token: t });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('auth.forbidden');
    });

    it('refuses bad aliases (400 device.alias_invalid) and an unknown uuid (404 device.pending_not_found), storing nothing', async () => {
      for (const alias of ['a/b', 'a\\b', 'aaa000000000000000002', 'XYZ123456789012345678', '   ']) {
        const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, { token: op, body: { alias, uuid } });
        expect(r.status, alias).to.equal(400);
        expect(r.body.code, alias).to.equal('device.alias_invalid');
      }
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'x', uuid: 'CERTIFICATE-a3862239-a367-41ff-97a1-0ca72cfa08e8' },
      });
      expect(r.status).to.equal(404);
      expect(r.body.code).to.equal('device.pending_not_found');
      expect(
        (
          await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
            token: op,
            body: { alias: 'x', uuid: 'nonsense' },
          })
        ).body.code,
      ).to.equal('device.pending_not_found');
      expect(await pending()).to.have.length(1);
      expect((await call(kw.url, 'GET', `/v1/realms/${realm}/trusted-client-certificates`, { token: op })).body.items).to.have.length(0);
    });

    it('accepts it under an alias (lower-cased): trusted, and a client-x509 device client in Keycloak, in the device group', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'MY Cert1', uuid, deviceGroup: 'PEER_TO_PEER', deviceRole: 'TAPE' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({
        alias: 'my cert1',
        uuid,
        clientId: 'my-cert1',
        deviceGroup: 'PEER_TO_PEER',
        deviceRole: 'TAPE',
        sha256Fingerprint: d1.fingerprint,
      });
      expect(r.headers.get('location')).to.equal(`/v1/realms/${realm}/trusted-client-certificates/my%20cert1`);
      expect(await pending()).to.have.length(0);
      const trusted = (await call(kw.url, 'GET', `/v1/realms/${realm}/trusted-client-certificates`, { token: op })).body.items;
      expect(trusted.map((t: any) => t.alias)).to.deep.equal(['my cert1']);

      const c = await findClient(realm, 'my-cert1');
      expect(c, 'device client in Keycloak').to.exist;
      expect(c).to.include({
        name: 'my cert1',
        clientAuthenticatorType: 'client-x509',
        serviceAccountsEnabled: true,
        publicClient: false,
        standardFlowEnabled: false,
        enabled: true,
      });
      expect(c.attributes['x509.subjectdn']).to.equal('CN=tape-library-1,O=Acme Devices');
      expect(c.attributes['x509.allow.regex.pattern.comparison']).to.equal('false');
      const sa = (await (await keycloakAdmin(`/${realm}/clients/${c.id}/service-account-user`)).json()) as any;
      const groups = (await (await keycloakAdmin(`/${realm}/users/${sa.id}/groups`)).json()) as any[];
      expect(groups.map((g) => g.path)).to.deep.equal(['/PEER_TO_PEER/TAPE']);
    });

    it("gives Keycloak a subject DN that Java's X500Principal (Keycloak's exact match) reads as the certificate's subject", async () => {
      const tricky = await device(dir, 'tricky', '/C=DE/O=Acme, Inc./OU=Tape/CN=dev\\+1/emailAddress=ops@acme.example/serialNumber=SN-42');
      const up = await curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, [
        '-H',
        'content-type: application/x-pem-file',
        '--data-binary',
        `@${tricky.crt}`,
      ]);
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'tricky', uuid: up.body.uuid },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const dn = (await findClient(realm, r.body.clientId)).attributes['x509.subjectdn'];
      expect(dn).to.equal('SERIALNUMBER=SN-42,EMAILADDRESS=ops@acme.example,CN=dev\\+1,OU=Tape,O=Acme\\, Inc.,C=DE');
      const java = join(findJava().home, 'bin', 'java');
      const check = await run(java, [fileURLToPath(new URL('../support/DnCheck.java', import.meta.url)), tricky.crt, dn]);
      expect(check.stdout.trim(), check.stderr).to.equal('match');
      expect((await call(kw.url, 'DELETE', `/v1/realms/${realm}/trusted-client-certificates/tricky`, { token: op })).status).to.equal(204);
    });

    it('authenticates the same curl as the device client on /v1/whoami, and hello says it is trusted', async () => {
      const me = await asDevice(d1, '/v1/whoami');
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body).to.include({ credential: 'device', kind: 'client', realm, clientId: 'my-cert1' });
      const hello = await asDevice(d1, `/v1/realms/${realm}/devices/hello`);
      expect(hello.status).to.equal(200);
      expect(hello.body).to.deep.equal({ status: 'trusted', realm, alias: 'my cert1', clientId: 'my-cert1' });
      // An upload of a trusted certificate is refused, not queued again.
      const up = await curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, [
        '-H',
        'content-type: application/x-pem-file',
        '--data-binary',
        `@${d1.crt}`,
      ]);
      expect(up.status).to.equal(409);
      expect(up.body.code).to.equal('device.already_trusted');
    });

    it('refuses a second certificate under an alias in use (any case) with 409 device.alias_in_use', async () => {
      const d2 = await device(dir, 'd2', '/CN=tape-library-2');
      const up = await curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, [
        '-H',
        'content-type: application/x-pem-file',
        '--data-binary',
        `@${d2.crt}`,
      ]);
      expect(up.status, JSON.stringify(up.body)).to.equal(202);
      expect(up.body).to.include({ subject: 'CN=tape-library-2', via: 'upload' });
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'My CERT1', uuid: up.body.uuid },
      });
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal('device.alias_in_use');
      expect((await pending()).map((p) => p.uuid)).to.include(up.body.uuid);
    });

    it('names the device client after the alias, and suffixes only the new client when that name is taken', async () => {
      const taken = unique('sensor');
      expect((await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: taken } })).status).to.equal(
        201,
      );
      const d3 = await device(dir, 'd3', '/CN=sensor-3');
      const up = await curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, [
        '-H',
        'content-type: application/json',
        '--data-binary',
        JSON.stringify({ certificate: d3.pem }),
      ]);
      expect(up.status).to.equal(202);
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: taken, uuid: up.body.uuid },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.clientId).to.match(new RegExp(`^${taken}-[0-9a-f]{6}$`));
      const existing = await findClient(realm, taken);
      expect(existing.clientAuthenticatorType).to.equal('client-secret'); // the API client is untouched
      expect(await findClient(realm, r.body.clientId)).to.exist;
      // The device client can be renamed later.
      const renamed = await call(kw.url, 'PATCH', `/v1/realms/${realm}/device-clients/${r.body.clientId}`, {
        token: op,
        body: { name: `${taken}-device` },
      });
      expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
      expect(renamed.body.clientId).to.equal(`${taken}-device`);
      expect(await findClient(realm, `${taken}-device`)).to.exist;
      const clash = await call(kw.url, 'PATCH', `/v1/realms/${realm}/device-clients/${taken}-device`, { token: op, body: { name: taken } });
      expect(clash.status).to.equal(409);
      expect(clash.body.code).to.equal('api_client.exists');
      const me = await asDevice(d3, '/v1/whoami');
      expect(me.body.clientId).to.equal(`${taken}-device`);
    });

    it('stops the device at once when its Keycloak client is disabled, and again when its certificate leaves the trust store', async () => {
      const c = await findClient(realm, 'my-cert1');
      await keycloakAdmin(`/${realm}/clients/${c.id}`, { method: 'PUT', body: JSON.stringify({ ...c, enabled: false }) });
      const off = await asDevice(d1, '/v1/whoami');
      expect(off.status).to.equal(401);
      expect(off.body.code).to.equal('device.client_disabled');
      await keycloakAdmin(`/${realm}/clients/${c.id}`, { method: 'PUT', body: JSON.stringify({ ...c, enabled: true }) });
      expect((await asDevice(d1, '/v1/whoami')).status).to.equal(200);

      const gone = await run(BIN, ['devices', 'untrust', 'MY CERT1', '--realm', realm], cliEnv);
      expect(gone.code, gone.stderr).to.equal(0);
      const after = await asDevice(d1, '/v1/whoami');
      expect(after.status).to.equal(401);
      expect(after.body.code).to.equal('client_certificate.untrusted');
      expect(await findClient(realm, 'my-cert1')).to.equal(undefined);
      expect(
        (await call(kw.url, 'DELETE', `/v1/realms/${realm}/trusted-client-certificates/my%20cert1`, { token: op })).body.code,
      ).to.equal('device.trusted_not_found');
    });
  });

  describe('reject and bad input', () => {
    it('rejects a pending certificate and does not queue it again for rejectForHours (403 device.rejected)', async () => {
      const d4 = await device(dir, 'd4', '/CN=rogue-4');
      const first = await asDevice(d4, `/v1/realms/${realm}/devices/hello`);
      expect(first.body.code).to.equal('device.pending');
      const rej = await run(BIN, ['devices', 'reject', first.body.uuid, '--realm', realm], cliEnv);
      expect(rej.code, rej.stderr).to.equal(0);
      expect((await pending()).map((p) => p.uuid)).not.to.include(first.body.uuid);
      const again = await asDevice(d4, `/v1/realms/${realm}/devices/hello`);
      expect(again.status).to.equal(403);
      expect(again.body.code).to.equal('device.rejected');
      expect(new Date(again.body.until).getTime()).to.be.greaterThan(Date.now() + 23 * 3_600_000);
      expect(
        (await call(kw.url, 'DELETE', `/v1/realms/${realm}/pending-client-certificates/${first.body.uuid}`, { token: op })).status,
      ).to.equal(404);
    });

    it('refuses garbage, expired, CA and oversized pushes with precise codes and stores none of them', async () => {
      const before = (await pending()).length;
      const upload = (body: string, type = 'application/x-pem-file') =>
        curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, ['-H', `content-type: ${type}`, '--data-binary', body]);

      const garbage = await upload('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect([garbage.status, garbage.body.code]).to.deep.equal([400, 'device.certificate_malformed']);
      const none = await upload('hello');
      expect([none.status, none.body.code]).to.deep.equal([400, 'device.certificate_malformed']);

      // An expired device certificate (made with @peculiar/x509: openssl 3.0 cannot back-date).
      x509.cryptoProvider.set(webcrypto as never);
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
      const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const expired = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: 'CN=expired-device',
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
        keys,
        signingAlgorithm: alg,
        extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
      });
      const exp = await upload(expired.toString('pem'));
      expect([exp.status, exp.body.code]).to.deep.equal([422, 'device.certificate_expired']);
      // Over TLS too: the handshake lets it through, Keyward refuses it.
      const expiredKey = write(
        dir,
        'expired.key',
        toPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY'),
      );
      const expiredCrt = write(dir, 'expired.crt', expired.toString('pem'));
      const tls = await asDevice({ crt: expiredCrt, key: expiredKey, pem: '', fingerprint: '' }, `/v1/realms/${realm}/devices/hello`);
      expect([tls.status, tls.body.code]).to.deep.equal([422, 'device.certificate_expired']);

      const ca = await device(dir, 'ca', '/CN=Some CA', []); // openssl req -x509 makes a CA certificate by default
      const caPush = await asDevice(ca, `/v1/realms/${realm}/devices/hello`);
      expect([caPush.status, caPush.body.code]).to.deep.equal([422, 'device.certificate_is_ca']);

      const big = await upload(`${d1.pem}${ca.pem}${ca.pem}${ca.pem}${ca.pem}`);
      expect([big.status, big.body.code]).to.deep.equal([413, 'device.chain_too_large']);

      const withKey = await upload(`${d1.pem}${readFileSync(d1.key, 'utf8')}`);
      expect([withKey.status, withKey.body.code]).to.deep.equal([400, 'device.certificate_malformed']);

      const noCert = await curl(`${kw.url}/v1/realms/${realm}/devices/hello`, []);
      expect([noCert.status, noCert.body.code]).to.deep.equal([401, 'device.certificate_required']);
      const unknownRealm = await asDevice(d1, '/v1/realms/no-such-realm/devices/hello');
      expect([unknownRealm.status, unknownRealm.body.code]).to.deep.equal([404, 'realm.not_found']);

      expect((await pending()).length).to.equal(before);
    });

    it('takes a DER upload (application/pkix-cert), and places a device accepted with only a role under PEER_TO_PEER', async () => {
      const d = await device(dir, 'der', '/CN=der-device');
      const der = join(dir, 'der.der');
      await must(['x509', '-in', d.crt, '-outform', 'DER', '-out', der]);
      const up = await curl(`${kw.url}/v1/realms/${realm}/devices/certificates`, [
        '-H',
        'content-type: application/pkix-cert',
        '--data-binary',
        `@${der}`,
      ]);
      expect(up.status, JSON.stringify(up.body)).to.equal(202);
      expect(up.body).to.include({ subject: 'CN=der-device', sha256Fingerprint: d.fingerprint, via: 'upload' });
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'der device', uuid: up.body.uuid, deviceRole: 'SENSOR' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({ deviceGroup: 'PEER_TO_PEER', deviceRole: 'SENSOR' });
      const c = await findClient(realm, r.body.clientId);
      const sa = (await (await keycloakAdmin(`/${realm}/clients/${c.id}/service-account-user`)).json()) as any;
      const groups = (await (await keycloakAdmin(`/${realm}/users/${sa.id}/groups`)).json()) as any[];
      expect(groups.map((g) => g.path)).to.deep.equal(['/PEER_TO_PEER/SENSOR']);
      const bad = await call(kw.url, 'POST', `/v1/realms/${realm}/pending-client-certificates`, {
        token: op,
        body: { alias: 'y', uuid: up.body.uuid, deviceGroup: 'no/slash' },
      });
      expect([bad.status, bad.body.code]).to.deep.equal([400, 'request.malformed']);
    });

    it('caps pending certificates per realm with 409 device.pending_limit', async () => {
      const count = (await pending()).length;
      expect(
        (await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/devices`, { token: op, body: { maxPending: Math.max(1, count) } })).status,
      ).to.equal(200);
      const d5 = await device(dir, 'd5', '/CN=overflow-5');
      if (count === 0) expect((await asDevice(d5, `/v1/realms/${realm}/devices/hello`)).body.code).to.equal('device.pending');
      const d6 = await device(dir, 'd6', '/CN=overflow-6');
      const r = await asDevice(d6, `/v1/realms/${realm}/devices/hello`);
      expect([r.status, r.body.code]).to.deep.equal([409, 'device.pending_limit']);
      expect(r.body.maxPending).to.equal(Math.max(1, count));
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/settings/devices`, { token: op, body: { maxPending: 100 } })).status).to.equal(
        200,
      );
    });

    it('rate-limits pushes per source address with 429 and Retry-After', async () => {
      const slow = await startKeyward({ KEYWARD_DEVICE_PUSH_RATE: '2' }); // a burst of one, then one every 30 s
      const d7 = await device(dir, 'd7', '/CN=chatty-7');
      const push = () =>
        curl(`${slow.url}/v1/realms/${realm}/devices/certificates`, [
          '-H',
          'content-type: application/x-pem-file',
          '--data-binary',
          `@${d7.crt}`,
        ]);
      expect((await push()).status).to.equal(202);
      const limited = await push();
      expect([limited.status, limited.body.code]).to.deep.equal([429, 'device.rate_limited']);
      expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
      await slow.close();
    });
  });

  describe("SKLM-compatible path (IBM SKLM's pendingClientCertificates API)", () => {
    const sklm = (method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) =>
      call(kw.url, method, `/SKLM/rest/v1/pendingClientCertificates${path}`, { token, body, headers });
    let uuid: string;
    let other: string;

    before(async () => {
      for (const name of ['s1', 's2']) {
        const d = await device(dir, name, `/CN=sklm-${name}`);
        const r = await asDevice(d, `/v1/realms/${realm}/devices/hello`);
        if (name === 's1') uuid = r.body.uuid;
        else other = r.body.uuid;
      }
    });

    it('lists pending certificates', async () => {
      const r = await sklm('GET', '', op);
      expect(r.status).to.equal(200);
      expect(r.body.map((p: any) => p.uuid)).to.include.members([uuid, other]);
    });

    it("accepts with IBM SKLM's request and answers IBM SKLM's body", async () => {
      const r = await sklm('POST', '', op, { alias: 'sklmcertificate1', uuid });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ code: '0', status: 'Succeeded' });
      expect(r.headers.get('content-language')).to.equal('en');
      expect(await findClient(realm, 'sklmcertificate1')).to.exist;
    });

    it("answers an alias in use with IBM SKLM's CTGKM2306E body and status, in English and German", async () => {
      const en = await sklm('POST', '', op, { alias: 'SKLMcertificate1', uuid: other });
      expect(en.status).to.equal(500);
      expect(en.body).to.deep.equal({
        code: 'CTGKM2306E',
        message: 'CTGKM2306E Client certificate alias already in use: sklmcertificate1 ',
      });
      const de = await sklm('POST', '', op, { alias: 'sklmcertificate1', uuid: other }, { 'accept-language': 'de-DE,de;q=0.9,en;q=0.8' });
      expect(de.status).to.equal(500);
      expect(de.headers.get('content-language')).to.equal('de');
      expect(de.body).to.deep.equal({
        code: 'CTGKM2306E',
        message: 'CTGKM2306E Der Aliasname des Clientzertifikats wird bereits verwendet: sklmcertificate1 ',
      });
    });

    it("answers an unknown uuid with IBM SKLM's CTGKM2307E body and status", async () => {
      const unknown = 'CERTIFICATE-a3862239-a367-41ff-97a1-0ca72cfa08e8';
      const r = await sklm('POST', '', op, { alias: 'sklmcertificate2', uuid: unknown });
      expect(r.status).to.equal(500);
      expect(r.body).to.deep.equal({
        code: 'CTGKM2307E',
        message: `CTGKM2307E Client certificate UUID not found in the database: ${unknown} `,
      });
      const del = await sklm('DELETE', `/${unknown}`, op, undefined, { 'accept-language': 'de' });
      expect(del.status).to.equal(500);
      expect(del.body.code).to.equal('CTGKM2307E');
      expect(del.body.message).to.equal(`CTGKM2307E Die UUID des Clientzertifikats wurde in der Datenbank nicht gefunden: ${unknown} `);
    });

    it('answers missing or bad credentials with 401 and a malformed request with 400, as {code, message}', async () => {
      const none = await sklm('POST', '', undefined, { alias: 'x', uuid: other });
      expect(none.status).to.equal(401);
      expect(none.body.code).to.equal('auth.missing');
      expect(none.body.message).to.be.a('string');
      const bad = await sklm('POST', '', 'not-a-token', { alias: 'x', uuid: other }, { 'accept-language': 'de' });
      expect(bad.status).to.equal(401);
      expect(bad.body).to.deep.equal({ code: 'auth.invalid_token', message: 'Das Zugriffstoken ist ungültig' });
      const malformed = await call(kw.url, 'POST', '/SKLM/rest/v1/pendingClientCertificates', {
        token: op,
        body: '{"alias":',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status).to.equal(400);
      expect(malformed.body.code).to.equal('request.malformed');
      const missing = await sklm('POST', '', op, { uuid: other });
      expect(missing.status).to.equal(400);
      const slash = await sklm('POST', '', op, { alias: 'a/b', uuid: other });
      expect([slash.status, slash.body.code]).to.deep.equal([400, 'device.alias_invalid']);
    });

    it("takes SKLM's own Authorization header form and rejects with DELETE", async () => {
      const r = await call(kw.url, 'DELETE', `/SKLM/rest/v1/pendingClientCertificates/${other}`, {
        headers: { authorization: `SKLMAuth userAuthId=${op}` },
      });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ code: '0', status: 'Succeeded' });
      expect((await pending()).map((p) => p.uuid)).not.to.include(other);
    });
  });

  describe('dual control', () => {
    const realm2 = unique('devdc');
    let ada: string;
    let abe: string;

    before(async () => {
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm2}`, { token: op, body: {} })).status).to.equal(201);
      const tokens: string[] = [];
      for (const name of ['ada', 'abe']) {
        const made = await call(kw.url, 'POST', `/v1/realms/${realm2}/api-clients`, {
          token: op,
          body: { clientId: name, roles: ['keyward-admin'] },
        });
        tokens.push(await clientToken(realm2, made.body.clientId, made.body.secret));
      }
      [ada, abe] = tokens as [string, string];
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm2}/settings/devices`, { token: ada, body: { enabled: true } })).status).to.equal(
        200,
      );
      expect(
        (await call(kw.url, 'PUT', `/v1/realms/${realm2}/settings/dual-control`, { token: ada, body: { enabled: true } })).status,
      ).to.equal(200);
    });

    it('makes acceptance an approval that only a second admin can confirm', async () => {
      const d = await device(dir, 'dc1', '/CN=dual-1');
      const hello = await asDevice(d, `/v1/realms/${realm2}/devices/hello`);
      expect(hello.body.code).to.equal('device.pending');
      const proposed = await call(kw.url, 'POST', `/v1/realms/${realm2}/pending-client-certificates`, {
        token: ada,
        body: { alias: 'Dual One', uuid: hello.body.uuid },
      });
      expect(proposed.status, JSON.stringify(proposed.body)).to.equal(202);
      const id = proposed.body.approvalId;
      expect(proposed.body.change).to.include({ alias: 'dual one', uuid: hello.body.uuid });
      expect(await findClient(realm2, 'dual-one')).to.equal(undefined); // nothing happens before approval
      expect((await asDevice(d, '/v1/whoami')).status).to.equal(401);

      const self = await call(kw.url, 'POST', `/v1/realms/${realm2}/approvals/${id}/approve`, { token: ada });
      expect([self.status, self.body.code]).to.deep.equal([403, 'approval.self_approval']);
      const approved = await call(kw.url, 'POST', `/v1/realms/${realm2}/approvals/${id}/approve`, { token: abe });
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      expect(approved.body.status).to.equal('approved');
      const me = await asDevice(d, '/v1/whoami');
      expect(me.status).to.equal(200);
      expect(me.body).to.include({ credential: 'device', realm: realm2, clientId: 'dual-one' });
      expect(
        (await call(kw.url, 'GET', `/v1/realms/${realm2}/trusted-client-certificates/Dual%20One`, { token: abe })).body.clientId,
      ).to.equal('dual-one');
    });

    it('leaves no device client behind when the approved acceptance no longer applies', async () => {
      const d = await device(dir, 'dc2', '/CN=dual-2');
      const hello = await asDevice(d, `/v1/realms/${realm2}/devices/hello`);
      const proposed = await call(kw.url, 'POST', `/v1/realms/${realm2}/pending-client-certificates`, {
        token: ada,
        body: { alias: 'dual two', uuid: hello.body.uuid },
      });
      expect(proposed.status, JSON.stringify(proposed.body)).to.equal(202);
      // Rejected meanwhile by the other admin: approving finds no pending certificate.
      expect(
        (await call(kw.url, 'DELETE', `/v1/realms/${realm2}/pending-client-certificates/${hello.body.uuid}`, { token: abe })).status,
      ).to.equal(204);
      const approved = await call(kw.url, 'POST', `/v1/realms/${realm2}/approvals/${proposed.body.approvalId}/approve`, { token: abe });
      expect([approved.status, approved.body.code]).to.deep.equal([404, 'device.pending_not_found']);
      expect(await findClient(realm2, 'dual-two')).to.equal(undefined);
    });
  });
});
