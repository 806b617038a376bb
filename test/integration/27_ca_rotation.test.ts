/**
 * Scenario 27 — rotating a realm's issuing CA without downtime: after
 * `keyward ca rotate` (and POST …/ca/rotate) a new issuing CA under the same
 * root issues; the previous one is retiring and keeps answering for its
 * certificates — a certificate issued before and one issued after both
 * verify with the chains GET …/ca lists, revoking the older one shows in the
 * retiring CA's own CRL and `openssl ocsp` against that issuer says revoked.
 * Once the last certificate of a retiring CA has expired, the leader's sweep
 * retires it.
 */
import { expect } from 'chai';
import { keyward } from '../support/cli.ts';
import { call, clientToken, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, must, openssl, work, write } from '../support/openssl.ts';

const policy = (domain: string) => ({
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['serverAuth'],
  approval: 'none',
});

interface CaView {
  id: string;
  state: string;
  subject: string;
  keyType: string;
  chain: string[];
  crlUrl: string;
}

describe('27 CA rotation', function () {
  this.timeout(600_000);
  const dir = work();
  const realm = unique('rot');
  const domain = `${realm}.internal`;
  let kw: RunningKeyward;
  let op: string;
  const secrets: Record<string, string> = {};
  let older: { certificate: string; serialNumber: string; chain: string[] };
  let newer: { certificate: string; serialNumber: string; chain: string[] };
  let oldCa: CaView;
  let newCa: CaView;

  const cas = async (r = realm) => {
    const res = await call(kw.url, 'GET', `/v1/realms/${r}/ca`, { headers: { accept: 'application/json' } });
    expect(res.status).to.equal(200);
    return res.body as { chain: string[]; cas: CaView[] };
  };
  const issue = async (cn: string, r = realm, extra: Record<string, unknown> = { validityDays: 5 }) => {
    const req = await csr(dir, { subject: `/CN=${cn}`, sans: [`DNS:${cn}`] });
    const res = await call(kw.url, 'POST', `/v1/realms/${r}/certificates`, {
      token: await clientToken(r, 'app', secrets[r]!),
      body: { csr: req.pem, policy: 'web', ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { certificate: string; serialNumber: string; chain: string[] };
  };
  /** A URL of the server's (its public URL names port 0 in tests) at the port it listens on. */
  const local = (url: string) => `${kw.url}${new URL(url).pathname}`;
  const verifies = async (certificate: string, chain: string[]) => {
    const leaf = write(dir, `leaf-${Math.random().toString(36).slice(2)}.pem`, certificate);
    const r = await openssl([
      'verify',
      '-CAfile',
      write(dir, 'anchor.pem', chain.at(-1)!),
      '-untrusted',
      write(dir, 'inter.pem', chain[0]!),
      leaf,
    ]);
    return `${r.stdout}${r.stderr}`.trim() === `${leaf}: OK`;
  };
  const setUpRealm = async (r: string, d: string, extraPolicy: Record<string, unknown> = {}) => {
    expect((await call(kw.url, 'PUT', `/v1/realms/${r}`, { token: op, body: {} })).status).to.equal(201);
    const body: Record<string, unknown> = { ...policy(d), ...extraPolicy };
    if ('maxValidity' in extraPolicy) delete body.maxValidityDays;
    expect((await call(kw.url, 'PUT', `/v1/realms/${r}/policies/web`, { token: op, body })).status).to.equal(201);
    const c = await call(kw.url, 'POST', `/v1/realms/${r}/api-clients`, {
      token: op,
      body: { clientId: 'app', roles: ['keyward-requester'] },
    });
    expect(c.status, JSON.stringify(c.body)).to.equal(201);
    secrets[r] = c.body.secret;
  };

  before(async () => {
    kw = await startKeyward({ KEYWARD_CA_SWEEP_SECONDS: '2', KEYWARD_LEADER_LEASE_SECONDS: '3' });
    op = await operatorToken();
    await setUpRealm(realm, domain);
  });

  it('lists the one active CA before any rotation, in the JSON shape of before plus the new fields', async () => {
    older = await issue(`before.${domain}`);
    const listed = await cas();
    expect(listed.cas).to.have.length(1);
    oldCa = listed.cas[0]!;
    expect(oldCa).to.include({ state: 'active', keyType: 'EC-P256', keyStore: 'sealed' });
    expect(listed.chain).to.deep.equal(oldCa.chain);
    expect(await verifies(older.certificate, oldCa.chain)).to.equal(true);
    const pem = await (await fetch(`${kw.url}/v1/realms/${realm}/ca`)).text();
    expect(pem).to.equal(listed.chain.join(''));
  });

  it('refuses a rotation by a caller without keyward-admin', async () => {
    const res = await call(kw.url, 'POST', `/v1/realms/${realm}/ca/rotate`, {
      token: await clientToken(realm, 'app', secrets[realm]!),
      body: {},
    });
    expect(res.status).to.equal(403);
    expect(res.body.code).to.equal('auth.forbidden');
  });

  it('rotates with `keyward ca rotate --realm`: a new issuing CA under the same root issues from then on', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEYWARD_URL: kw.url, KEYWARD_TOKEN: op };
    const r = await keyward(['ca', 'rotate', '--realm', realm, '--key-type', 'ec-p384'], env);
    expect(r.status, r.stderr).to.equal(0);
    const listed = await cas();
    expect(listed.cas.map((c) => c.state)).to.deep.equal(['active', 'retiring']);
    newCa = listed.cas[0]!;
    expect(listed.cas[1]!.id).to.equal(oldCa.id);
    expect(newCa.id).to.not.equal(oldCa.id);
    expect(newCa.keyType).to.equal('EC-P384');
    expect(newCa.subject).to.match(/Issuing CA 2/);
    expect(newCa.chain.at(-1), 'the same root').to.equal(oldCa.chain.at(-1));
    expect(listed.chain).to.deep.equal(newCa.chain);
    expect(r.stdout).to.contain(`${newCa.subject} (${newCa.id}) issues from now on`);
    expect(r.stdout).to.match(new RegExp(`retiring\\s+${oldCa.id}`));
    const list = await keyward(['ca', 'list', '--realm', realm], env);
    expect(list.status, list.stderr).to.equal(0);
    expect(list.stdout.trim().split('\n')).to.have.length(2);
    // `keyward ca` stays the offline CA too.
    const offline = await keyward(['ca', 'initialize', 'still-offline', '--dir', dir], env);
    expect(offline.status, offline.stderr).to.equal(0);
  });

  it('issues after the rotation with the new CA; both certificates verify with the chains GET …/ca returns', async () => {
    newer = await issue(`after.${domain}`);
    expect(newer.chain).to.deep.equal(newCa.chain);
    expect(await verifies(newer.certificate, newCa.chain)).to.equal(true);
    expect(await verifies(older.certificate, oldCa.chain)).to.equal(true);
    expect(await verifies(newer.certificate, oldCa.chain), 'not issued by the old CA').to.equal(false);
    const afterText = await must(['x509', '-noout', '-text'], newer.certificate);
    const beforeText = await must(['x509', '-noout', '-text'], older.certificate);
    expect(afterText).to.contain(`URI:${newCa.crlUrl}`);
    expect(beforeText).to.contain(`URI:${oldCa.crlUrl}`);
    // The server's public URL says port 0 here (it listens on a free port): the path is what matters.
    expect(new URL(newCa.crlUrl).pathname).to.equal(`/v1/realms/${realm}/crl/${newCa.id}`);
  });

  it("shows a revoked certificate of the retiring CA in that CA's own CRL, signed by it", async () => {
    const revoke = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${older.serialNumber}/revoke`, {
      token: await clientToken(realm, 'app', secrets[realm]!),
      body: { reason: 'superseded' },
    });
    expect(revoke.status, JSON.stringify(revoke.body)).to.equal(200);
    const bundle = write(dir, 'old-bundle.pem', oldCa.chain.join(''));
    for (const url of [local(oldCa.crlUrl), `${kw.url}/v1/realms/${realm}/crl?issuer=${oldCa.id}`]) {
      const res = await fetch(url);
      expect(res.status, url).to.equal(200);
      const crl = write(dir, 'old.crl', new Uint8Array(await res.arrayBuffer()));
      const text = await openssl(['crl', '-inform', 'DER', '-in', crl, '-CAfile', bundle, '-noout', '-text']);
      expect(text.stderr).to.match(/verify OK/);
      expect(text.stdout.toLowerCase()).to.contain(`serial number: ${older.serialNumber}`);
      expect(text.stdout).to.contain(`Issuer: ${opensslName(oldCa.subject)}`);
    }
    // The active CA's CRL (also the realm's default) does not list it.
    for (const url of [local(newCa.crlUrl), `${kw.url}/v1/realms/${realm}/crl`]) {
      const crl = write(dir, 'new.crl', new Uint8Array(await (await fetch(url)).arrayBuffer()));
      const text = await openssl([
        'crl',
        '-inform',
        'DER',
        '-in',
        crl,
        '-CAfile',
        write(dir, 'new-bundle.pem', newCa.chain.join('')),
        '-noout',
        '-text',
      ]);
      expect(text.stderr).to.match(/verify OK/);
      expect(text.stdout.toLowerCase()).to.not.contain(older.serialNumber);
    }
    const unknown = await call(kw.url, 'GET', `/v1/realms/${realm}/crl/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).to.equal(404);
    expect(unknown.body.code).to.equal('ca.not_found');
  });

  it('answers openssl ocsp for the retiring issuer (revoked) and the new one (good), each response signed by its CA', async () => {
    const oldIssuer = write(dir, 'old-issuing.pem', oldCa.chain[0]!);
    const newIssuer = write(dir, 'new-issuing.pem', newCa.chain[0]!);
    const root = write(dir, 'root.pem', newCa.chain.at(-1)!);
    for (const [issuer, cert, status] of [
      [oldIssuer, write(dir, 'before.pem', older.certificate), /: revoked/],
      [newIssuer, write(dir, 'after.pem', newer.certificate), /: good/],
    ] as const) {
      for (const url of [`${kw.url}/v1/realms/${realm}/ocsp`, `${kw.url}/v1/ocsp`]) {
        const r = await openssl(['ocsp', '-issuer', issuer, '-cert', cert, '-url', url, '-CAfile', root, '-VAfile', issuer]);
        expect(r.stdout, `${url}: ${r.stderr}`).to.match(status);
        expect(r.stderr + r.stdout).to.contain('Response verify OK');
      }
    }
  });

  it('rotates through the API with another key type, and the sweep retires a retiring CA once its certificates have expired', async () => {
    const r2 = unique('ret');
    await setUpRealm(r2, `${r2}.internal`, { maxValidity: 'PT2M' });
    const short = await issue(`short.${r2}.internal`, r2, { validity: 'PT2M' });
    const first = (await cas(r2)).cas[0]!;
    const res = await call(kw.url, 'POST', `/v1/realms/${r2}/ca/rotate`, { token: op, body: { keyType: 'RSA-2048' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.cas.map((c: CaView) => [c.state, c.keyType])).to.deep.equal([
      ['active', 'RSA-2048'],
      ['retiring', first.keyType],
    ]);
    const bad = await call(kw.url, 'POST', `/v1/realms/${r2}/ca/rotate`, { token: op, body: { keyType: 'DSA-1024' } });
    expect(bad.status).to.equal(400);
    const fresh = await issue(`fresh.${r2}.internal`, r2, { validity: 'PT2M' });
    expect(await verifies(fresh.certificate, res.body.cas[0].chain)).to.equal(true);
    // While its certificate is valid, the sweep leaves the retiring CA alone. (The sweep is what the leader runs every
    // KEYWARD_CA_SWEEP_SECONDS; it is called here too, as another process of the run may hold the leadership.)
    await kw.keyward.issuance.retireCas();
    expect((await cas(r2)).cas.map((c) => c.id)).to.include(first.id);
    const ends = Date.parse((await must(['x509', '-noout', '-enddate'], short.certificate)).replace(/^notAfter=/, '').trim());
    await new Promise((r) => setTimeout(r, Math.max(0, ends - Date.now()) + 1500));
    await kw.keyward.issuance.retireCas();
    const listed = await cas(r2);
    expect(listed.cas.map((c) => c.state)).to.deep.equal(['active']);
    const row = await kw.keyward.db.query<{ state: string; retired_at: Date | null }>('SELECT state, retired_at FROM cas WHERE id = $1', [
      first.id,
    ]);
    expect(row.rows[0]!.state).to.equal('retired');
    expect(row.rows[0]!.retired_at).to.be.instanceOf(Date);
  });
});

/** openssl's rendering of a `CN=…, O=…` subject (`CN = …, O = …`). */
const opensslName = (subject: string) => subject.replace(/=/g, ' = ');
