/**
 * Scenario 24 — certificates follow identity. Realm admins delete and
 * disable clients and revoke cross-realm grants in Keycloak (every change
 * here is made through Keycloak's admin REST API, as its console makes it,
 * never through Keyward); Keyward reads the realms' admin events and
 * reconciles, and revokes, holds or releases the requesters' certificates as
 * their policies say. openssl is the witness: `openssl ocsp` and
 * `openssl crl -text` on the complete and the delta CRL (RFC 5280 §5.2.4).
 * The replica doing the work is killed half-way: another finishes it, and the
 * audit trail holds exactly one event per certificate.
 */
import { expect } from 'chai';
import pg from 'pg';
import { keyward as cli } from '../support/cli.ts';
import { csr, must, openssl, work, write } from '../support/openssl.ts';
import { startReplica, type Replica } from '../support/replica.ts';
import {
  call,
  clientToken,
  integrationEnv,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  userToken,
  createLoginClient,
  createUser,
  type RunningKeyward,
} from '../support/env.ts';

const policy = (extra: Record<string, string> = {}) => ({
  keyTypes: ['EC-P256'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: ['*.follow.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['clientAuth'],
  approval: 'none',
  ...extra,
});

const SYNC = { KEYWARD_IDENTITY_SYNC_SECONDS: '1', KEYWARD_LEADER_LEASE_SECONDS: '3' };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('24 certificates follow identity', function () {
  this.timeout(600_000);
  let kw: RunningKeyward; // serves the API; follows nothing itself
  let follower: RunningKeyward | undefined; // the one Keyward that follows identity, until the replicas take over
  let db: pg.Client;
  let op: string;
  const A = unique('follow');
  const B = unique('grantor');
  const H = unique('hold');
  const dir = work();
  const csrs = new Map<string, string>();
  const chains = new Map<string, { issuing: string; root: string }>();

  const auditOf = async (serials: readonly string[], action: string) =>
    (
      await db.query<{ target: string; details: any }>('SELECT target, details FROM audit_events WHERE action = $1 AND target = ANY($2)', [
        action,
        [...serials],
      ])
    ).rows;
  const statusOf = async (serial: string) =>
    (
      await db.query<{ status: string; reason: string | null }>(
        'SELECT status, revocation_reason AS reason FROM certificates WHERE serial = $1',
        [serial],
      )
    ).rows[0]!;

  /** An API client of `realm` (default policy `svc` of `policyRealm`) and its token. */
  async function newClient(realm: string, extra: Record<string, unknown> = {}) {
    const clientId = unique('app');
    const created = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId, ...extra } });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    return { clientId, token: await clientToken(realm, clientId, created.body.secret) };
  }

  /** Issues `n` certificates in `realm` to the bearer of `token`; returns their serials and PEMs. */
  async function issue(realm: string, token: string, n: number, policyName = 'svc') {
    let pem = csrs.get('one');
    if (!pem) {
      pem = (await csr(dir, { subject: '/CN=app.follow.internal', sans: ['DNS:app.follow.internal'] })).pem;
      csrs.set('one', pem);
    }
    const out: { serial: string; file: string }[] = [];
    for (let i = 0; i < n; i++) {
      const r = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: { csr: pem, policy: policyName } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      out.push({ serial: r.body.serialNumber, file: write(dir, `${r.body.serialNumber}.pem`, r.body.certificate) });
    }
    return out;
  }

  async function chain(realm: string) {
    let c = chains.get(realm);
    if (!c) {
      const ca = await call(kw.url, 'GET', `/v1/realms/${realm}/ca`, { headers: { accept: 'application/json' } });
      expect(ca.status).to.equal(200);
      c = { issuing: write(dir, `${realm}-issuing.pem`, ca.body.chain[0]), root: write(dir, `${realm}-root.pem`, ca.body.chain[1]) };
      chains.set(realm, c);
    }
    return c;
  }

  /** `openssl ocsp` against the realm's responder: its output. */
  async function ocsp(realm: string, certFile: string): Promise<string> {
    const c = await chain(realm);
    const r = await openssl([
      'ocsp',
      '-issuer',
      c.issuing,
      '-cert',
      certFile,
      '-url',
      `${kw.url}/v1/realms/${realm}/ocsp`,
      '-CAfile',
      c.root,
      '-VAfile',
      c.issuing,
    ]);
    expect(r.stderr + r.stdout).to.contain('Response verify OK');
    return r.stdout;
  }

  /** `openssl crl -text` of the realm's complete CRL, or of its delta CRL. */
  async function crlText(realm: string, delta = false): Promise<string> {
    const res = await fetch(`${kw.url}/v1/realms/${realm}/crl${delta ? '/delta' : ''}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/application\/pkix-crl/);
    const file = write(dir, `${realm}-${delta ? 'delta' : 'full'}-${Date.now()}.crl`, new Uint8Array(await res.arrayBuffer()));
    const c = await chain(realm);
    // The CRL's signature, checked by openssl against the issuing CA.
    const verified = await openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-CAfile', c.issuing]);
    expect(verified.stderr + verified.stdout).to.match(/verify OK/);
    return must(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
  }

  /** The text of one serial's entry in `openssl crl -text` output (its lines up to the next entry). */
  const entryOf = (text: string, serial: string): string | undefined => {
    const m = new RegExp(`Serial Number: 0*${serial.replace(/^0+/, '')}\\b[\\s\\S]*?(?=Serial Number:|Signature Algorithm|$)`, 'i').exec(
      text,
    );
    return m?.[0];
  };

  const clientUuid = async (realm: string, clientId: string): Promise<string> => {
    const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=${encodeURIComponent(clientId)}`)).json()) as Array<{ id: string }>;
    return c!.id;
  };
  const setClientEnabled = async (realm: string, clientId: string, enabled: boolean) => {
    const id = await clientUuid(realm, clientId);
    const rep = (await (await keycloakAdmin(`/${realm}/clients/${id}`)).json()) as Record<string, unknown>;
    const r = await keycloakAdmin(`/${realm}/clients/${id}`, { method: 'PUT', body: JSON.stringify({ ...rep, enabled }) });
    expect(r.status).to.equal(204);
  };
  const deleteClient = async (realm: string, clientId: string) => {
    expect((await keycloakAdmin(`/${realm}/clients/${await clientUuid(realm, clientId)}`, { method: 'DELETE' })).status).to.equal(204);
  };

  before(async () => {
    kw = await startKeyward();
    follower = await startKeyward(SYNC);
    db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
    await db.connect();
    op = await operatorToken();
    for (const realm of [A, B, H]) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { defaultRoles: ['keyward-requester'] } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: policy() })).status).to.equal(201);
    }
    const kept = policy({ onRequesterDeleted: 'keep', onRequesterDisabled: 'keep', onGrantRevoked: 'keep' });
    for (const realm of [A, B]) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/kept`, { token: op, body: kept });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
  });
  after(async () => {
    await db?.end();
  });

  it('turns admin events on in the realms it manages', async () => {
    for (const realm of [A, B, H]) {
      const config = (await (await keycloakAdmin(`/${realm}/events/config`)).json()) as { adminEventsEnabled: boolean };
      expect(config.adminEventsEnabled, realm).to.equal(true);
    }
  });

  it('describes the identity rules in the policy schema of the OpenAPI document, and refuses unknown values', async () => {
    const doc = await call(kw.url, 'GET', '/v1/openapi.json');
    const text = JSON.stringify(doc.body);
    for (const field of ['onRequesterDeleted', 'onRequesterDisabled', 'onGrantRevoked']) expect(text).to.contain(field);
    const bad = await call(kw.url, 'PUT', `/v1/realms/${A}/policies/bad`, { token: op, body: policy({ onRequesterDisabled: 'forget' }) });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('policy.invalid');
    const read = await call(kw.url, 'GET', `/v1/realms/${A}/policies/kept`, { token: op });
    expect(read.body.policy).to.deep.include({ onRequesterDeleted: 'keep', onRequesterDisabled: 'keep', onGrantRevoked: 'keep' });
    const env = await integrationEnv();
    const listed = await cli(['policies', 'list', '--realm', A], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: env.operator.clientId,
      KEYWARD_CLIENT_SECRET: env.operator.clientSecret,
    });
    expect(listed.status, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(/^kept .* deleted:keep disabled:keep grant-revoked:keep$/m);
    expect(listed.stdout).to.match(/^svc .* deleted:revoke disabled:hold grant-revoked:revoke$/m);
  });

  it('revokes the three certificates of an API client deleted in Keycloak: OCSP revoked, CRL Cessation Of Operation', async () => {
    const app = await newClient(A);
    const certs = await issue(A, app.token, 3);
    for (const c of certs) expect(await ocsp(A, c.file)).to.match(/: good/);
    await deleteClient(A, app.clientId);
    await until('the three certificates revoked', async () => {
      const rows = await auditOf(
        certs.map((c) => c.serial),
        'certificate.revoked',
      );
      return rows.length === 3;
    });
    for (const c of certs) {
      const out = await ocsp(A, c.file);
      expect(out).to.match(/: revoked/);
      expect(out).to.match(/Reason: cessationOfOperation/);
    }
    const text = await crlText(A);
    for (const c of certs) expect(entryOf(text, c.serial), c.serial).to.match(/Cessation Of Operation/);
    const audit = await auditOf(
      certs.map((c) => c.serial),
      'certificate.revoked',
    );
    for (const a of audit) {
      expect(a.details.reason).to.equal('cessationOfOperation');
      expect(a.details.cause.source).to.be.oneOf(['keycloak.admin_event', 'reconciliation']);
      if (a.details.cause.source === 'keycloak.admin_event') {
        expect(a.details.cause).to.include({ operationType: 'DELETE', resourceType: 'CLIENT', realm: A });
        expect(a.details.cause.resourcePath).to.match(/^clients\//);
        expect(a.details.cause.id).to.be.a('string');
        expect(Date.parse(a.details.cause.time)).to.be.greaterThan(0);
      }
    }
    // One identity.requester_removed lifecycle event (the webhooks' outbox) names the client and the three serials.
    const events = await db.query<{ data: any }>(
      "SELECT data FROM event_outbox WHERE type = 'identity.requester_removed' AND realm = $1 AND data->'requester'->>'name' = $2",
      [A, app.clientId],
    );
    expect(events.rows).to.have.length(1);
    expect(events.rows[0]!.data.why).to.equal('deleted');
    expect([...events.rows[0]!.data.revokedSerials].sort()).to.deep.equal(certs.map((c) => c.serial).sort());
  });

  it("holds a disabled client's certificates (certificateHold), releases them once enabled; the delta CRL says removeFromCRL", async () => {
    const app = await newClient(H);
    const certs = await issue(H, app.token, 2);
    await setClientEnabled(H, app.clientId, false);
    await until('the holds', async () => (await auditOf([certs[0]!.serial, certs[1]!.serial], 'certificate.held')).length === 2);
    for (const c of certs) expect(await ocsp(H, c.file)).to.match(/: revoked[\s\S]*Reason: certificateHold/);
    const full = await crlText(H);
    for (const c of certs) expect(entryOf(full, c.serial), c.serial).to.match(/Certificate Hold/);
    expect(full).to.match(/Freshest CRL/i);
    expect(full).to.contain(`/v1/realms/${H}/crl/delta`);
    // The first delta takes the complete CRL that lists the holds as its base.
    const before = await crlText(H, true);
    expect(before).to.match(/Delta CRL Indicator: critical/);
    await setClientEnabled(H, app.clientId, true);
    await until('the releases', async () => (await auditOf([certs[0]!.serial, certs[1]!.serial], 'certificate.released')).length === 2);
    for (const c of certs) expect(await ocsp(H, c.file)).to.match(/: good/);
    const after = await crlText(H);
    for (const c of certs) expect(entryOf(after, c.serial), 'released: off the complete CRL').to.equal(undefined);
    const delta = await crlText(H, true);
    expect(delta).to.match(/Delta CRL Indicator: critical/);
    for (const c of certs) expect(entryOf(delta, c.serial), c.serial).to.match(/Remove From CRL/);
  });

  it('revokes with affiliationChanged the certificates issued through a cross-realm grant removed in the granting realm', async () => {
    const app = await newClient(A, { crossRealmRoles: [{ realm: B, role: 'keyward-requester' }] });
    const granted = await issue(B, app.token, 2);
    const keptOnes = await issue(B, app.token, 1, 'kept');
    await deleteClient(B, `keyward-grant.${A}.${app.clientId}`);
    await until(
      'the grant revocations',
      async () =>
        (
          await auditOf(
            granted.map((c) => c.serial),
            'certificate.revoked',
          )
        ).length === 2,
    );
    for (const c of granted) expect(await ocsp(B, c.file)).to.match(/Reason: affiliationChanged/);
    const text = await crlText(B);
    for (const c of granted) expect(entryOf(text, c.serial)).to.match(/Affiliation Changed/);
    // A policy that says keep keeps them (the same grant, the same run of the synchronisation).
    expect(await ocsp(B, keptOnes[0]!.file)).to.match(/: good/);
    expect((await statusOf(keptOnes[0]!.serial)).status).to.equal('valid');
  });

  it('revokes them too when the granting realm takes the granted role from the grant (a role mapping removed)', async () => {
    const app = await newClient(A, { crossRealmRoles: [{ realm: B, role: 'keyward-requester' }] });
    const [c] = await issue(B, app.token, 1);
    const holder = await clientUuid(B, `keyward-grant.${A}.${app.clientId}`);
    const sa = (await (await keycloakAdmin(`/${B}/clients/${holder}/service-account-user`)).json()) as { id: string };
    const role = await (await keycloakAdmin(`/${B}/roles/keyward-requester`)).json();
    const removed = await keycloakAdmin(`/${B}/users/${sa.id}/role-mappings/realm`, { method: 'DELETE', body: JSON.stringify([role]) });
    expect(removed.status).to.equal(204);
    await until('the revocation', async () => (await auditOf([c!.serial], 'certificate.revoked')).length === 1);
    const [a] = await auditOf([c!.serial], 'certificate.revoked');
    expect(a!.details.reason).to.equal('affiliationChanged');
    expect(a!.details.cause).to.include({ resourceType: 'REALM_ROLE_MAPPING', operationType: 'DELETE' });
    expect(await ocsp(B, c!.file)).to.match(/Reason: affiliationChanged/);
  });

  it('keeps the certificates of a deleted client whose policy says keep', async () => {
    const app = await newClient(A);
    const kept = await issue(A, app.token, 2, 'kept');
    const marker = await newClient(A);
    const revoked = await issue(A, marker.token, 1);
    await deleteClient(A, app.clientId);
    await deleteClient(A, marker.clientId);
    // The marker's revocation shows that the events after the deletion were processed.
    await until('the marker revoked', async () => (await auditOf([revoked[0]!.serial], 'certificate.revoked')).length === 1);
    await new Promise((r) => setTimeout(r, 1500)); // one more run
    for (const c of kept) {
      expect(await ocsp(A, c.file)).to.match(/: good/);
      expect((await statusOf(c.serial)).status).to.equal('valid');
    }
    expect(
      await auditOf(
        kept.map((c) => c.serial),
        'certificate.revoked',
      ),
    ).to.deep.equal([]);
  });

  it('keeps the certificates of a client renamed in Keycloak (the same client under a new name), holds them when disabled', async () => {
    const app = await newClient(A);
    const [c] = await issue(A, app.token, 1);
    const id = await clientUuid(A, app.clientId);
    const rep = (await (await keycloakAdmin(`/${A}/clients/${id}`)).json()) as Record<string, unknown>;
    const renamed = `${app.clientId}-renamed`;
    expect(
      (await keycloakAdmin(`/${A}/clients/${id}`, { method: 'PUT', body: JSON.stringify({ ...rep, clientId: renamed }) })).status,
    ).to.equal(204);
    const marker = await newClient(A);
    const [m] = await issue(A, marker.token, 1);
    await deleteClient(A, marker.clientId);
    await until('the marker revoked', async () => (await auditOf([m!.serial], 'certificate.revoked')).length === 1);
    const report = await follower!.keyward.identityFollow.reconcile();
    expect(report.reconciled).to.equal(true);
    expect(await statusOf(c!.serial)).to.deep.equal({ status: 'valid', reason: null });
    expect(await ocsp(A, c!.file)).to.match(/: good/);
    // Disabled under its new name, it is held all the same.
    expect(
      (await keycloakAdmin(`/${A}/clients/${id}`, { method: 'PUT', body: JSON.stringify({ ...rep, clientId: renamed, enabled: false }) }))
        .status,
    ).to.equal(204);
    await follower!.keyward.identityFollow.reconcile();
    expect(await statusOf(c!.serial)).to.deep.equal({ status: 'revoked', reason: 'certificateHold' });
  });

  it('holds and releases by hand (API and keyward certificate release); release answers certificate.not_held otherwise', async () => {
    const app = await newClient(H);
    const [c] = await issue(H, app.token, 1);
    const base = `/v1/realms/${H}/certificates/${c!.serial}`;
    const notHeld = await call(kw.url, 'POST', `${base}/release`, { token: app.token });
    expect(notHeld.status).to.equal(409);
    expect(notHeld.body.code).to.equal('certificate.not_held');
    const held = await call(kw.url, 'POST', `${base}/revoke`, { token: app.token, body: { reason: 'certificateHold' } });
    expect(held.status, JSON.stringify(held.body)).to.equal(200);
    expect(held.body).to.include({ status: 'revoked', revocationReason: 'certificateHold' });
    expect(await ocsp(H, c!.file)).to.match(/Reason: certificateHold/);
    const released = await call(kw.url, 'POST', `${base}/release`, { token: app.token });
    expect(released.status, JSON.stringify(released.body)).to.equal(200);
    expect(released.body.status).to.equal('valid');
    expect(await ocsp(H, c!.file)).to.match(/: good/);
    // Again, through the command line.
    expect((await call(kw.url, 'POST', `${base}/revoke`, { token: app.token, body: { reason: 'certificateHold' } })).status).to.equal(200);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, KEYWARD_URL: kw.url, KEYWARD_TOKEN: app.token };
    const out = await cli(['certificate', 'release', c!.serial, '--realm', H], env);
    expect(out.status, out.stderr).to.equal(0);
    expect(out.stdout).to.match(new RegExp(`released ${c!.serial} from hold: valid`));
    expect(await ocsp(H, c!.file)).to.match(/: good/);
    // A hold made permanent is never released.
    expect((await call(kw.url, 'POST', `${base}/revoke`, { token: app.token, body: { reason: 'certificateHold' } })).status).to.equal(200);
    const permanent = await call(kw.url, 'POST', `${base}/revoke`, { token: app.token, body: { reason: 'keyCompromise' } });
    expect(permanent.body.revocationReason).to.equal('keyCompromise');
    const refused = await call(kw.url, 'POST', `${base}/release`, { token: app.token });
    expect(refused.status).to.equal(409);
    expect(refused.body.code).to.equal('certificate.not_held');
    expect(await ocsp(H, c!.file)).to.match(/Reason: keyCompromise/);
    const audit = (await auditOf([c!.serial], 'certificate.held')).length + (await auditOf([c!.serial], 'certificate.released')).length;
    expect(audit, 'three holds, two releases').to.equal(5);
  });

  it("follows users: a disabled user's certificates held, then released; a deleted user's revoked, client certificates too", async () => {
    await createLoginClient(H);
    const bobId = await createUser(H, 'bob', 'bob-password-1', ['keyward-requester']);
    await createUser(H, 'hold-admin', 'admin-password-1', ['keyward-admin']);
    const admin = await userToken(H, 'hold-admin', 'admin-password-1');
    const on = await call(kw.url, 'PUT', `/v1/realms/${H}/settings/client-certificates`, {
      token: admin,
      body: { enabled: true, maxExpirationDays: 30 },
    });
    expect(on.status, JSON.stringify(on.body)).to.equal(200);
    const bob = await userToken(H, 'bob', 'bob-password-1');
    const [c] = await issue(H, bob, 1);
    const made = await call(kw.url, 'POST', '/v1/client-certificates', { token: bob, body: { expiresInDays: 5 } });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    const clientCertId: string = made.body.id;
    const setEnabled = async (enabled: boolean) => {
      const rep = (await (await keycloakAdmin(`/${H}/users/${bobId}`)).json()) as Record<string, unknown>;
      expect((await keycloakAdmin(`/${H}/users/${bobId}`, { method: 'PUT', body: JSON.stringify({ ...rep, enabled }) })).status).to.equal(
        204,
      );
    };
    await setEnabled(false);
    await until('the hold', async () => (await auditOf([c!.serial], 'certificate.held')).length === 1);
    expect(await ocsp(H, c!.file)).to.match(/Reason: certificateHold/);
    await setEnabled(true);
    await until('the release', async () => (await auditOf([c!.serial], 'certificate.released')).length === 1);
    expect(await ocsp(H, c!.file)).to.match(/: good/);
    expect((await keycloakAdmin(`/${H}/users/${bobId}`, { method: 'DELETE' })).status).to.equal(204);
    await until('the revocation', async () => (await auditOf([c!.serial], 'certificate.revoked')).length === 1);
    expect(await ocsp(H, c!.file)).to.match(/Reason: cessationOfOperation/);
    const [revoked] = await until('the client certificate revoked', async () => {
      const rows = await auditOf([clientCertId], 'client_certificate.revoked');
      return rows.length === 1 && rows;
    });
    // The admin event, or the periodic reconciliation when it runs first (a busy machine): either way one revocation.
    expect(revoked!.details.cause.source).to.be.oneOf(['keycloak.admin_event', 'reconciliation']);
    if (revoked!.details.cause.source === 'keycloak.admin_event')
      expect(revoked!.details.cause).to.include({ resourcePath: `users/${bobId}`, operationType: 'DELETE' });
    const stored = await db.query('SELECT revoked_at FROM client_certificates WHERE id = $1', [clientCertId]);
    expect(stored.rows[0].revoked_at).to.be.instanceOf(Date);
  });

  it('catches, by reconciliation, a deletion whose admin events were cleared from Keycloak', async () => {
    const app = await newClient(A);
    const certs = await issue(A, app.token, 1);
    await follower!.close(); // nobody follows while the events go
    follower = undefined;
    await deleteClient(A, app.clientId);
    expect((await keycloakAdmin(`/${A}/admin-events`, { method: 'DELETE' })).status).to.equal(204);
    expect(await (await keycloakAdmin(`/${A}/admin-events`)).json()).to.deep.equal([]);
    follower = await startKeyward(SYNC);
    await until('the reconciliation', async () => (await auditOf([certs[0]!.serial], 'certificate.revoked')).length === 1);
    const [a] = await auditOf([certs[0]!.serial], 'certificate.revoked');
    expect(a!.details.cause).to.deep.equal({ source: 'reconciliation' });
    expect(await ocsp(A, certs[0]!.file)).to.match(/Reason: cessationOfOperation/);
  });

  it('finishes on another replica when the one at work is killed, auditing each certificate once; a restart repeats nothing', async () => {
    const app = await newClient(A);
    const certs = await issue(A, app.token, 60);
    const serials = certs.map((c) => c.serial);
    await follower!.close();
    follower = undefined;
    const replicas: Replica[] = [await startReplica(SYNC), await startReplica(SYNC)];
    const leader = await until('a leader among the replicas', async () => {
      const row = (await db.query<{ holder: string }>("SELECT holder FROM leader_leases WHERE name = 'identity-sync'")).rows[0];
      return row && replicas.find((r) => row.holder.startsWith(`${r.pid}-`));
    });
    const other = replicas.find((r) => r !== leader)!;
    await deleteClient(A, app.clientId);
    // Kill the leader as soon as it has revoked the first certificate.
    const atKill = await until(
      'the first revocation',
      async () => {
        const n = (await auditOf(serials, 'certificate.revoked')).length;
        if (n > 0) leader.kill('SIGKILL');
        return n > 0 && n;
      },
      60_000,
    );
    await leader.exited;
    await until(
      'every certificate revoked by the other replica',
      async () => (await auditOf(serials, 'certificate.revoked')).length >= serials.length,
      60_000,
    );
    const audit = await auditOf(serials, 'certificate.revoked');
    const perCertificate = new Map<string, number>();
    for (const a of audit) perCertificate.set(a.target, (perCertificate.get(a.target) ?? 0) + 1);
    expect(
      [...perCertificate.values()].every((n) => n === 1),
      'exactly one event per certificate',
    ).to.equal(true);
    expect(perCertificate.size).to.equal(serials.length);
    expect(atKill, 'killed half-way').to.be.lessThan(serials.length);
    const holder = (await db.query<{ holder: string }>("SELECT holder FROM leader_leases WHERE name = 'identity-sync'")).rows[0]!.holder;
    expect(holder.startsWith(`${other.pid}-`), 'the other replica took the task over').to.equal(true);
    // A restart of the survivor: its first run reconciles everything again, and changes nothing.
    const cursor = (await db.query('SELECT event_time, event_ids FROM identity_sync_cursors WHERE realm = $1', [A])).rows[0];
    expect(cursor, 'a cursor is kept for the realm').to.not.equal(undefined);
    other.kill('SIGTERM');
    await other.exited;
    const again = await startReplica(SYNC);
    await until('the restarted replica leading', async () => {
      const row = (await db.query<{ holder: string }>("SELECT holder FROM leader_leases WHERE name = 'identity-sync'")).rows[0];
      return row?.holder.startsWith(`${again.pid}-`);
    });
    await new Promise((r) => setTimeout(r, 3000)); // a few runs, the first a reconciliation
    expect((await auditOf(serials, 'certificate.revoked')).length, 'nothing repeated').to.equal(serials.length);
    for (const s of serials.slice(0, 5)) expect(await statusOf(s)).to.deep.equal({ status: 'revoked', reason: 'cessationOfOperation' });
    again.kill('SIGTERM');
    await again.exited;
  });
});
