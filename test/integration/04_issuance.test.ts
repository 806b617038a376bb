/**
 * Scenario 04 — issuance to client-credentials callers, checked as a real
 * client would: tokens from the real Keycloak, CSRs from `openssl req`,
 * chains through `openssl verify`, the CRL through `openssl crl`, status
 * through `openssl ocsp`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, decodeJwt } from 'jose';
import { call, clientToken, keycloakAdmin, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { csr, must, openssl, work, write } from '../support/openssl.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));
const SVC = {
  keyTypes: ['EC-P256', 'EC-P384', 'RSA-2048'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN', 'OU'] },
  san: { dns: ['*.svc.internal'], ip: ['10.0.0.0/8'], uri: ['spiffe://svc.internal/*'], email: [] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
};
const REVIEWED = { ...SVC, approval: 'required' };

describe('04 issuance', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const realm = unique('iss');
  const partner = unique('prt');
  const dir = work();
  const secrets: Record<string, string> = {};
  const token = (id: string, r = realm) => clientToken(r, id, secrets[id]!);
  let rootFile: string;
  let issuingFile: string;

  async function client(r: string, clientId: string, body: Record<string, unknown> = {}) {
    const res = await call(kw.url, 'POST', `/v1/realms/${r}/api-clients`, { token: op, body: { clientId, ...body } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    secrets[clientId] = res.body.secret;
  }

  async function certCount(): Promise<number> {
    return Number(
      (await kw.keyward.db.query<{ n: string }>('SELECT count(*) AS n FROM certificates WHERE realm = $1', [realm])).rows[0]!.n,
    );
  }

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
    for (const r of [realm, partner]) expect((await call(kw.url, 'PUT', `/v1/realms/${r}`, { token: op, body: {} })).status).to.equal(201);
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: SVC })).status).to.equal(201);
    expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/reviewed`, { token: op, body: REVIEWED })).status).to.equal(201);
    await client(realm, 'app', { roles: ['keyward-requester'], defaultPolicy: { realm, name: 'svc' } });
    await client(realm, 'other-app', { roles: ['keyward-requester'] });
    await client(realm, 'approver', { roles: ['keyward-approver'] });
    await client(realm, 'self-approver', { roles: ['keyward-requester', 'keyward-approver'] });
    await client(realm, 'revoker', { roles: ['keyward-revoker'] });
    await client(realm, 'entity-admin', { roles: ['keyward-entity-admin', 'keyward-requester'] });
    await client(realm, 'nobody');
    await client(partner, 'partner-ci', { crossRealmRoles: [{ realm, role: 'keyward-requester' }] });
    const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    expect(ca.status).to.equal(200);
    expect(ca.body.chain).to.have.length(2);
    issuingFile = write(dir, 'issuing.pem', ca.body.chain[0]);
    rootFile = write(dir, 'root.pem', ca.body.chain[1]);
  });

  it('answers the CA chain as PEM to curl (Accept: */*), and as JSON only when asked', async () => {
    const out = `${dir}/curl-ca.pem`;
    const r = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '-o', out, '-w', '%{http_code} %{content_type}', `${kw.url}/v1/realms/${realm}/ca`], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(r).to.equal('200 application/pem-certificate-chain; charset=utf-8');
    const pem = readFileSync(out, 'utf8');
    expect(pem.match(/-----BEGIN CERTIFICATE-----/g)).to.have.length(2);
    const x = await openssl(['x509', '-in', out, '-noout', '-subject']);
    expect(x.stdout).to.include('subject=');
    const json = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
    expect(json.body.chain.join('')).to.equal(pem);
  });

  describe('issuing', () => {
    let serial: string;

    it('issues for an openssl CSR with a client-credentials token; openssl verify accepts the chain', async () => {
      const req = await csr(dir, { subject: '/CN=web.svc.internal', sans: ['DNS:web.svc.internal', 'IP:10.1.2.3'] });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token: await token('app'),
        body: { csr: req.pem, validityDays: 7 },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({ policy: 'svc', status: 'valid' });
      expect(res.body.serialNumber).to.match(/^[0-9a-f]{32}$/);
      expect(res.body.chain).to.have.length(2);
      const leaf = write(dir, 'leaf.pem', res.body.certificate);
      const v = await openssl(['verify', '-CAfile', rootFile, '-untrusted', issuingFile, leaf]);
      expect(v.stdout.trim(), v.stderr).to.equal(`${leaf}: OK`);
      const days = (Date.parse(res.body.notAfter) - Date.parse(res.body.notBefore)) / 86_400_000;
      expect(days).to.be.closeTo(7, 0.01);
      serial = res.body.serialNumber;
    });

    it('takes key usage and EKU from the policy, never from the CSR, and adds SKI/AKI, CRL DP and OCSP AIA', async () => {
      const req = await csr(dir, {
        subject: '/CN=api.svc.internal',
        sans: ['DNS:api.svc.internal'],
        extra: [
          '-addext',
          'extendedKeyUsage=codeSigning',
          '-addext',
          'keyUsage=critical,keyCertSign',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
        ],
      });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: await token('app'), body: { csr: req.pem } });
      expect(res.status).to.equal(201);
      const text = await must(['x509', '-noout', '-text'], res.body.certificate);
      expect(text).to.match(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).to.match(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
      expect(text).to.match(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).to.not.contain('Code Signing');
      expect(text).to.contain('X509v3 Subject Key Identifier');
      expect(text).to.contain('X509v3 Authority Key Identifier');
      expect(text).to.contain(
        `URI:${kw.url.replace('127.0.0.1:' + new URL(kw.url).port, '127.0.0.1:' + new URL(kw.url).port)}`.slice(0, 4),
      );
      expect(text).to.match(new RegExp(`CRL Distribution Points:[\\s\\S]*URI:http://127\\.0\\.0\\.1:\\d+/v1/realms/${realm}/crl`));
      expect(text).to.match(new RegExp(`OCSP - URI:http://127\\.0\\.0\\.1:\\d+/v1/realms/${realm}/ocsp`));
      const days = (Date.parse(res.body.notAfter) - Date.parse(res.body.notBefore)) / 86_400_000;
      expect(days, 'defaults to the policy maximum').to.be.closeTo(30, 0.01);
    });

    it('accepts a raw application/pkcs10 body (DER) and answers PEM when asked', async () => {
      const req = await csr(dir, { subject: '/CN=raw.svc.internal', sans: ['DNS:raw.svc.internal'], key: 'rsa:2048' });
      const der = Buffer.from(await must(['req', '-in', req.csrFile, '-outform', 'DER'], undefined), 'latin1');
      const derFile = write(dir, 'raw.der', new Uint8Array(0));
      await must(['req', '-in', req.csrFile, '-outform', 'DER', '-out', derFile]);
      expect(der.length).to.be.greaterThan(0);
      const res = await fetch(`${kw.url}/v1/realms/${realm}/certificates`, {
        method: 'POST',
        body: readFileSync(derFile),
        headers: {
          authorization: `Bearer ${await token('app')}`,
          'content-type': 'application/pkcs10',
          accept: 'application/pem-certificate-chain',
        },
      });
      expect(res.status).to.equal(201);
      expect(res.headers.get('content-type')).to.match(/^application\/pem-certificate-chain/);
      const body = await res.text();
      expect(body.match(/BEGIN CERTIFICATE/g)).to.have.length(3);
      expect(await must(['x509', '-noout', '-subject'], body)).to.match(/CN\s*=\s*raw\.svc\.internal/);
    });

    it('issues to a client of another realm through its cross-realm grant, and refuses once the grant is revoked in Keycloak', async () => {
      const req = await csr(dir, { subject: '/CN=partner.svc.internal', sans: ['DNS:partner.svc.internal'] });
      const t = await token('partner-ci', partner);
      const ok = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: t, body: { csr: req.pem, policy: 'svc' } });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      const [holder] = (await (await keycloakAdmin(`/${realm}/clients?clientId=keyward-grant.${partner}.partner-ci`)).json()) as any[];
      expect((await keycloakAdmin(`/${realm}/clients/${holder.id}`, { method: 'DELETE' })).status).to.equal(204);
      await new Promise((r) => setTimeout(r, 1500));
      const refused = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: t, body: { csr: req.pem, policy: 'svc' } });
      expect(refused.status).to.equal(403);
      expect(refused.body.code).to.equal('auth.forbidden');
    });

    it('finds certificates by status, SAN and requester, and one by serial', async () => {
      const bySan = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?san=${encodeURIComponent('dns:web.svc.internal')}`, {
        token: await token('revoker'),
      });
      expect(bySan.body.items.map((c: any) => c.serialNumber)).to.deep.equal([serial]);
      const own = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates`, { token: await token('other-app') });
      expect(own.body.items, 'a requester sees only its own').to.deep.equal([]);
      const one = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: await token('app') });
      expect(one.body.serialNumber).to.equal(serial);
      expect(one.body.requester.name).to.equal('app');
      const hidden = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates/${serial}`, { token: await token('other-app') });
      expect(hidden.status).to.equal(404);
    });
  });

  describe('refusing bad input without leaving anything behind', () => {
    const refusals: Array<[string, () => Promise<{ body: unknown; headers?: Record<string, string> }>, number, string]> = [
      [
        'malformed PEM',
        async () => ({ body: { csr: '-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----' } }),
        400,
        'csr.malformed',
      ],
      ['garbage', async () => ({ body: { csr: 'hello' } }), 400, 'csr.malformed'],
      [
        'a CSR whose signature does not match',
        async () => {
          const r = await csr(dir, { subject: '/CN=sig.svc.internal', sans: ['DNS:sig.svc.internal'] });
          const der = Buffer.from(r.pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
          const i = der.indexOf(Buffer.from('sig.svc'));
          der[i] = 'x'.charCodeAt(0); // the subject changes, the signature stays
          return { body: { csr: `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----` } };
        },
        400,
        'csr.bad_signature',
      ],
      [
        'a weak RSA key',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=weak.svc.internal', key: 'rsa:1024' })).pem } }),
        422,
        'policy.key_not_allowed',
      ],
      [
        'a key type outside the policy',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=p521.svc.internal', key: 'ec:P-521' })).pem } }),
        422,
        'policy.key_not_allowed',
      ],
      [
        'a SAN outside the policy',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=ok.svc.internal', sans: ['DNS:evil.example.com'] })).pem } }),
        422,
        'policy.san_not_allowed',
      ],
      [
        'a wildcard deeper than one label',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=ok.svc.internal', sans: ['DNS:a.b.svc.internal'] })).pem } }),
        422,
        'policy.san_not_allowed',
      ],
      [
        'an IP outside the ranges',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=ok.svc.internal', sans: ['IP:192.168.1.1'] })).pem } }),
        422,
        'policy.san_not_allowed',
      ],
      [
        'a subject attribute outside the policy',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=ok.svc.internal/O=Evil Corp' })).pem } }),
        422,
        'policy.subject_not_allowed',
      ],
      [
        'a missing required CN',
        async () => ({ body: { csr: (await csr(dir, { subject: '/OU=nothing', sans: ['DNS:x.svc.internal'] })).pem } }),
        422,
        'policy.subject_not_allowed',
      ],
      [
        'a host-name CN outside the policy',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=www.example.com', sans: ['DNS:x.svc.internal'] })).pem } }),
        422,
        'policy.subject_not_allowed',
      ],
      [
        'a validity above the maximum',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=long.svc.internal' })).pem, validityDays: 31 } }),
        422,
        'policy.validity_exceeded',
      ],
      [
        'an unknown policy',
        async () => ({ body: { csr: (await csr(dir, { subject: '/CN=x.svc.internal' })).pem, policy: 'nope' } }),
        422,
        'policy.not_found',
      ],
      ['an unknown body field', async () => ({ body: { csr: 'x', colour: 'red' } }), 400, 'request.malformed'],
      ['a body over the size limit', async () => ({ body: { csr: 'A'.repeat(70_000) } }), 413, 'request.too_large'],
    ];
    for (const [what, make, status, code] of refusals) {
      it(`refuses ${what} with ${status} ${code}`, async () => {
        const before = await certCount();
        const { body } = await make();
        const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: await token('app'), body });
        expect(res.status, JSON.stringify(res.body)).to.equal(status);
        expect(res.body.code).to.equal(code);
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(await certCount()).to.equal(before);
      });
    }

    it('refuses a caller without keyward-requester with 403', async () => {
      const r = await csr(dir, { subject: '/CN=n.svc.internal' });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token: await token('nobody'),
        body: { csr: r.pem, policy: 'svc' },
      });
      expect(res.status).to.equal(403);
    });

    it('asks for a policy when none is named and the caller has no default', async () => {
      const r = await csr(dir, { subject: '/CN=n.svc.internal' });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: await token('other-app'), body: { csr: r.pem } });
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('policy.required');
    });
  });

  describe('token validation', () => {
    let good: string;
    before(async () => {
      good = await token('app');
    });

    const forged = async (header: Record<string, unknown>, payload: Record<string, unknown>, key?: Buffer) => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const head = `${enc(header)}.${enc(payload)}`;
      const sig = key ? createHmac('sha256', key).update(head).digest('base64url') : '';
      return `${head}.${sig}`;
    };

    it('refuses alg none with 401', async () => {
      const t = await forged({ alg: 'none', typ: 'JWT' }, decodeJwt(good));
      const res = await call(kw.url, 'GET', '/v1/whoami', { token: t });
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
    });

    it('refuses a token HMAC-signed with the realm public key with 401', async () => {
      const jwks = (await (await fetch(`${decodeJwt(good).iss}/protocol/openid-connect/certs`)).json()) as {
        keys: Array<{ kid: string; use?: string; x5c?: string[] }>;
      };
      const sigKey = jwks.keys.find((k) => k.use !== 'enc')!;
      const pub = Buffer.from(`-----BEGIN CERTIFICATE-----\n${sigKey.x5c![0]}\n-----END CERTIFICATE-----\n`);
      const t = await forged({ alg: 'HS256', typ: 'JWT', kid: sigKey.kid }, decodeJwt(good), pub);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: t })).status).to.equal(401);
    });

    it('refuses a token signed by a key the realm does not have with 401', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const t = await new SignJWT(decodeJwt(good) as never).setProtectedHeader({ alg: 'ES256', kid: 'unknown-kid' }).sign(privateKey);
      const res = await call(kw.url, 'GET', '/v1/whoami', { token: t });
      expect(res.status).to.equal(401);
    });

    it('refuses a token of an unmanaged realm with 401 auth.unknown_issuer', async () => {
      const otherRealm = unique('unmanaged');
      expect((await keycloakAdmin('', { method: 'POST', body: JSON.stringify({ realm: otherRealm, enabled: true }) })).status).to.equal(
        201,
      );
      await keycloakAdmin(`/${otherRealm}/clients`, {
        method: 'POST',
        body: JSON.stringify({
          clientId: 'c',
          secret: 'c-secret-0123456789',
          publicClient: false,
          serviceAccountsEnabled: true,
          standardFlowEnabled: false,
        }),
      });
      const t = await clientToken(otherRealm, 'c', 'c-secret-0123456789');
      const res = await call(kw.url, 'GET', '/v1/whoami', { token: t });
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('auth.unknown_issuer');
    });

    it("refuses a token without Keyward's audience with 401", async () => {
      await keycloakAdmin(`/${realm}/clients`, {
        method: 'POST',
        body: JSON.stringify({
          clientId: 'no-aud',
          secret: 'no-aud-secret-0123456789',
          publicClient: false,
          serviceAccountsEnabled: true,
          standardFlowEnabled: false,
        }),
      });
      const t = await clientToken(realm, 'no-aud', 'no-aud-secret-0123456789');
      const res = await call(kw.url, 'GET', '/v1/whoami', { token: t });
      expect(res.status).to.equal(401);
      expect(res.body.detail).to.contain('audience');
    });

    it('refuses an expired token with 401', async () => {
      const r = await keycloakAdmin(`/${partner}`);
      const rep = (await r.json()) as Record<string, unknown>;
      await keycloakAdmin(`/${partner}`, { method: 'PUT', body: JSON.stringify({ ...rep, accessTokenLifespan: 1 }) });
      await client(partner, 'short-lived');
      const t = await token('short-lived', partner);
      await new Promise((res) => setTimeout(res, 7000)); // lifespan 1 s + 5 s skew
      const res = await call(kw.url, 'GET', '/v1/whoami', { token: t });
      expect(res.status).to.equal(401);
      expect(res.body.detail).to.contain('expired');
    });
  });

  describe('approval', () => {
    let requestId: string;

    it('answers 202 with a pending request when the policy needs approval', async () => {
      const r = await csr(dir, { subject: '/CN=rev.svc.internal', sans: ['DNS:rev.svc.internal'] });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token: await token('self-approver'),
        body: { csr: r.pem, policy: 'reviewed' },
      });
      expect(res.status).to.equal(202);
      expect(res.body.status).to.equal('pending');
      requestId = res.body.requestId;
      const mine = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${requestId}`, {
        token: await token('self-approver'),
      });
      expect(mine.body.certificate).to.equal(undefined);
    });

    it("refuses the requester's own approval with 403", async () => {
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${requestId}/approve`, {
        token: await token('self-approver'),
      });
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('certificate_request.self_approval');
    });

    it('refuses approval by a caller without keyward-approver', async () => {
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${requestId}/approve`, {
        token: await token('app'),
      });
      expect(res.status).to.equal(403);
    });

    it('issues once a different approver approves; the requester then fetches the certificate', async () => {
      const list = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests?status=pending`, { token: await token('approver') });
      expect(list.body.items.map((r: any) => r.requestId)).to.include(requestId);
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${requestId}/approve`, {
        token: await token('approver'),
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.status).to.equal('issued');
      const mine = await call(kw.url, 'GET', `/v1/realms/${realm}/certificate-requests/${requestId}`, {
        token: await token('self-approver'),
      });
      expect(mine.body.certificate.status).to.equal('valid');
      expect(mine.body.certificate.requester.name).to.equal('self-approver');
      const again = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${requestId}/approve`, {
        token: await token('approver'),
      });
      expect(again.status).to.equal(409);
      expect(again.body.code).to.equal('certificate_request.not_pending');
    });

    it('rejects with a reason, and nothing is issued', async () => {
      const before = await certCount();
      const r = await csr(dir, { subject: '/CN=no.svc.internal' });
      const req = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token: await token('app'),
        body: { csr: r.pem, policy: 'reviewed' },
      });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificate-requests/${req.body.requestId}/reject`, {
        token: await token('approver'),
        body: { reason: 'not needed' },
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: 'rejected', reason: 'not needed' });
      expect(await certCount()).to.equal(before);
    });
  });

  describe('end entities', () => {
    it('issues for an entity: subject and SANs from the entity, only the key from the CSR', async () => {
      const t = await token('entity-admin');
      const created = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities`, {
        token: t,
        body: {
          name: 'billing',
          subject: [
            { type: 'CN', value: 'billing.svc.internal' },
            { type: 'OU', value: 'payments' },
          ],
          sans: { dns: ['billing.svc.internal'] },
          policy: 'svc',
        },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const r = await csr(dir, { subject: '/CN=whatever', sans: ['DNS:ignored.example.com'] });
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities/billing/certificates`, { token: t, body: { csr: r.pem } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const text = await must(['x509', '-noout', '-subject', '-ext', 'subjectAltName'], res.body.certificate);
      expect(text)
        .to.match(/CN\s*=\s*billing\.svc\.internal/)
        .and.to.match(/OU\s*=\s*payments/)
        .and.to.contain('DNS:billing.svc.internal');
      expect(text).to.not.contain('ignored');
      const renewed = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities/billing/certificates`, {
        token: t,
        body: { csr: (await csr(dir, { subject: '/CN=x' })).pem },
      });
      expect(renewed.status).to.equal(201);
      const list = await call(kw.url, 'GET', `/v1/realms/${realm}/end-entities/billing/certificates`, { token: t });
      expect(list.body.items).to.have.length(2);
    });

    it('refuses an entity outside its policy, a duplicate, and an unknown one', async () => {
      const t = await token('entity-admin');
      const bad = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities`, {
        token: t,
        body: { name: 'evil', subject: [{ type: 'CN', value: 'x' }], sans: { dns: ['evil.example.com'] }, policy: 'svc' },
      });
      expect(bad.status).to.equal(422);
      expect(bad.body.code).to.equal('policy.san_not_allowed');
      const dup = await call(kw.url, 'POST', `/v1/realms/${realm}/end-entities`, {
        token: t,
        body: { name: 'billing', subject: [{ type: 'CN', value: 'x' }], policy: 'svc' },
      });
      expect(dup.status).to.equal(409);
      expect(dup.body.code).to.equal('end_entity.exists');
      const missing = await call(kw.url, 'GET', `/v1/realms/${realm}/end-entities/nope`, { token: t });
      expect(missing.status).to.equal(404);
      expect(missing.body.code).to.equal('end_entity.not_found');
    });
  });

  describe('revocation, CRL and OCSP', () => {
    let revokedSerial: string;
    let goodSerial: string;
    let revokedFile: string;
    let goodFile: string;

    before(async () => {
      for (const name of ['gone', 'stays']) {
        const r = await csr(dir, { subject: `/CN=${name}.svc.internal` });
        const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token: await token('app'), body: { csr: r.pem } });
        if (name === 'gone') [revokedSerial, revokedFile] = [res.body.serialNumber, write(dir, 'gone.pem', res.body.certificate)];
        else [goodSerial, goodFile] = [res.body.serialNumber, write(dir, 'stays.pem', res.body.certificate)];
      }
    });

    it('lets the requester revoke its own, idempotently, and refuses others without keyward-revoker', async () => {
      const other = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${revokedSerial}/revoke`, {
        token: await token('other-app'),
        body: { reason: 'keyCompromise' },
      });
      expect(other.status).to.equal(403);
      const res = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${revokedSerial}/revoke`, {
        token: await token('app'),
        body: { reason: 'keyCompromise' },
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: 'revoked', revocationReason: 'keyCompromise' });
      const again = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${revokedSerial}/revoke`, {
        token: await token('app'),
        body: { reason: 'superseded' },
      });
      expect(again.status).to.equal(200);
      expect(again.body.revocationReason, 'the first revocation stands').to.equal('keyCompromise');
      const badReason = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${goodSerial}/revoke`, {
        token: await token('revoker'),
        body: { reason: 'bored' },
      });
      expect(badReason.status).to.equal(400);
      const list = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?status=revoked`, { token: await token('revoker') });
      expect(list.body.items.map((c: any) => c.serialNumber)).to.deep.equal([revokedSerial]);
    });

    it('serves a CRL that openssl parses, lists the revoked serial, and whose number grows', async () => {
      const res = await fetch(`${kw.url}/v1/realms/${realm}/crl`);
      expect(res.headers.get('content-type')).to.equal('application/pkix-crl');
      const crlFile = write(dir, 'crl.der', new Uint8Array(await res.arrayBuffer()));
      const text = await must(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
      expect(text.toLowerCase()).to.contain(`serial number: ${revokedSerial}`);
      expect(text).to.contain('Key Compromise');
      expect(text).to.not.contain(goodSerial.toUpperCase());
      const number1 = Number(/X509v3 CRL Number:\s+(\d+)/.exec(text)![1]);
      await must(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', issuingFile, '-noout', '-verify']).catch(() => undefined);
      const verify = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', issuingFile, '-noout']);
      expect(verify.stderr).to.not.match(/verify failure/i);
      await call(kw.url, 'POST', `/v1/realms/${realm}/certificates/${goodSerial}/revoke`, {
        token: await token('revoker'),
        body: { reason: 'superseded' },
      });
      const crl2 = write(dir, 'crl2.der', new Uint8Array(await (await fetch(`${kw.url}/v1/realms/${realm}/crl`)).arrayBuffer()));
      const number2 = Number(/X509v3 CRL Number:\s+(\d+)/.exec(await must(['crl', '-inform', 'DER', '-in', crl2, '-noout', '-text']))![1]);
      expect(number2).to.be.greaterThan(number1);
    });

    it('pages the search by keyset: after=<serialNumber> gives the pages of the offset listing, then an empty one', async () => {
      const t = await token('revoker');
      const all = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=500`, { token: t });
      const serials: string[] = all.body.items.map((c: any) => c.serialNumber);
      expect(serials.length).to.be.at.least(2);
      const walked: string[] = [];
      let after = '';
      for (let k = 0; k <= serials.length; k++) {
        const page = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=1${after ? `&after=${after}` : ''}`, { token: t });
        expect(page.status).to.equal(200);
        const got: string[] = page.body.items.map((c: any) => c.serialNumber);
        const offset = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?max=1&first=${walked.length}`, { token: t });
        expect(got, `page at ${walked.length}`).to.deep.equal(offset.body.items.map((c: any) => c.serialNumber));
        if (!got.length) break;
        walked.push(...got);
        after = got.at(-1)!.toUpperCase(); // any case, as serials are accepted elsewhere
      }
      expect(walked).to.deep.equal(serials);
      const bad = await call(kw.url, 'GET', `/v1/realms/${realm}/certificates?after=zz`, { token: t });
      expect(bad.status).to.equal(400);
    });

    it('answers OCSP: openssl ocsp reports revoked with its reason, good for a valid one', async () => {
      const fresh = await csr(dir, { subject: '/CN=fresh.svc.internal' });
      const issued = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token: await token('app'),
        body: { csr: fresh.pem },
      });
      const freshFile = write(dir, 'fresh.pem', issued.body.certificate);
      const url = `${kw.url}/v1/realms/${realm}/ocsp`;
      const revoked = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        revokedFile,
        '-url',
        url,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuingFile,
      ]);
      expect(revoked.stdout + revoked.stderr).to.match(/: revoked/);
      expect(revoked.stdout).to.match(/Reason: keyCompromise/);
      expect(revoked.stderr + revoked.stdout).to.contain('Response verify OK');
      const good = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        freshFile,
        '-url',
        url,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuingFile,
      ]);
      expect(good.stdout).to.match(/: good/);
      const generic = await openssl([
        'ocsp',
        '-issuer',
        issuingFile,
        '-cert',
        freshFile,
        '-url',
        `${kw.url}/v1/ocsp`,
        '-VAfile',
        issuingFile,
        '-CAfile',
        rootFile,
      ]);
      expect(generic.stdout).to.match(/: good/);
      void goodFile;
    });

    it('answers the GET form of OCSP (base64 request in the path)', async () => {
      const reqFile = write(dir, 'ocsp.req', '');
      await must(['ocsp', '-issuer', issuingFile, '-cert', revokedFile, '-no_nonce', '-reqout', reqFile]);
      const b64 = encodeURIComponent(readFileSync(reqFile).toString('base64'));
      const res = await fetch(`${kw.url}/v1/realms/${realm}/ocsp/${b64}`);
      expect(res.headers.get('content-type')).to.equal('application/ocsp-response');
      const respFile = write(dir, 'ocsp.resp', new Uint8Array(await res.arrayBuffer()));
      const text = await openssl([
        'ocsp',
        '-respin',
        respFile,
        '-issuer',
        issuingFile,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuingFile,
        '-cert',
        revokedFile,
      ]);
      expect(text.stdout).to.match(/: revoked/);
    });

    it('answers a malformed OCSP request with the malformedRequest status', async () => {
      const res = await fetch(`${kw.url}/v1/realms/${realm}/ocsp`, {
        method: 'POST',
        body: Buffer.from('nonsense'),
        headers: { 'content-type': 'application/ocsp-request' },
      });
      expect(res.status).to.equal(200);
      expect([...new Uint8Array(await res.arrayBuffer())]).to.deep.equal([0x30, 0x03, 0x0a, 0x01, 0x01]);
    });
  });

  describe('importing a parent CA', () => {
    it('issues under an operator-supplied CA that openssl then accepts as the trust anchor', async () => {
      const r = unique('imp');
      expect((await call(kw.url, 'PUT', `/v1/realms/${r}`, { token: op, body: {} })).status).to.equal(201);
      await call(kw.url, 'PUT', `/v1/realms/${r}/policies/svc`, { token: op, body: SVC });
      const caKey = write(dir, 'corp.key', '');
      const caCert = write(dir, 'corp.pem', '');
      await must([
        'req',
        '-x509',
        '-newkey',
        'rsa:3072',
        '-nodes',
        '-keyout',
        caKey,
        '-out',
        caCert,
        '-days',
        '3650',
        '-subj',
        '/CN=Corp Root/O=Corp',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      const leafOnly = write(dir, 'notca.pem', '');
      const leafKey = write(dir, 'notca.key', '');
      await must([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        leafKey,
        '-out',
        leafOnly,
        '-days',
        '30',
        '-subj',
        '/CN=not a ca',
        '-addext',
        'basicConstraints=critical,CA:FALSE',
      ]);
      const bad = await call(kw.url, 'PUT', `/v1/realms/${r}/ca/parent`, {
        token: op,
        body: { certificate: readFileSync(leafOnly, 'utf8'), privateKey: readFileSync(leafKey, 'utf8') },
      });
      expect(bad.status).to.equal(422);
      expect(bad.body.code).to.equal('ca.invalid');
      const mismatch = await call(kw.url, 'PUT', `/v1/realms/${r}/ca/parent`, {
        token: op,
        body: { certificate: readFileSync(caCert, 'utf8'), privateKey: readFileSync(leafKey, 'utf8') },
      });
      expect(mismatch.body.code).to.equal('ca.invalid');
      const ok = await call(kw.url, 'PUT', `/v1/realms/${r}/ca/parent`, {
        token: op,
        body: { certificate: readFileSync(caCert, 'utf8'), privateKey: readFileSync(caKey, 'utf8') },
      });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      expect(ok.body.chain).to.have.length(2);
      const issuingCa = write(dir, 'imp-issuing.pem', ok.body.chain[0]);
      await client(r, 'imp-app', { roles: ['keyward-requester'] });
      const req = await csr(dir, { subject: '/CN=a.svc.internal', sans: ['DNS:a.svc.internal'] });
      const issued = await call(kw.url, 'POST', `/v1/realms/${r}/certificates`, {
        token: await token('imp-app', r),
        body: { csr: req.pem, policy: 'svc' },
      });
      expect(issued.status).to.equal(201);
      const leaf = write(dir, 'imp-leaf.pem', issued.body.certificate);
      const v = await openssl(['verify', '-CAfile', caCert, '-untrusted', issuingCa, leaf]);
      expect(v.stdout.trim(), v.stderr).to.equal(`${leaf}: OK`);
      const again = await call(kw.url, 'PUT', `/v1/realms/${r}/ca/parent`, {
        token: op,
        body: { certificate: readFileSync(caCert, 'utf8'), privateKey: readFileSync(caKey, 'utf8') },
      });
      expect(again.status).to.equal(409);
      expect(again.body.code).to.equal('ca.exists');
      const notOperator = await call(kw.url, 'PUT', `/v1/realms/${r}/ca/parent`, {
        token: await token('imp-app', r),
        body: { certificate: 'x', privateKey: 'y' },
      });
      expect(notOperator.status).to.equal(403);
    });
  });

  describe('RSA issuing CAs', () => {
    it('creates new issuing CAs with KEYWARD_CA_KEY_TYPE and issues under them', async () => {
      const rsa = await startKeyward({ KEYWARD_CA_KEY_TYPE: 'RSA-2048' });
      try {
        const r = unique('rsa');
        expect((await call(rsa.url, 'PUT', `/v1/realms/${r}`, { token: op, body: {} })).status).to.equal(201);
        await call(rsa.url, 'PUT', `/v1/realms/${r}/policies/svc`, { token: op, body: SVC });
        const made = await call(rsa.url, 'POST', `/v1/realms/${r}/api-clients`, {
          token: op,
          body: { clientId: 'rsa-app', roles: ['keyward-requester'] },
        });
        secrets['rsa-app'] = made.body.secret;
        const req = await csr(dir, { subject: '/CN=r.svc.internal', sans: ['DNS:r.svc.internal'] });
        const issued = await call(rsa.url, 'POST', `/v1/realms/${r}/certificates`, {
          token: await token('rsa-app', r),
          body: { csr: req.pem, policy: 'svc' },
        });
        expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
        expect(await must(['x509', '-noout', '-text'], issued.body.chain[0])).to.match(/Public-Key: \(2048 bit\)/);
        expect(await must(['x509', '-noout', '-text'], issued.body.certificate)).to.contain('sha256WithRSAEncryption');
        const chain = write(dir, 'rsa-chain.pem', issued.body.chain.join(''));
        const leaf = write(dir, 'rsa-leaf.pem', issued.body.certificate);
        expect((await openssl(['verify', '-CAfile', chain, leaf])).stdout.trim()).to.equal(`${leaf}: OK`);
      } finally {
        await rsa.close();
      }
    });
  });

  describe('audit', () => {
    it('records issuance, approval, rejection and revocation with the actor', async () => {
      await kw.keyward.audit.seal(kw.keyward.db);
      const rows = (
        await kw.keyward.db.query<{ action: string; actor: { name: string } }>('SELECT action, actor FROM audit_events WHERE realm = $1', [
          realm,
        ])
      ).rows;
      const actions = new Set(rows.map((r) => r.action));
      for (const a of [
        'certificate.issued',
        'certificate_request.created',
        'certificate_request.approved',
        'certificate_request.rejected',
        'certificate.revoked',
        'end_entity.created',
      ])
        expect(actions).to.include(a);
      expect(rows.find((r) => r.action === 'certificate_request.approved')!.actor.name).to.equal('approver');
      expect(await kw.keyward.audit.verify(kw.keyward.db)).to.equal(undefined);
    });

    describe('reading the trail', () => {
      before(async () => {
        await client(realm, 'realm-admin', { roles: ['keyward-admin'] });
        await kw.keyward.audit.seal(kw.keyward.db);
      });
      const events = async (q: string, who?: string, path = `/v1/realms/${realm}/audit-events`) =>
        call(kw.url, 'GET', `${path}${q}`, { token: who ? await token(who) : op });

      it("gives a realm's keyward-admin its events, newest first, sealed or not, filtered by action, noun, target and time", async () => {
        const all = await events('?max=500', 'realm-admin');
        expect(all.status, JSON.stringify(all.body)).to.equal(200);
        expect(all.body.items.length).to.be.greaterThan(5);
        for (const e of all.body.items) expect(e.realm).to.equal(realm);
        const at = all.body.items.map((e: { at: string }) => e.at);
        expect(at).to.deep.equal([...at].sort().reverse());
        const issued = all.body.items.find((e: { action: string }) => e.action === 'certificate.issued');
        expect(issued).to.include({ sealed: true });
        expect(issued.actor).to.include({ realm });
        expect(issued.details).to.have.property('policy');

        const nouns = await events('?action=certificate', 'realm-admin');
        expect(new Set(nouns.body.items.map((e: { action: string }) => e.action))).to.deep.equal(
          new Set(['certificate.issued', 'certificate.revoked']),
        );
        const revoked = await events('?action=certificate.revoked', 'realm-admin');
        expect(revoked.body.items.length).to.be.greaterThan(0);
        for (const e of revoked.body.items) expect(e.action).to.equal('certificate.revoked');
        const one = await events(`?target=${issued.target}`, 'realm-admin');
        expect(one.body.items.map((e: { seq: string }) => e.seq)).to.include(issued.seq);
        expect((await events(`?since=${new Date(Date.now() + 60_000).toISOString()}`, 'realm-admin')).body.items).to.deep.equal([]);
        const today = issued.at.slice(0, 10);
        const day = await events(`?since=${today}&until=${today}&target=${issued.target}`, 'realm-admin');
        expect(
          day.body.items.map((e: { seq: string }) => e.seq),
          'a date alone as until covers the whole day',
        ).to.include(issued.seq);
        const page = await events('?first=1&max=2', 'realm-admin');
        expect(page.body).to.include({ first: 1, max: 2 });
        expect(page.body.items.map((e: { seq: string }) => e.seq)).to.deep.equal(
          all.body.items.slice(1, 3).map((e: { seq: string }) => e.seq),
        );
      });

      it('refuses bad filters with 400 request.malformed naming the field', async () => {
        for (const [q, field] of [
          ['?action=Certificate%20issued', 'action'],
          ['?since=2026-12-02&until=2026-12-01', 'since'],
          ['?since=2026-13-45', 'since'],
          ['?max=0', 'max'],
          ['?max=5000', '/max'],
          ['?colour=red', '/colour'],
        ] as const) {
          const res = await events(q, 'realm-admin');
          expect(res.status, q).to.equal(400);
          expect(res.body, q).to.include({ code: 'request.malformed', field });
        }
      });

      it('refuses callers without keyward-admin, and every realm but operators on /v1/audit-events', async () => {
        const requester = await events('', 'app');
        expect(requester.status).to.equal(403);
        expect(requester.body.code).to.equal('auth.forbidden');
        expect((await call(kw.url, 'GET', `/v1/realms/${realm}/audit-events`)).status).to.equal(401);
        expect((await events('', 'realm-admin', '/v1/audit-events')).status).to.equal(403);
        expect((await events('', undefined, '/v1/realms/no-such-realm-x/audit-events')).status).to.equal(404);
        const everything = await events(`?action=realm.managed&max=500`, undefined, '/v1/audit-events');
        expect(everything.status).to.equal(200);
        expect(everything.body.items.map((e: { realm: string }) => e.realm)).to.include.members([realm, partner]);
      });

      it('reads the trail from the command line', async () => {
        const env = { PATH: process.env.PATH, HOME: process.env.HOME, KEYWARD_URL: kw.url, KEYWARD_TOKEN: await token('realm-admin') };
        const run = (args: string[]) =>
          new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
            execFile(BIN, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
              resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
            );
          });
        const text = await run(['audit', 'events', '--realm', realm, '--action', 'certificate.revoked']);
        expect(text.status, text.stderr).to.equal(0);
        expect(text.stdout).to.match(new RegExp(`^\\S+  ${realm}  certificate\\.revoked  [0-9a-f]{32}  by `, 'm'));
        const json = await run(['audit', 'events', '--realm', realm, '--max', '3', '--json']);
        expect(JSON.parse(json.stdout)).to.have.length(3);
        const refused = await run(['audit', 'events']);
        expect(refused.status).to.equal(1);
        expect(refused.stderr).to.contain('auth.forbidden');
      });
    });
  });
});
