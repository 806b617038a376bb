import { expect } from 'chai';
import { ROLES } from '../../../services/keyward/src/authn/roles.ts';
import { expectCodeAsync, NOW, opensslCsr, POLICY_DOCUMENT, Workdir, x509 } from '../ca/fixtures.ts';
import { client, harness, REALM } from './fakes.ts';

describe('issuance: renewal authenticated by the certificate being renewed', () => {
  const dir = new Workdir();
  after(() => dir.remove());
  const app = client('app');
  const csr = () => opensslCsr(dir, { subject: '/CN=web.apps.example.internal', sans: ['DNS:web.apps.example.internal'] }).pem;
  const short = { ...(structuredClone(POLICY_DOCUMENT) as Record<string, unknown>), maxValidityDays: undefined, maxValidity: 'PT2M' };

  async function issued(h: ReturnType<typeof harness>) {
    h.roles.set(app.subject, [ROLES.requester]);
    h.policies.set('short', short);
    const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'short' });
    if (out.kind !== 'issued') throw new Error('expected a certificate');
    return { view: out.certificate, der: new Uint8Array(new x509.X509Certificate(out.certificate.certificate).rawData) };
  }

  it('issues the same subject, SANs and key for the same lifetime, recorded as renewed, for the same requester', async () => {
    const h = harness();
    const { view, der } = await issued(h);
    expect(new Date(view.notAfter).getTime() - new Date(view.notBefore).getTime()).to.equal(120_000);
    h.clock.advance(30_000);
    const next = await h.issuance.renew(REALM, der, {});
    expect(next.serialNumber).to.not.equal(view.serialNumber);
    expect(next).to.deep.include({ subject: view.subject, sans: view.sans, policy: 'short', requester: view.requester });
    const a = new x509.X509Certificate(view.certificate);
    const b = new x509.X509Certificate(next.certificate);
    expect(Buffer.from(b.publicKey.rawData).equals(Buffer.from(a.publicKey.rawData))).to.equal(true);
    expect(b.notAfter.getTime() - b.notBefore.getTime()).to.equal(120_000);
    expect(b.notBefore.getTime()).to.equal(NOW.getTime() + 30_000 - 60_000);
    expect(h.store.audit.map((e) => e.action)).to.have.members(['certificate.issued', 'certificate.issued', 'certificate.renewed']);
  });

  it('re-keys with a new CSR, keeping the names of the certificate (not the CSR’s)', async () => {
    const h = harness();
    const { view, der } = await issued(h);
    const other = opensslCsr(dir, { subject: '/CN=other.apps.example.internal', sans: ['DNS:other.apps.example.internal'] }).pem;
    const next = await h.issuance.renew(REALM, der, { csr: other });
    expect(next.subject).to.equal(view.subject);
    expect(next.sans).to.deep.equal(view.sans);
    const a = new x509.X509Certificate(view.certificate);
    const b = new x509.X509Certificate(next.certificate);
    expect(Buffer.from(b.publicKey.rawData).equals(Buffer.from(a.publicKey.rawData))).to.equal(false);
  });

  it('caps the lifetime at the current policy maximum', async () => {
    const h = harness();
    const { der } = await issued(h);
    h.policies.set('short', { ...short, maxValidity: 'PT1M' });
    const next = await h.issuance.renew(REALM, der, {});
    expect(new Date(next.notAfter).getTime() - new Date(next.notBefore).getTime()).to.equal(60_000);
  });

  const refusals: Array<[string, (h: ReturnType<typeof harness>, der: Uint8Array) => Uint8Array | Promise<Uint8Array>, string]> = [
    ['a certificate Keyward did not issue in the realm', (_h, der) => Uint8Array.from(der).reverse(), 'renewal.certificate_unknown'],
    [
      'a revoked certificate',
      async (h, der) => {
        await h.issuance.revoke(REALM, app, new x509.X509Certificate(der).serialNumber, 'superseded');
        return der;
      },
      'renewal.certificate_revoked',
    ],
    [
      'an expired certificate',
      (h, der) => {
        h.clock.advance(61_000);
        return der;
      },
      'renewal.certificate_expired',
    ],
    [
      'a certificate whose API client was deleted',
      (h, der) => {
        h.deletedClients.add(app.subject);
        return der;
      },
      'renewal.requester_inactive',
    ],
    [
      'a requester without keyward-requester now',
      (h, der) => {
        h.roles.set(app.subject, []);
        return der;
      },
      'auth.forbidden',
    ],
    [
      'a policy that was deleted',
      (h, der) => {
        h.policies.delete('short');
        return der;
      },
      'renewal.policy_not_found',
    ],
    [
      'a policy that no longer allows the names',
      (h, der) => {
        h.policies.set('short', { ...short, san: { dns: ['*.elsewhere.internal'], ip: [], uri: [], email: [] } });
        return der;
      },
      'renewal.not_allowed',
    ],
    [
      'a policy that now needs approval',
      (h, der) => {
        h.policies.set('short', { ...short, approval: 'required' });
        return der;
      },
      'renewal.not_allowed',
    ],
  ];
  for (const [what, change, code] of refusals) {
    it(`refuses ${what} with ${code}, audited, and issues nothing`, async () => {
      const h = harness();
      const { der } = await issued(h);
      const presented = await change(h, der);
      const before = h.store.certificates.length;
      await expectCodeAsync(() => h.issuance.renew(REALM, presented, {}), code as never);
      expect(h.store.certificates).to.have.length(before);
      const last = h.store.audit.at(-1)!;
      expect(last.action).to.equal('certificate.renewal_refused');
      expect((last.details as { code: string }).code).to.equal(code);
    });
  }
});
