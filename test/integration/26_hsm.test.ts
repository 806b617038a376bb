/**
 * Scenario 26 — CA keys in a PKCS#11 token (SoftHSM2, as an HSM would hold
 * them): `keyward serve` with KEYWARD_CA_KEY_STORE=pkcs11 generates the root
 * and the realm's issuing CA inside the token; certificates, the CRL and OCSP
 * answers are signed there and accepted by openssl; pkcs11-tool shows the keys
 * under the CAs' ids, never extractable; PostgreSQL holds only references; a
 * restart signs with the same token keys; a wrong PIN or a missing module stops
 * the start with one sentence naming the setting.
 *
 * The server runs against a database of its own, so that the installation's
 * root is made in the token too (the run's shared database already has a
 * sealed root once other scenarios have run).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import pg from 'pg';
import pkcs11js from 'pkcs11js';
import { pkcs11IdOf } from '../../services/keyward/src/crypto/pkcs11_key_store.ts';
import { keyward } from '../support/cli.ts';
import { call, clientToken, integrationEnv, operatorToken, replicaEnv, unique } from '../support/env.ts';
import { csr, openssl, work, write } from '../support/openssl.ts';
import { startReplica, type Replica } from '../support/replica.ts';
import { softHsmToken, type SoftHsmToken } from '../support/softhsm.ts';

const POLICY = {
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: ['*.hsm.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['serverAuth'],
  approval: 'none',
};

describe('26 CA keys in a PKCS#11 token', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('hsm');
  let token: SoftHsmToken;
  let dbName: string;
  let dbUrl: string;
  let admin: pg.Client;
  let kw: Replica;
  let settings: Record<string, string>;
  let op: string;
  let secret: string;
  let chain: string[];
  let rootFile: string;
  let issuingFile: string;
  let revokedFile: string;
  let revokedSerial: string;

  const issue = async (cn: string) => {
    const req = await csr(dir, { subject: `/CN=${cn}`, sans: [`DNS:${cn}`] });
    const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token: await clientToken(realm, 'hsm-app', secret),
      body: { csr: req.pem, policy: 'web', validityDays: 3 },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { certificate: string; serialNumber: string; chain: string[] };
  };

  const caRows = async () =>
    (
      await admin.query<{ id: string; kind: string; key_blob: unknown; key_ref: any; row: string }>(
        'SELECT id, kind, key_blob, key_ref, row_to_json(cas)::text AS row FROM cas ORDER BY created_at',
      )
    ).rows;

  before(async () => {
    const env = await integrationEnv();
    token = softHsmToken(unique('kw'));
    dbName = `keyward_hsm_${unique('t').slice(2)}`;
    admin = new pg.Client({ connectionString: env.databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(env.databaseUrl);
    u.pathname = `/${dbName}`;
    dbUrl = u.href;
    await admin.end();
    admin = new pg.Client({ connectionString: dbUrl });
    const pinFile = write(dir, 'pin', `${token.pin}\n`);
    settings = {
      KEYWARD_DATABASE_URL: dbUrl,
      KEYWARD_CA_KEY_STORE: 'pkcs11',
      KEYWARD_PKCS11_MODULE: token.module,
      KEYWARD_PKCS11_TOKEN_LABEL: token.label,
      KEYWARD_PKCS11_PIN_FILE: pinFile,
      ...token.env,
    };
    kw = await startReplica(settings);
    await admin.connect();
    op = await operatorToken();
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/web`, { token: op, body: POLICY })).status).to.equal(201);
    const client = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, {
      token: op,
      body: { clientId: 'hsm-app', roles: ['keyward-requester'] },
    });
    expect(client.status, JSON.stringify(client.body)).to.equal(201);
    secret = client.body.secret;
  });

  after(async () => {
    kw?.kill('SIGTERM');
    await kw?.exited;
    await admin?.end().catch(() => undefined);
    if (dbName) {
      const env = await integrationEnv();
      const c = new pg.Client({ connectionString: env.databaseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    }
    token?.remove();
  });

  it('issues certificates signed in the token that openssl verify accepts with the chain GET …/ca returns', async () => {
    const issued = await issue('web.hsm.internal');
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    expect(ca.status).to.equal(200);
    chain = ca.body.chain;
    expect(chain).to.have.length(2);
    expect(issued.chain).to.deep.equal(chain);
    issuingFile = write(dir, 'issuing.pem', chain[0]!);
    rootFile = write(dir, 'root.pem', chain[1]!);
    const leaf = write(dir, 'leaf.pem', issued.certificate);
    const v = await openssl(['verify', '-CAfile', rootFile, '-untrusted', issuingFile, leaf]);
    expect(v.stdout.trim(), v.stderr).to.equal(`${leaf}: OK`);
    revokedFile = leaf;
    revokedSerial = issued.serialNumber;
  });

  it('keeps the root and issuing keys in the token under the CAs ids, sensitive and never extractable', async () => {
    const rows = await caRows();
    expect(rows.map((r) => r.kind).sort()).to.deep.equal(['issuing', 'root']);
    const objects = token.pkcs11Tool(['--list-objects'], true);
    for (const r of rows) {
      expect(objects).to.include(`label:      ${r.id}`);
      const privateKey = objects.split(/\n(?=\S)/).find((o) => o.startsWith('Private Key Object') && o.includes(r.id));
      expect(privateKey, `private key ${r.id}`).to.match(/Access:\s+sensitive, always sensitive, never extractable/);
      expect(privateKey).to.include(`ID:         ${pkcs11IdOf(r.id).toString('hex')}`);
    }
    // The token itself refuses to hand out the private value.
    const p = new pkcs11js.PKCS11();
    p.load(token.module);
    p.C_Initialize();
    try {
      const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === token.label)!;
      const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      p.C_Login(s, pkcs11js.CKU_USER, token.pin);
      p.C_FindObjectsInit(s, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_ID, value: pkcs11IdOf(rows.find((r) => r.kind === 'issuing')!.id) },
      ]);
      const [key] = p.C_FindObjects(s, 1);
      p.C_FindObjectsFinal(s);
      expect(key).to.not.equal(undefined);
      const [extractable, sensitive] = p.C_GetAttributeValue(s, key!, [
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
      ]);
      expect([...extractable!.value, ...sensitive!.value]).to.deep.equal([0, 1]);
      expect(() => p.C_GetAttributeValue(s, key!, [{ type: pkcs11js.CKA_VALUE }])).to.throw(/CKR_ATTRIBUTE_SENSITIVE/);
    } finally {
      p.C_Finalize();
      p.close();
    }
  });

  it('stores only a reference to each key in PostgreSQL, no key material', async () => {
    for (const r of await caRows()) {
      expect(r.key_blob).to.equal(null);
      expect(r.key_ref).to.deep.equal({ store: 'pkcs11', token: token.label, id: r.id });
      expect(r.row).to.not.match(/PRIVATE KEY|"wrapped"|"ct"/);
    }
  });

  it('signs the CRL in the token: openssl verifies it and lists a revoked certificate', async () => {
    const revoke = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${revokedSerial}/revoke`, {
      token: await clientToken(realm, 'hsm-app', secret),
      body: { reason: 'keyCompromise' },
    });
    expect(revoke.status, JSON.stringify(revoke.body)).to.equal(200);
    const res = await fetch(`${kw.url}/v1/realms/${realm}/crl`);
    expect(res.status).to.equal(200);
    const crlFile = write(dir, 'crl.der', new Uint8Array(await res.arrayBuffer()));
    const bundle = write(dir, 'bundle.pem', chain.join(''));
    const verified = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', bundle, '-noout', '-text']);
    expect(verified.stderr).to.match(/verify OK/);
    expect(verified.stdout.toLowerCase()).to.contain(`serial number: ${revokedSerial}`);
  });

  it('signs OCSP answers in the token: openssl ocsp verifies the response and says revoked', async () => {
    const good = write(dir, 'good.pem', (await issue('api.hsm.internal')).certificate);
    for (const [cert, status] of [
      [revokedFile, /: revoked/],
      [good, /: good/],
    ] as const) {
      const r = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        cert,
        '-url',
        `${kw.url}/v1/realms/${realm}/ocsp`,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuingFile,
      ]);
      expect(r.stdout, r.stderr).to.match(status);
      expect(r.stderr + r.stdout).to.contain('Response verify OK');
    }
  });

  it('reuses the same token keys after a restart', async () => {
    const before = token.pkcs11Tool(['--list-objects', '--type', 'privkey'], true);
    kw.kill('SIGTERM');
    expect((await kw.exited).code).to.equal(0);
    kw = await startReplica(settings);
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    expect(ca.body.chain).to.deep.equal(chain);
    const again = write(dir, 'again.pem', (await issue('again.hsm.internal')).certificate);
    const v = await openssl(['verify', '-CAfile', rootFile, '-untrusted', issuingFile, again]);
    expect(v.stdout.trim(), v.stderr).to.equal(`${again}: OK`);
    expect(token.pkcs11Tool(['--list-objects', '--type', 'privkey'], true)).to.equal(before);
    expect((await caRows()).length).to.equal(2);
  });

  it('rotates the issuing CA inside the token: the new key is generated there, the retiring one still answers OCSP', async () => {
    const rotated = await call(kw.url, 'POST', `/v1/realms/${realm}/ca/rotate`, { token: op, body: { keyType: 'EC-P384' } });
    expect(rotated.status, JSON.stringify(rotated.body)).to.equal(201);
    const [active, retiring] = rotated.body.cas as { id: string; state: string; keyStore: string; chain: string[] }[];
    expect([active!.state, active!.keyStore, retiring!.state, retiring!.keyStore]).to.deep.equal([
      'active',
      'pkcs11',
      'retiring',
      'pkcs11',
    ]);
    const row = (await caRows()).find((r) => r.id === active!.id)!;
    expect(row.key_blob).to.equal(null);
    expect(row.key_ref).to.deep.equal({ store: 'pkcs11', token: token.label, id: active!.id });
    expect(token.pkcs11Tool(['--list-objects', '--type', 'privkey'], true)).to.include(`label:      ${active!.id}`);
    const fresh = write(dir, 'rotated.pem', (await issue('rotated.hsm.internal')).certificate);
    const v = await openssl(['verify', '-CAfile', rootFile, '-untrusted', write(dir, 'rotated-issuing.pem', active!.chain[0]!), fresh]);
    expect(v.stdout.trim(), v.stderr).to.equal(`${fresh}: OK`);
    const r = await openssl([
      'ocsp',
      '-issuer',
      issuingFile,
      '-cert',
      revokedFile,
      '-url',
      `${kw.url}/v1/realms/${realm}/ocsp`,
      '-CAfile',
      rootFile,
      '-VAfile',
      issuingFile,
    ]);
    expect(r.stdout, r.stderr).to.match(/: revoked/);
    expect(r.stderr + r.stdout).to.contain('Response verify OK');
  });

  it('stops `keyward serve` at start with one sentence naming the PIN setting when the token refuses the PIN', async () => {
    const env = await replicaEnv({ ...settings, KEYWARD_PKCS11_PIN_FILE: '', KEYWARD_PKCS11_PIN: '999999', KEYWARD_PORT: '0' });
    const r = await keyward(['serve'], env);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal(
      `keyward: configuration error: KEYWARD_PKCS11_PIN was refused by PKCS#11 token "${token.label}" (CKR_PIN_INCORRECT)`,
    );
  });

  it('stops `keyward serve` at start with one sentence naming the module setting when the module is missing', async () => {
    const missing = join(dir, 'no-such-pkcs11.so');
    const r = await keyward(['serve'], await replicaEnv({ ...settings, KEYWARD_PKCS11_MODULE: missing, KEYWARD_PORT: '0' }));
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal(`keyward: configuration error: KEYWARD_PKCS11_MODULE names ${missing}, which does not exist`);
    const notModule = write(dir, 'not-a-module.so', 'text');
    const r2 = await keyward(['serve'], await replicaEnv({ ...settings, KEYWARD_PKCS11_MODULE: notModule, KEYWARD_PORT: '0' }));
    expect(r2.status).to.equal(2);
    expect(r2.stderr.trim()).to.match(
      new RegExp(`^keyward: configuration error: KEYWARD_PKCS11_MODULE names ${notModule}, which could not be loaded as a PKCS#11 module`),
    );
  });
});
