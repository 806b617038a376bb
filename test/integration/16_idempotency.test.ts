/**
 * Scenario 16 — Idempotency-Key on the creating POSTs whose answer carries a
 * secret shown once: an API client (its secret), a personal access token (the
 * token) and a user's client certificate (the generated private key). A
 * retry with the same key and body, on either of two Keyward servers over one
 * PostgreSQL, gets the first answer back — the same secret — and creates
 * nothing more, as Keycloak's own admin REST API and the stored rows witness;
 * the same key with another body is 422; and the stored answer never holds the
 * secret in clear (read from the table itself).
 */
import { expect } from 'chai';
import {
  call,
  clientToken,
  createLoginClient,
  createUser,
  keycloakAdmin,
  operatorToken,
  startKeyward,
  unique,
  userToken,
  type RunningKeyward,
} from '../support/env.ts';
import { csr, work } from '../support/openssl.ts';
import { policyFor } from '../support/scenario.ts';

describe('16 Idempotency-Key on creating POSTs', function () {
  this.timeout(600_000);
  const realm = unique('idem');
  let a: RunningKeyward;
  let b: RunningKeyward;
  let op: string;
  let alice: string;

  /** The stored idempotency rows of `realm`, as PostgreSQL holds them. */
  async function storedRows(): Promise<Array<{ key: string; status: number | null; response: unknown }>> {
    const r = await a.keyward.db.query<{ key: string; status: number | null; response: unknown }>(
      'SELECT key, status, response FROM idempotency_keys WHERE scope LIKE $1',
      [`${realm}/%`],
    );
    return r.rows;
  }

  /** The row of one key, as text: what a reader of the database sees. */
  async function storedText(key: string): Promise<string> {
    const row = (await storedRows()).find((r) => r.key === key);
    expect(row, `a stored row for ${key}`).to.not.equal(undefined);
    expect(row!.status).to.equal(201);
    return JSON.stringify(row!.response);
  }

  /** Forgets the recorded answer of `key`, as when the first attempt created but died before recording it. */
  async function forgetAnswer(key: string): Promise<void> {
    const r = await a.keyward.db.query('UPDATE idempotency_keys SET status = NULL, response = NULL WHERE scope LIKE $1 AND key = $2', [
      `${realm}/%`,
      key,
    ]);
    expect(r.rowCount).to.equal(1);
  }

  const post = (kw: RunningKeyward, path: string, token: string, key: string, body: unknown) =>
    call(kw.url, 'POST', path, { token, body, headers: { 'idempotency-key': key } });

  before(async () => {
    [a, b] = await Promise.all([startKeyward(), startKeyward()]);
    op = await operatorToken();
    expect((await call(a.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
    await createLoginClient(realm);
    await createUser(realm, 'alice', 'alice-password-1', ['keyward-requester']);
    await createUser(realm, 'admin', 'admin-password-1', ['keyward-admin']);
    alice = await userToken(realm, 'alice', 'alice-password-1');
    const admin = await userToken(realm, 'admin', 'admin-password-1');
    for (const setting of ['personal-access-tokens', 'client-certificates']) {
      const on = await call(a.url, 'PUT', `/v1/realms/${realm}/settings/${setting}`, {
        token: admin,
        body: { enabled: true, maxExpirationDays: 30 },
      });
      expect(on.status, JSON.stringify(on.body)).to.equal(200);
    }
  });

  describe('POST /v1/realms/{realm}/api-clients', () => {
    const path = () => `/v1/realms/${realm}/api-clients`;

    it('answers a retry on the other server with the same secret, and Keycloak holds one client', async () => {
      const key = unique('k');
      const body = { clientId: 'idem-app', roles: ['keyward-requester'] };
      const first = await post(a, path(), op, key, body);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.headers.get('idempotent-replayed')).to.equal(null);
      const retry = await post(b, path(), op, key, body);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.headers.get('cache-control')).to.equal('no-store');
      expect(retry.headers.get('location')).to.equal(first.headers.get('location'));
      expect(retry.body).to.deep.equal(first.body);
      expect(retry.body.secret).to.be.a('string').with.length.greaterThan(10);
      const inKeycloak = (await (await keycloakAdmin(`/${realm}/clients?clientId=idem-app`)).json()) as Array<{ id: string }>;
      expect(inKeycloak).to.have.length(1);
      const secret = (await (await keycloakAdmin(`/${realm}/clients/${inKeycloak[0]!.id}/client-secret`)).json()) as { value: string };
      expect(secret.value, 'the replayed secret is the one Keycloak holds').to.equal(retry.body.secret);
      expect(await clientToken(realm, 'idem-app', retry.body.secret)).to.be.a('string');
      const list = await call(a.url, 'GET', `${path()}?search=idem-app`, { token: op });
      expect(list.body.items.filter((c: { clientId: string }) => c.clientId === 'idem-app')).to.have.length(1);
    });

    it('refuses the key for another body with 422 idempotency.key_reused, creating nothing', async () => {
      const key = unique('k');
      expect((await post(a, path(), op, key, { clientId: 'idem-one' })).status).to.equal(201);
      const other = await post(b, path(), op, key, { clientId: 'idem-two' });
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency.key_reused');
      expect(((await (await keycloakAdmin(`/${realm}/clients?clientId=idem-two`)).json()) as unknown[]).length).to.equal(0);
    });

    it('stores the answer sealed: the secret is not in the row', async () => {
      const key = unique('k');
      const first = await post(a, path(), op, key, { clientId: 'idem-sealed' });
      expect(first.status).to.equal(201);
      const text = await storedText(key);
      expect(text).to.not.include(first.body.secret);
      expect(text).to.not.include('idem-sealed');
      expect(JSON.parse(text)).to.have.keys(['v', 'kek', 'wrapped', 'answer']);
    });

    it('finds the client a first attempt created but could not record, with its secret', async () => {
      const key = unique('k');
      const body = { clientId: 'idem-orphan', roles: ['keyward-requester'] };
      const first = await post(a, path(), op, key, body);
      expect(first.status).to.equal(201);
      await forgetAnswer(key);
      const retry = await post(b, path(), op, key, body);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body.secret).to.equal(first.body.secret);
      expect(retry.body).to.include({ realm, clientId: 'idem-orphan' });
      expect(await clientToken(realm, 'idem-orphan', retry.body.secret)).to.be.a('string');
      const again = await post(a, path(), op, key, body);
      expect(again.body.secret, 'and recorded now').to.equal(first.body.secret);
      expect(await storedText(key)).to.not.include(first.body.secret);
    });

    it('does not replay one caller’s key to another caller', async () => {
      const key = unique('k');
      expect((await post(a, path(), op, key, { clientId: 'idem-mine' })).status).to.equal(201);
      const admin = await userToken(realm, 'admin', 'admin-password-1');
      const theirs = await post(a, path(), admin, key, { clientId: 'idem-mine' });
      expect(theirs.status, 'the other caller runs its own request: the client exists').to.equal(409);
      expect(theirs.body.code).to.equal('api_client.exists');
    });
  });

  describe('POST /v1/personal-access-tokens', () => {
    const path = '/v1/personal-access-tokens';

    it('answers a retry with the same token, which works, and one token exists', async () => {
      const key = unique('k');
      const body = { name: 'ci', expiresInDays: 10 };
      const first = await post(a, path, alice, key, body);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      const retry = await post(b, path, alice, key, body);
      expect(retry.status).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      const me = await call(b.url, 'GET', '/v1/whoami', { token: retry.body.token });
      expect(me.status, 'the replayed token authenticates').to.equal(200);
      const own = await call(a.url, 'GET', path, { token: alice });
      expect(own.body.items.filter((t: { name: string }) => t.name === 'ci')).to.have.length(1);
      const rows = await a.keyward.db.query('SELECT count(*)::int AS n FROM personal_access_tokens WHERE realm = $1 AND name = $2', [
        realm,
        'ci',
      ]);
      expect(rows.rows[0].n).to.equal(1);
    });

    it('refuses the key for another body with 422, and never stores the token in clear', async () => {
      const key = unique('k');
      const first = await post(a, path, alice, key, { name: 'sealed', expiresInDays: 5 });
      expect(first.status).to.equal(201);
      const other = await post(b, path, alice, key, { name: 'sealed', expiresInDays: 6 });
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency.key_reused');
      const text = await storedText(key);
      expect(text).to.not.include(first.body.token);
      expect(text).to.not.include(first.body.token.split('_')[2]);
      expect(text).to.not.include('kwp_');
    });
  });

  describe('POST /v1/client-certificates', () => {
    const path = '/v1/client-certificates';

    it('answers a retry with the same certificate and private key, and one certificate exists', async () => {
      const key = unique('k');
      const body = { name: 'deploy', expiresInDays: 10 };
      const first = await post(a, path, alice, key, body);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.body.pem).to.include('PRIVATE KEY');
      const retry = await post(b, path, alice, key, body);
      expect(retry.status).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      const list = await call(a.url, 'GET', path, { token: alice });
      expect(list.body.items.filter((c: { name: string }) => c.name === 'deploy')).to.have.length(1);
      const me = await call(b.url, 'GET', '/v1/whoami', {
        headers: { 'X-Client-Certificate': Buffer.from(retry.body.pem).toString('base64') },
      });
      expect(me.status, 'the replayed certificate authenticates').to.equal(200);
      expect(me.body).to.include({ credential: 'client_certificate', username: 'alice' });
    });

    it('finds the certificate a first attempt created but could not record, with its private key', async () => {
      const key = unique('k');
      const body = { name: 'orphan', expiresInDays: 4 };
      const first = await post(a, path, alice, key, body);
      expect(first.status).to.equal(201);
      await forgetAnswer(key);
      const retry = await post(b, path, alice, key, body);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
    });

    it('replays a CSR-mode answer too, and never stores the generated key in clear', async () => {
      const req = await csr(work(), { subject: '/CN=alice', sans: [] });
      const key = unique('k');
      const first = await post(a, path, alice, key, { name: 'own-key', expiresInDays: 3, csr: req.pem });
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect((await post(b, path, alice, key, { name: 'own-key', expiresInDays: 3, csr: req.pem })).body).to.deep.equal(first.body);
      const generatedKey = unique('k');
      const generated = await post(a, path, alice, generatedKey, { expiresInDays: 2 });
      const pkcs8 = generated.body.pem.match(/-----BEGIN PRIVATE KEY-----\n([^-]+)-----END/)[1].replace(/\s/g, '');
      const text = await storedText(generatedKey);
      expect(text).to.not.include('PRIVATE KEY');
      expect(text).to.not.include(pkcs8.slice(0, 40));
      const other = await post(b, path, alice, generatedKey, { expiresInDays: 3 });
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency.key_reused');
    });
  });

  describe('POST /v1/realms/{realm}/end-entities/{name}/certificates', () => {
    it('answers a retry with the same certificate, and the entity has one certificate more', async () => {
      const policy = await call(a.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: policyFor('idem.internal') });
      expect(policy.status, JSON.stringify(policy.body)).to.equal(201);
      const client = await call(a.url, 'POST', `/v1/realms/${realm}/api-clients`, {
        token: op,
        body: { clientId: 'idem-entities', roles: ['keyward-entity-admin', 'keyward-requester'] },
      });
      expect(client.status, JSON.stringify(client.body)).to.equal(201);
      const token = await clientToken(realm, 'idem-entities', client.body.secret);
      const entity = await call(a.url, 'POST', `/v1/realms/${realm}/end-entities`, {
        token,
        body: { name: 'web', subject: [{ type: 'CN', value: 'web.idem.internal' }], sans: { dns: ['web.idem.internal'] }, policy: 'svc' },
      });
      expect(entity.status, JSON.stringify(entity.body)).to.equal(201);
      const path = `/v1/realms/${realm}/end-entities/web/certificates`;
      const body = { csr: (await csr(work(), { subject: '/CN=web.idem.internal' })).pem };
      const key = unique('k');
      const first = await post(a, path, token, key, body);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      const retry = await post(b, path, token, key, body);
      expect(retry.status).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body.serialNumber).to.equal(first.body.serialNumber);
      expect(retry.body).to.deep.equal(first.body);
      const other = await post(a, path, token, key, { csr: (await csr(work(), { subject: '/CN=web.idem.internal' })).pem });
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency.key_reused');
      const list = await call(a.url, 'GET', path, { token });
      expect(list.body.items.map((c: { serialNumber: string }) => c.serialNumber)).to.deep.equal([first.body.serialNumber]);
    });
  });
});
