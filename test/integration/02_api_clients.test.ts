/**
 * Scenario 02 — API clients per realm (as in MTG Certificate Lifecycle
 * Manager), against the real Keycloak:
 * default role, cross-realm grants recorded in the granting realm, default
 * policy rules, console-made clients, and the bad paths.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { csr, work } from '../support/openssl.ts';
import { call, clientToken, keycloakAdmin, operatorToken, startKeyward, unique, type RunningKeyward } from '../support/env.ts';

const POLICY = {
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 90,
  subject: { required: ['CN'], allowed: ['CN', 'O', 'OU'] },
  san: { dns: ['*.apps.example.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
};

async function kcJson(path: string) {
  const res = await keycloakAdmin(path);
  expect(res.status, path).to.equal(200);
  return res.json() as Promise<any>;
}

describe('02 API clients', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const A = unique('alpha');
  const B = unique('beta');
  const C = unique('gamma'); // managed, no policies
  let secret: string;

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
    for (const [realm, defaults] of [
      [A, ['keyward-requester']],
      [B, []],
      [C, []],
    ] as const) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}`, {
        token: op,
        body: { displayName: realm.toUpperCase(), defaultRoles: defaults },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    for (const realm of [A, B]) {
      const p = await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/web`, { token: op, body: POLICY });
      expect(p.status, JSON.stringify(p.body)).to.equal(201);
    }
  });

  describe('managed realms', () => {
    it("creates the realm in Keycloak with Keyward's roles and the configured default roles", async () => {
      const roles = (await kcJson(`/${A}/roles`)).map((r: { name: string }) => r.name);
      for (const r of ['keyward-requester', 'keyward-approver', 'keyward-revoker', 'keyward-entity-admin', 'keyward-admin'])
        expect(roles).to.include(r);
      const defaults = (await kcJson(`/${A}/roles/default-roles-${A}/composites`)).map((r: { name: string }) => r.name);
      expect(defaults).to.include('keyward-requester');
      const view = await call(kw.url, 'GET', `/v1/realms/${A}`, { token: op });
      expect(view.body.defaultRoles).to.include('keyward-requester');
      expect(view.body.managedDefaultRoles).to.deep.equal(['keyward-requester']);
    });

    it('is idempotent: a second PUT answers 200 and changes nothing', async () => {
      const r = await call(kw.url, 'PUT', `/v1/realms/${A}`, {
        token: op,
        body: { displayName: A.toUpperCase(), defaultRoles: ['keyward-requester'] },
      });
      expect(r.status).to.equal(200);
    });

    it('refuses realm management to a non-operator with 403 auth.forbidden', async () => {
      const created = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId: unique('plain') } });
      const t = await clientToken(A, created.body.clientId, created.body.secret);
      const r = await call(kw.url, 'PUT', `/v1/realms/${unique('nope')}`, { token: t, body: {} });
      expect(r.status).to.equal(403);
      expect(r.body.code).to.equal('auth.forbidden');
    });
  });

  describe('creating an API client', () => {
    const clientId = 'orders-service';

    it('answers 201 with the secret once, and Keycloak issues a token with the promised roles and audience', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: {
          clientId,
          description: 'Orders',
          roles: ['keyward-revoker'],
          crossRealmRoles: [{ realm: B, role: 'keyward-requester' }],
          defaultPolicy: { realm: B, name: 'web' },
        },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body.secret).to.be.a('string').with.length.greaterThan(10);
      expect(r.headers.get('cache-control')).to.equal('no-store');
      expect(r.body.roles).to.include.members([`default-roles-${A}`, 'keyward-requester', 'keyward-revoker']);
      expect(r.body.crossRealmRoles).to.deep.equal([{ realm: B, role: 'keyward-requester' }]);
      expect(r.body.defaultPolicy).to.deep.equal({ realm: B, name: 'web', status: 'valid' });
      secret = r.body.secret;
      const token = await clientToken(A, clientId, secret);
      const claims = decodeJwt(token) as any;
      expect([].concat(claims.aud)).to.include('keyward');
      expect(claims.azp).to.equal(clientId);
      expect(claims.realm_access.roles).to.include.members([`default-roles-${A}`, 'keyward-requester', 'keyward-revoker']);
    });

    it('is a confidential client-credentials-only client with a service account in Keycloak, holding the default role', async () => {
      const [c] = await kcJson(`/${A}/clients?clientId=${clientId}`);
      expect(c.publicClient).to.equal(false);
      expect(c.serviceAccountsEnabled).to.equal(true);
      expect(c.standardFlowEnabled).to.equal(false);
      expect(c.implicitFlowEnabled).to.equal(false);
      expect(c.directAccessGrantsEnabled).to.equal(false);
      expect(c.description).to.equal(`Orders [Keyward default policy: ${B}/web]`);
      const sa = await kcJson(`/${A}/clients/${c.id}/service-account-user`);
      const mapped = (await kcJson(`/${A}/users/${sa.id}/role-mappings/realm`)).map((r: { name: string }) => r.name);
      expect(mapped).to.include.members([`default-roles-${A}`, 'keyward-revoker']);
    });

    it('records the cross-realm grant inside the granting realm, without its default role', async () => {
      const [holder] = await kcJson(`/${B}/clients?clientId=keyward-grant.${A}.${clientId}`);
      expect(holder, 'grant holder client').to.be.an('object');
      expect(holder.description).to.contain(`API client ${clientId} of realm ${A}`);
      const sa = await kcJson(`/${B}/clients/${holder.id}/service-account-user`);
      const mapped = (await kcJson(`/${B}/users/${sa.id}/role-mappings/realm`)).map((r: { name: string }) => r.name);
      expect(mapped).to.deep.equal(['keyward-requester']);
    });

    it('shows the caller its roles per realm at /v1/whoami', async () => {
      const token = await clientToken(A, clientId, secret);
      const me = await call(kw.url, 'GET', '/v1/whoami', { token });
      expect(me.status).to.equal(200);
      expect(me.body).to.include({ credential: 'bearer', kind: 'client', realm: A, clientId });
      expect(me.body.roles[A]).to.include('keyward-revoker');
      expect(me.body.roles[B]).to.deep.equal(['keyward-requester']);
    });

    it('refuses an invalid client id with 400 api_client.invalid_id', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId: 'bad id/with slash' } });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('api_client.invalid_id');
    });

    it('refuses a duplicate with 409 api_client.exists', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId } });
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal('api_client.exists');
    });

    it('refuses an unknown realm with 404 realm.not_found and an unknown role with 422 role.not_found', async () => {
      const nr = await call(kw.url, 'POST', `/v1/realms/${unique('ghost')}/api-clients`, { token: op, body: { clientId: 'x' } });
      expect(nr.status).to.equal(404);
      expect(nr.body.code).to.equal('realm.not_found');
      const role = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: { clientId: unique('r'), roles: ['no-such-role'] },
      });
      expect(role.status).to.equal(422);
      expect(role.body.code).to.equal('role.not_found');
      const xrole = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: { clientId: unique('r'), crossRealmRoles: [{ realm: B, role: 'nope' }] },
      });
      expect(xrole.status).to.equal(422);
      expect(xrole.body.code).to.equal('role.not_found');
    });

    it("never grants another realm's default role", async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: { clientId: unique('d'), crossRealmRoles: [{ realm: B, role: `default-roles-${B}` }] },
      });
      expect(r.status).to.equal(422);
      expect(r.body.code).to.equal('role.not_grantable');
    });

    it('validates the default policy exactly as MTG CLM documents it', async () => {
      const cases: Array<[unknown, string]> = [
        [{ realm: A, name: 'missing' }, 'policy.not_found'],
        [{ realm: C, name: 'web' }, 'policy.realm_has_no_policies'],
        [{ realm: B, name: 'web' }, 'policy.realm_not_granted'],
      ];
      for (const [defaultPolicy, code] of cases) {
        const id = unique('p');
        const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId: id, defaultPolicy } });
        expect(r.status, code).to.equal(422);
        expect(r.body.code).to.equal(code);
        const left = await kcJson(`/${A}/clients?clientId=${id}`);
        expect(left, 'nothing created').to.have.length(0);
      }
      const ok = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: { clientId: unique('p'), defaultPolicy: { realm: A, name: 'web' } },
      });
      expect(ok.status).to.equal(201);
    });

    it('leaves no half-made client in Keycloak when a step fails half-way', async () => {
      const faulty = await startKeyward(
        {},
        {
          faults: {
            afterClientCreated: () => {
              throw new Error('injected failure after the client was created');
            },
          },
        },
      );
      try {
        const id = unique('half');
        const r = await call(faulty.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId: id } });
        expect(r.status).to.equal(500);
        expect(r.body.code).to.equal('server.error');
        expect(await kcJson(`/${A}/clients?clientId=${id}`)).to.have.length(0);
      } finally {
        await faulty.close();
      }
    });
  });

  describe('managing API clients', () => {
    it("lists the realm's API clients, filterable by client id", async () => {
      const r = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients?search=orders`, { token: op });
      expect(r.status).to.equal(200);
      expect(r.body.items.map((c: { clientId: string }) => c.clientId)).to.deep.equal(['orders-service']);
    });

    it('honours a grant revoked in Keycloak within the role cache time', async () => {
      const id = unique('rev');
      const created = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
        token: op,
        body: { clientId: id, crossRealmRoles: [{ realm: B, role: 'keyward-requester' }], defaultPolicy: { realm: B, name: 'web' } },
      });
      expect(created.status).to.equal(201);
      const token = await clientToken(A, id, created.body.secret);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token })).body.roles[B]).to.deep.equal(['keyward-requester']);
      const [holder] = await kcJson(`/${B}/clients?clientId=keyward-grant.${A}.${id}`);
      const sa = await kcJson(`/${B}/clients/${holder.id}/service-account-user`);
      const role = await kcJson(`/${B}/roles/keyward-requester`);
      const del = await keycloakAdmin(`/${B}/users/${sa.id}/role-mappings/realm`, { method: 'DELETE', body: JSON.stringify([role]) });
      expect(del.status).to.equal(204);
      await new Promise((r) => setTimeout(r, 1500)); // KEYWARD_ROLE_CACHE_SECONDS=1 in tests
      const me = await call(kw.url, 'GET', '/v1/whoami', { token });
      expect(me.body.roles[B]).to.equal(undefined);
      const view = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients/${id}`, { token: op });
      expect(view.body.defaultPolicy.status).to.equal('policy.realm_not_granted');
    });

    it('rotates the secret: the old one stops working, the new one works', async () => {
      const r = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients/orders-service/secret`, { token: op });
      expect(r.status).to.equal(200);
      expect(r.body.secret).to.not.equal(secret);
      await clientToken(A, 'orders-service', r.body.secret);
      const old = await clientToken(A, 'orders-service', secret).then(
        () => 'worked',
        () => 'refused',
      );
      expect(old).to.equal('refused');
    });

    it('patches roles and clears the default policy', async () => {
      const r = await call(kw.url, 'PATCH', `/v1/realms/${A}/api-clients/orders-service`, {
        token: op,
        body: { roles: [], defaultPolicy: null },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.assignedRoles).to.deep.equal([]);
      expect(r.body.defaultPolicy).to.equal(undefined);
      const [c] = await kcJson(`/${A}/clients?clientId=orders-service`);
      expect(c.description).to.equal('Orders');
    });

    it('treats a client made in the console with the keyward scope as an API client', async () => {
      const id = unique('console');
      const res = await keycloakAdmin(`/${A}/clients`, {
        method: 'POST',
        body: JSON.stringify({ clientId: id, publicClient: false, serviceAccountsEnabled: true, standardFlowEnabled: false }),
      });
      expect(res.status).to.equal(201);
      const [c] = await kcJson(`/${A}/clients?clientId=${id}`);
      const [scope] = (await kcJson(`/${A}/client-scopes`)).filter((s: { name: string }) => s.name === 'keyward');
      expect((await keycloakAdmin(`/${A}/clients/${c.id}/default-client-scopes/${scope.id}`, { method: 'PUT' })).status).to.equal(204);
      const list = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients?search=${id}`, { token: op });
      expect(list.body.items.map((x: { clientId: string }) => x.clientId)).to.deep.equal([id]);
      const patched = await call(kw.url, 'PATCH', `/v1/realms/${A}/api-clients/${id}`, {
        token: op,
        body: { defaultPolicy: { realm: A, name: 'web' } },
      });
      expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
      expect(patched.body.defaultPolicy).to.deep.equal({ realm: A, name: 'web', status: 'valid' });
      expect(patched.body.managed).to.equal(false);
    });

    it('deletes a client together with its grants in other realms', async () => {
      const r = await call(kw.url, 'DELETE', `/v1/realms/${A}/api-clients/orders-service`, { token: op });
      expect(r.status).to.equal(204);
      expect(await kcJson(`/${A}/clients?clientId=orders-service`)).to.have.length(0);
      expect(await kcJson(`/${B}/clients?clientId=keyward-grant.${A}.orders-service`)).to.have.length(0);
      const again = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients/orders-service`, { token: op });
      expect(again.status).to.equal(404);
      expect(again.body.code).to.equal('api_client.not_found');
    });
  });

  describe('a client disabled or deleted in Keycloak', () => {
    // KEYWARD_ROLE_CACHE_SECONDS=1 in tests: every refusal below must hold within that time + 1 s.
    const BOUND_MS = 2000;
    const settle = () => new Promise((r) => setTimeout(r, BOUND_MS));
    const dir = work();
    let csrPem: string;

    before(async () => {
      csrPem = (await csr(dir, { subject: '/CN=api.apps.example.internal', sans: ['DNS:api.apps.example.internal'] })).pem;
    });

    async function newClient(body: Record<string, unknown> = {}) {
      const clientId = unique('lk');
      const created = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId, ...body } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const [kc] = await kcJson(`/${A}/clients?clientId=${clientId}`);
      return { clientId, id: kc.id as string, token: await clientToken(A, clientId, created.body.secret) };
    }
    const issue = (token: string, realm = A) =>
      call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: { csr: csrPem, policy: 'web', validityDays: 1 } });
    async function setEnabled(realm: string, id: string, enabled: boolean) {
      const rep = await kcJson(`/${realm}/clients/${id}`);
      const res = await keycloakAdmin(`/${realm}/clients/${id}`, { method: 'PUT', body: JSON.stringify({ ...rep, enabled }) });
      expect(res.status).to.equal(204);
    }
    function expectRefused(r: { status: number; body: any; headers: Headers }, code: string) {
      expect(r.status, JSON.stringify(r.body)).to.equal(401);
      expect(r.body.code).to.equal(code);
      expect(r.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
    }

    it('refuses the token of a disabled client with 401 token.client_disabled, and accepts it again once re-enabled', async () => {
      const c = await newClient();
      expect((await issue(c.token)).status).to.equal(201);
      await setEnabled(A, c.id, false);
      await settle();
      expectRefused(await issue(c.token), 'token.client_disabled');
      const me = await call(kw.url, 'GET', '/v1/whoami', { token: c.token });
      expectRefused(me, 'token.client_disabled');
      expect(me.body.detail).to.include(c.clientId);
      await setEnabled(A, c.id, true);
      await settle();
      expect((await issue(c.token)).status).to.equal(201);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: c.token })).status).to.equal(200);
    });

    it('records the refusal in the audit trail once per client and reason, however often the client retries', async () => {
      const c = await newClient();
      await setEnabled(A, c.id, false);
      await settle();
      for (let i = 0; i < 3; i++) expectRefused(await issue(c.token), 'token.client_disabled');
      const events = await call(kw.url, 'GET', `/v1/realms/${A}/audit-events?action=api_client.token_refused&target=${c.clientId}`, {
        token: op,
      });
      expect(events.status, JSON.stringify(events.body)).to.equal(200);
      expect(events.body.items).to.have.length(1);
      expect(events.body.items[0].details).to.deep.equal({ reason: 'disabled' });
      expect(events.body.items[0].actor.name).to.equal(c.clientId);
    });

    it('refuses the token when the service-account user is disabled', async () => {
      const c = await newClient();
      const sa = await kcJson(`/${A}/clients/${c.id}/service-account-user`);
      const res = await keycloakAdmin(`/${A}/users/${sa.id}`, { method: 'PUT', body: JSON.stringify({ ...sa, enabled: false }) });
      expect(res.status).to.equal(204);
      await settle();
      const r = await issue(c.token);
      expectRefused(r, 'token.client_disabled');
      expect(r.body.detail).to.match(/service account/);
    });

    it('refuses the token of a client deleted in the console with 401 token.client_not_found', async () => {
      const c = await newClient();
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: c.token })).status).to.equal(200);
      expect((await keycloakAdmin(`/${A}/clients/${c.id}`, { method: 'DELETE' })).status).to.equal(204);
      await settle();
      expectRefused(await issue(c.token), 'token.client_not_found');
      expectRefused(await call(kw.url, 'GET', '/v1/whoami', { token: c.token }), 'token.client_not_found');
    });

    it("stops a realm's tokens from acting in another realm when the grant client there is disabled or deleted", async () => {
      const c = await newClient({ crossRealmRoles: [{ realm: B, role: 'keyward-requester' }] });
      expect((await issue(c.token, B)).status).to.equal(201);
      const [holder] = await kcJson(`/${B}/clients?clientId=keyward-grant.${A}.${c.clientId}`);
      await setEnabled(B, holder.id, false);
      await settle();
      const refused = await issue(c.token, B);
      expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
      expect(refused.body.code).to.equal('auth.forbidden');
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: c.token })).body.roles[B]).to.equal(undefined);
      expect((await issue(c.token)).status, 'still acts at home').to.equal(201);
      await setEnabled(B, holder.id, true);
      await settle();
      expect((await issue(c.token, B)).status).to.equal(201);
      expect((await keycloakAdmin(`/${B}/clients/${holder.id}`, { method: 'DELETE' })).status).to.equal(204);
      await settle();
      const gone = await issue(c.token, B);
      expect(gone.status).to.equal(403);
      expect(gone.body.code).to.equal('auth.forbidden');
    });
  });

  describe('policies', () => {
    it('refuses an invalid policy document with 400 policy.invalid and the path of the error', async () => {
      const r = await call(kw.url, 'PUT', `/v1/realms/${A}/policies/bad`, { token: op, body: { ...POLICY, keyTypes: ['DSA-1024'] } });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('policy.invalid');
      expect(r.body.path).to.match(/^\/keyTypes/);
    });

    it('lists and reads policies', async () => {
      const list = await call(kw.url, 'GET', `/v1/realms/${A}/policies`, { token: op });
      expect(list.body.items.map((p: { name: string }) => p.name)).to.include('web');
      const one = await call(kw.url, 'GET', `/v1/realms/${A}/policies/web`, { token: op });
      expect(one.body.policy.maxValidityDays).to.equal(90);
    });
  });
});
