import { expect } from 'chai';
import { ROLES } from '../../../services/keyward/src/authn/roles.ts';
import { DAY, NOW, expectCodeAsync, opensslCsr, Workdir, x509 } from '../ca/fixtures.ts';
import { POLICY_DOCUMENT } from '../ca/fixtures.ts';
import { client, harness, REALM } from './fakes.ts';

describe('issuance actions', () => {
  const dir = new Workdir();
  after(() => dir.remove());
  const app = client('app');
  const csr = (sans = ['DNS:web.apps.example.internal']) => opensslCsr(dir, { subject: '/CN=web.apps.example.internal', sans }).pem;

  describe('issue', () => {
    it('issues under the policy: the leaf profile, back-dated a minute, stored with its audit event in one round trip', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc', validityDays: 7 });
      expect(out.kind).to.equal('issued');
      if (out.kind !== 'issued') return;
      const cert = new x509.X509Certificate(out.certificate.certificate);
      expect(cert.notBefore.toISOString()).to.equal(new Date(NOW.getTime() - 60_000).toISOString());
      expect(cert.notAfter.getTime() - cert.notBefore.getTime()).to.equal(7 * DAY);
      expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).to.equal(false);
      expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).to.equal(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      );
      expect(cert.getExtension(x509.CRLDistributionPointsExtension)).to.not.equal(null);
      expect(out.certificate.chain).to.have.length(2);
      expect(out.certificate).to.deep.include({ subject: 'CN=web.apps.example.internal', sans: ['dns:web.apps.example.internal'] });
      expect(h.store.counts.insertIssued).to.equal(1);
      expect(h.store.certificates).to.have.length(1);
      expect(h.store.audit.map((e) => e.action)).to.deep.equal(['certificate.issued']);
      expect(h.verifications.count, 'proof of possession checked once').to.equal(1);
    });

    it('refuses a caller without keyward-requester with auth.forbidden naming the role, and stores nothing', async () => {
      const h = harness();
      await expectCodeAsync(() => h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' }), 'auth.forbidden', {
        role: ROLES.requester,
      });
      expect(h.store.certificates).to.have.length(0);
      expect(h.store.cas).to.have.length(0);
    });

    it('refuses a realm Keyward does not manage with realm.not_found', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      await expectCodeAsync(() => h.issuance.issue('elsewhere', app, { csr: csr(), policy: 'svc' }), 'realm.not_found');
    });

    it('refuses a SAN outside the policy with policy.san_not_allowed before anything is signed or stored', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      await expectCodeAsync(
        () => h.issuance.issue(REALM, app, { csr: csr(['DNS:evil.example']), policy: 'svc' }),
        'policy.san_not_allowed',
        { san: 'dns:evil.example' },
      );
      expect(h.store.certificates).to.have.length(0);
      expect(h.store.audit).to.have.length(0);
    });

    it('refuses a request without a policy when the caller has no default policy with policy.required', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      await expectCodeAsync(() => h.issuance.issue(REALM, app, { csr: csr() }), 'policy.required');
    });

    it('certifies an end entity’s names, not the CSR’s', async () => {
      const h = harness();
      const admin = client('entity-admin');
      h.roles.set(admin.subject, [ROLES.entityAdmin]);
      h.roles.set(app.subject, [ROLES.requester]);
      await h.issuance.createEndEntity(REALM, admin, {
        name: 'billing',
        subject: [{ type: 'CN', value: 'billing.apps.example.internal' }],
        sans: { dns: ['billing.apps.example.internal'] },
        policy: 'svc',
      });
      const out = await h.issuance.issue(REALM, app, { csr: csr(), endEntity: 'billing' });
      if (out.kind !== 'issued') return expect.fail('expected a certificate');
      expect(out.certificate).to.deep.include({
        subject: 'CN=billing.apps.example.internal',
        sans: ['dns:billing.apps.example.internal'],
        policy: 'svc',
        endEntity: 'billing',
      });
    });
  });

  describe('approval', () => {
    const approver = client('approver');
    const setup = () => {
      const h = harness();
      h.policies.set('reviewed', { ...structuredClone(POLICY_DOCUMENT), approval: 'required' });
      h.roles.set(app.subject, [ROLES.requester, ROLES.approver]);
      h.roles.set(approver.subject, [ROLES.approver]);
      return h;
    };

    it('records a pending request instead of a certificate; another approver approves it exactly once', async () => {
      const h = setup();
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'reviewed', validityDays: 10 });
      if (out.kind !== 'pending') return expect.fail('expected a pending request');
      expect(h.store.certificates).to.have.length(0);
      const id = out.request.requestId;
      await expectCodeAsync(() => h.issuance.approve(REALM, app, id), 'certificate_request.self_approval');
      const approved = await h.issuance.approve(REALM, approver, id);
      expect(approved.status).to.equal('issued');
      expect(approved.certificate?.status).to.equal('valid');
      expect(h.store.certificates).to.have.length(1);
      expect(h.store.audit.map((e) => e.action)).to.deep.equal([
        'certificate_request.created',
        'certificate_request.approved',
        'certificate.issued',
      ]);
      await expectCodeAsync(() => h.issuance.approve(REALM, approver, id), 'certificate_request.not_pending');
    });

    it('checks the request again under the policy as it is when approved', async () => {
      const h = setup();
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'reviewed', validityDays: 30 });
      if (out.kind !== 'pending') return expect.fail('expected a pending request');
      h.policies.set('reviewed', { ...structuredClone(POLICY_DOCUMENT), approval: 'required', maxValidityDays: 7 });
      await expectCodeAsync(() => h.issuance.approve(REALM, approver, out.request.requestId), 'policy.validity_exceeded');
      expect(h.store.certificates).to.have.length(0);
      expect((await h.issuance.getRequest(REALM, approver, out.request.requestId)).status).to.equal('pending');
    });

    it('rejects with the reason; requesters see only their own requests', async () => {
      const h = setup();
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'reviewed' });
      if (out.kind !== 'pending') return expect.fail('expected a pending request');
      const other = client('other');
      h.roles.set(other.subject, [ROLES.requester]);
      await expectCodeAsync(() => h.issuance.getRequest(REALM, other, out.request.requestId), 'certificate_request.not_found');
      expect(await h.issuance.listRequests(REALM, other, undefined, 0, 100)).to.deep.equal([]);
      const rejected = await h.issuance.reject(REALM, approver, out.request.requestId, 'not this one');
      expect(rejected).to.deep.include({ status: 'rejected', reason: 'not this one' });
    });
  });

  describe('revoke', () => {
    it('lets the requester revoke their own certificate and a keyward-revoker any; idempotent; the CRL is re-signed', async () => {
      const h = harness();
      const other = client('other');
      const revoker = client('revoker');
      h.roles.set(app.subject, [ROLES.requester]);
      h.roles.set(other.subject, [ROLES.requester]);
      h.roles.set(revoker.subject, [ROLES.revoker]);
      const a = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      const b = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      if (a.kind !== 'issued' || b.kind !== 'issued') return expect.fail('expected certificates');
      await expectCodeAsync(() => h.issuance.revoke(REALM, other, a.certificate.serialNumber, 'keyCompromise'), 'auth.forbidden', {
        role: ROLES.revoker,
      });
      await expectCodeAsync(() => h.issuance.revoke(REALM, app, a.certificate.serialNumber, 'removeFromCRL'), 'certificate.invalid_reason');
      const own = await h.issuance.revoke(REALM, app, a.certificate.serialNumber, 'keyCompromise');
      expect(own).to.deep.include({ status: 'revoked', revocationReason: 'keyCompromise' });
      const again = await h.issuance.revoke(REALM, app, a.certificate.serialNumber, 'superseded');
      expect(again.revocationReason).to.equal('keyCompromise');
      await h.issuance.revoke(REALM, revoker, b.certificate.serialNumber, 'superseded');
      expect(h.store.audit.filter((e) => e.action === 'certificate.revoked')).to.have.length(2);
      expect([...h.store.crls.values()][0]).to.deep.include({ crlNumber: 2n, revocations: 2 });
    });

    it('signs a CRL from the revocations committed once it holds the CRL lock, so a higher number never lists less', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      const a = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      const b = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      if (a.kind !== 'issued' || b.kind !== 'issued') return expect.fail('expected certificates');
      await h.issuance.revoke(REALM, app, a.certificate.serialNumber, 'superseded');
      // Another replica commits the revocation of b while this one waits for the CRL lock.
      h.store.onCrlLock = async () => {
        h.store.onCrlLock = undefined;
        const i = h.store.certificates.findIndex((c) => c.serial === b.certificate.serialNumber);
        h.store.certificates[i] = { ...h.store.certificates[i]!, status: 'revoked', revokedAt: NOW, revocationReason: 'superseded' };
      };
      h.clock.advance(DAY); // past half the CRL's validity: the next CRL is signed anew
      const der = await h.issuance.crl(REALM);
      const stored = [...h.store.crls.values()][0]!;
      expect(stored).to.deep.include({ crlNumber: 2n, revocations: 2 });
      const listed = new x509.X509Crl(der).entries.map((e) => e.serialNumber.toLowerCase().replace(/^0+/, ''));
      expect(listed.sort()).to.deep.equal([a, b].map((x) => x.certificate.serialNumber.replace(/^0+/, '')).sort());
    });

    it('hides another requester’s certificate (certificate.not_found); approvers, revokers and admins see it', async () => {
      const h = harness();
      const other = client('other');
      const approver = client('approver');
      h.roles.set(app.subject, [ROLES.requester]);
      h.roles.set(other.subject, [ROLES.requester]);
      h.roles.set(approver.subject, [ROLES.approver]);
      const a = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      if (a.kind !== 'issued') return expect.fail('expected a certificate');
      await expectCodeAsync(() => h.issuance.get(REALM, other, a.certificate.serialNumber), 'certificate.not_found');
      expect((await h.issuance.get(REALM, approver, a.certificate.serialNumber)).serialNumber).to.equal(a.certificate.serialNumber);
      expect(await h.issuance.search(REALM, other, { first: 0, max: 10 })).to.deep.equal([]);
      expect(await h.issuance.search(REALM, approver, { first: 0, max: 10 })).to.have.length(1);
    });
  });

  describe('lifecycle events', () => {
    it('records certificate.issued with the certificate, in the same store call as the certificate', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc', validityDays: 7 });
      if (out.kind !== 'issued') return expect.fail('expected a certificate');
      expect(h.store.counts.insertIssued).to.equal(1);
      expect(h.store.events).to.have.length(1);
      const e = h.store.events[0]!;
      expect(e).to.deep.include({ type: 'certificate.issued', realm: REALM, subject: out.certificate.serialNumber });
      expect(e.data).to.deep.include({
        serialNumber: out.certificate.serialNumber,
        policy: 'svc',
        subject: 'CN=web.apps.example.internal',
        sans: ['dns:web.apps.example.internal'],
        notAfter: out.certificate.notAfter,
      });
    });

    it('records nothing for a refused request', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      await expectCodeAsync(
        () => h.issuance.issue(REALM, app, { csr: csr(['DNS:evil.example']), policy: 'svc' }),
        'policy.san_not_allowed',
      );
      expect(h.store.events).to.deep.equal([]);
    });

    it('records certificate_request.pending, then certificate.issued when approved', async () => {
      const h = harness();
      const approver = client('approver');
      h.policies.set('reviewed', { ...structuredClone(POLICY_DOCUMENT), approval: 'required' });
      h.roles.set(app.subject, [ROLES.requester]);
      h.roles.set(approver.subject, [ROLES.approver]);
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'reviewed' });
      if (out.kind !== 'pending') return expect.fail('expected a pending request');
      expect(h.store.events.map((e) => [e.type, e.subject])).to.deep.equal([['certificate_request.pending', out.request.requestId]]);
      const approved = await h.issuance.approve(REALM, approver, out.request.requestId);
      expect(h.store.events.map((e) => [e.type, e.subject])).to.deep.equal([
        ['certificate_request.pending', out.request.requestId],
        ['certificate.issued', approved.certificate!.serialNumber],
      ]);
      expect(h.store.events[1]!.data).to.include({ requestId: out.request.requestId });
    });

    it('records certificate.revoked once: revoking a revoked certificate records nothing more', async () => {
      const h = harness();
      h.roles.set(app.subject, [ROLES.requester]);
      const out = await h.issuance.issue(REALM, app, { csr: csr(), policy: 'svc' });
      if (out.kind !== 'issued') return expect.fail('expected a certificate');
      await h.issuance.revoke(REALM, app, out.certificate.serialNumber, 'keyCompromise');
      await h.issuance.revoke(REALM, app, out.certificate.serialNumber, 'superseded');
      const revoked = h.store.events.filter((e) => e.type === 'certificate.revoked');
      expect(revoked).to.have.length(1);
      expect(revoked[0]).to.deep.include({ subject: out.certificate.serialNumber });
      expect(revoked[0]!.data).to.include({ serialNumber: out.certificate.serialNumber, reason: 'keyCompromise' });
    });
  });

  describe('CAs', () => {
    it('creates the root and the realm issuing CA once, on first use, back-dated two minutes', async () => {
      const h = harness();
      const chain = await h.issuance.chain(REALM);
      expect(chain).to.have.length(2);
      expect(await h.issuance.chain(REALM)).to.deep.equal(chain);
      expect(h.store.cas.map((c) => c.kind).sort()).to.deep.equal(['issuing', 'root']);
      const issuing = new x509.X509Certificate(chain[0]!);
      expect(issuing.notBefore.toISOString()).to.equal(new Date(NOW.getTime() - 120_000).toISOString());
      expect(issuing.getExtension(x509.BasicConstraintsExtension)).to.deep.include({ ca: true, pathLength: 0 });
    });

    it('lets only operators import a parent CA', async () => {
      const h = harness();
      await expectCodeAsync(() => h.issuance.importParent(REALM, app, { certificate: 'x', privateKey: 'y' }), 'auth.forbidden');
    });
  });
});
