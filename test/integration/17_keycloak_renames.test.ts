/**
 * Scenario 17 — Keycloak objects renamed behind Keyward's back. Realm admins
 * rename in Keycloak's console what Keyward knows by name: a managed realm,
 * an API client's clientId, a cross-realm grant holder, one of Keyward's
 * roles, a group, a user who owns personal access tokens and client
 * certificates. Every rename here is made through Keycloak's admin REST API,
 * as the console makes it. Keyward must keep every listing, realm-config
 * plan/apply, start-up, the token sweep and whoami working, and the outcome
 * must be the documented one.
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
import { startReplica } from '../support/replica.ts';
import { policyFor } from '../support/scenario.ts';

async function json<T = any>(path: string, init?: RequestInit): Promise<T> {
  const r = await keycloakAdmin(path, init);
  expect(r.status, `${init?.method ?? 'GET'} ${path}`).to.be.oneOf([200, 201, 204]);
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Polls `probe` until it returns a value: Keyward caches roles and client states for
 * KEYWARD_ROLE_CACHE_SECONDS (1 s in tests), so a change in Keycloak shows within that bound.
 */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Renames a client of `realm` the way the console's Settings tab does: the whole representation, new clientId. */
async function renameClient(realm: string, from: string, to: string): Promise<string> {
  const [c] = await json<any[]>(`/${realm}/clients?clientId=${encodeURIComponent(from)}`);
  expect(c, `client ${from} in ${realm}`).to.not.equal(undefined);
  await json(`/${realm}/clients/${c.id}`, { method: 'PUT', body: JSON.stringify({ ...c, clientId: to }) });
  return c.id as string;
}

describe('17 Keycloak renames behind Keyward', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const H = unique('rn-home');
  const G = unique('rn-grant');
  const R = unique('rn-realm');
  const R2 = `${R}-renamed`;
  const domain = 'rename.internal';
  let secret: string;
  let csrPem: string;

  const plan = (realm: string, content: Record<string, unknown>) =>
    call(kw.url, 'POST', '/v1/realm-config/plan', {
      token: op,
      body: { files: [{ name: `${realm}.json`, content: { realm, ...content } }] },
    });
  const apply = (realm: string, content: Record<string, unknown>) =>
    call(kw.url, 'POST', '/v1/realm-config/apply', {
      token: op,
      body: { files: [{ name: `${realm}.json`, content: { realm, ...content } }] },
    });
  const issue = (realm: string, token: string) =>
    call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: { csr: csrPem, policy: 'svc', validityDays: 1 } });

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
    for (const realm of [H, G, R]) {
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: {} })).status).to.equal(201);
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: policyFor(domain) })).status).to.equal(201);
    }
    const app = await call(kw.url, 'POST', `/v1/realms/${H}/api-clients`, {
      token: op,
      body: {
        clientId: 'app',
        roles: ['keyward-requester'],
        crossRealmRoles: [{ realm: G, role: 'keyward-requester' }],
        defaultPolicy: { realm: G, name: 'svc' },
      },
    });
    expect(app.status, JSON.stringify(app.body)).to.equal(201);
    secret = app.body.secret;
    csrPem = (await csr(work(), { subject: `/CN=app.${domain}`, sans: [`DNS:app.${domain}`] })).pem;
  });

  describe('a managed realm renamed', () => {
    let rToken: string;

    before(async () => {
      const c = await call(kw.url, 'POST', `/v1/realms/${R}/api-clients`, {
        token: op,
        body: { clientId: 'r-app', roles: ['keyward-requester'] },
      });
      expect(c.status).to.equal(201);
      rToken = await clientToken(R, 'r-app', c.body.secret);
      expect((await issue(R, rToken)).status).to.equal(201);
      await json(`/${R}`, { method: 'PUT', body: JSON.stringify({ realm: R2 }) });
      expect((await keycloakAdmin(`/${R}`)).status, 'the old name is gone from Keycloak').to.equal(404);
    });

    it('is listed under its old name as missing in Keycloak; the new name is not managed', async () => {
      const list = await call(kw.url, 'GET', '/v1/realms', { token: op });
      expect(list.status, JSON.stringify(list.body)).to.equal(200);
      const byName = Object.fromEntries(list.body.realms.map((r: any) => [r.name, r.status]));
      expect(byName[R]).to.equal('missing in Keycloak');
      expect(byName[R2]).to.equal(undefined);
      const one = await call(kw.url, 'GET', `/v1/realms/${R}`, { token: op });
      expect(one.status).to.equal(200);
      expect(one.body.status).to.equal('missing in Keycloak');
      const work = await call(kw.url, 'GET', `/v1/realms/${R}/api-clients`, { token: op });
      expect(work.status).to.equal(409);
      expect(work.body.code).to.equal('realm.missing_in_keycloak');
    });

    it("refuses the renamed realm's tokens as from an unmanaged issuer, and its old tokens once their realm is gone", async () => {
      const old = await eventually('the old token refused', async () => {
        const r = await call(kw.url, 'GET', '/v1/whoami', { token: rToken });
        return r.status === 200 ? undefined : r;
      });
      expect(old.status, JSON.stringify(old.body)).to.equal(409);
      expect(old.body.code).to.equal('realm.missing_in_keycloak');
      const [c] = await json<any[]>(`/${R2}/clients?clientId=r-app`);
      const s = await json<{ value: string }>(`/${R2}/clients/${c.id}/client-secret`);
      const fresh = await call(kw.url, 'GET', '/v1/whoami', { token: await clientToken(R2, 'r-app', s.value) });
      expect(fresh.status, JSON.stringify(fresh.body)).to.equal(401);
      expect(fresh.body.code).to.equal('auth.unknown_issuer');
    });

    it('keeps realm-config plan working for both names', async () => {
      const old = await plan(R, { apiClients: [{ clientId: 'r-app' }] });
      expect(old.status, JSON.stringify(old.body)).to.equal(200);
      expect(
        old.body.changes.map((c: any) => `${c.action} ${c.kind} ${c.id}`),
        'made again, as PUT would',
      ).to.deep.equal([`create realm ${R}`, 'create api_client r-app']);
      const renamed = await plan(R2, {});
      expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    });

    it('is taken over under its new name by PUT, keeping what Keycloak holds; the old name is forgotten by DELETE', async () => {
      const put = await call(kw.url, 'PUT', `/v1/realms/${R2}`, { token: op, body: {} });
      expect(put.status, JSON.stringify(put.body)).to.equal(201);
      expect(put.body.status).to.equal('ok');
      const clients = await call(kw.url, 'GET', `/v1/realms/${R2}/api-clients`, { token: op });
      expect(clients.body.items.map((c: any) => c.clientId)).to.include('r-app');
      const [c] = await json<any[]>(`/${R2}/clients?clientId=r-app`);
      const s = await json<{ value: string }>(`/${R2}/clients/${c.id}/client-secret`);
      const me = await call(kw.url, 'GET', '/v1/whoami', { token: await clientToken(R2, 'r-app', s.value) });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.roles[R2]).to.include('keyward-requester');
      const del = await call(kw.url, 'DELETE', `/v1/realms/${R}`, { token: op });
      expect(del.status, JSON.stringify(del.body)).to.equal(204);
      const list = await call(kw.url, 'GET', '/v1/realms', { token: op });
      expect(list.body.realms.map((r: any) => r.name))
        .to.include(R2)
        .and.not.include(R);
    });
  });

  describe("an API client's clientId renamed", () => {
    let oldToken: string;

    before(async () => {
      oldToken = await clientToken(H, 'app', secret);
      expect((await issue(G, oldToken)).status, 'the grant works before the rename').to.equal(201);
      await renameClient(H, 'app', 'app-renamed');
    });

    it('refuses tokens naming the old clientId with 401 token.client_not_found', async () => {
      const me = await eventually('the old clientId refused', async () => {
        const r = await call(kw.url, 'GET', '/v1/whoami', { token: oldToken });
        return r.status === 200 ? undefined : r;
      });
      expect(me.status, JSON.stringify(me.body)).to.equal(401);
      expect(me.body.code).to.equal('token.client_not_found');
    });

    it('is found under its new name with its home roles and secret; its cross-realm grants named the old clientId', async () => {
      const token = await clientToken(H, 'app-renamed', secret);
      const me = await call(kw.url, 'GET', '/v1/whoami', { token });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.roles[H]).to.include('keyward-requester');
      expect(me.body.roles[G]).to.equal(undefined);
      expect((await issue(H, token)).status).to.equal(201);
      const denied = await issue(G, token);
      expect(denied.status, 'the grant in the other realm was to the old name').to.equal(403);
      const view = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients/app-renamed`, { token: op });
      expect(view.status, JSON.stringify(view.body)).to.equal(200);
      expect(view.body.crossRealmRoles).to.deep.equal([]);
      expect(view.body.defaultPolicy.status).to.equal('policy.realm_not_granted');
      const old = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients/app`, { token: op });
      expect(old.status).to.equal(404);
      const list = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients`, { token: op });
      expect(list.body.items.map((c: any) => c.clientId))
        .to.include('app-renamed')
        .and.not.include('app');
    });

    it('gets its grant back by PATCH under the new name', async () => {
      const patch = await call(kw.url, 'PATCH', `/v1/realms/${H}/api-clients/app-renamed`, {
        token: op,
        body: { crossRealmRoles: [{ realm: G, role: 'keyward-requester' }] },
      });
      expect(patch.status, JSON.stringify(patch.body)).to.equal(200);
      expect(patch.body.crossRealmRoles).to.deep.equal([{ realm: G, role: 'keyward-requester' }]);
      expect((await issue(G, await clientToken(H, 'app-renamed', secret))).status).to.equal(201);
    });

    it('does not hand the old name’s grant to a new client created under the old name', async () => {
      const plain = await plan(H, { apiClients: [{ clientId: 'app', roles: ['keyward-requester'] }] });
      expect(plain.status, JSON.stringify(plain.body)).to.equal(200);
      expect(plain.body.changes.map((c: any) => `${c.action} ${c.kind} ${c.id}`)).to.include('create api_client app');
      const applied = await apply(H, { apiClients: [{ clientId: 'app', roles: ['keyward-requester'] }] });
      expect(applied.status, JSON.stringify(applied.body)).to.equal(200);
      const view = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients/app`, { token: op });
      expect(view.status, JSON.stringify(view.body)).to.equal(200);
      expect(view.body.crossRealmRoles, 'the grant the renamed client left behind is not inherited').to.deep.equal([]);
      const holders = await json<any[]>(`/${G}/clients?clientId=${encodeURIComponent(`keyward-grant.${H}.app`)}`);
      expect(holders, 'the stale grant holder is removed').to.deep.equal([]);
    });
  });

  describe('a cross-realm grant holder renamed', () => {
    const holder = () => `keyward-grant.${H}.app-renamed`;

    it('stops granting, as if deleted, and PATCH grants again under the canonical name', async () => {
      await renameClient(G, holder(), `keyward-grant.${H}.other`);
      const token = await clientToken(H, 'app-renamed', secret);
      const refused = await eventually('the grant to stop', async () => {
        const r = await issue(G, token);
        return r.status === 201 ? undefined : r;
      });
      expect(refused.status, JSON.stringify(refused.body)).to.equal(403);
      const view = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients/app-renamed`, { token: op });
      expect(view.status).to.equal(200);
      expect(view.body.crossRealmRoles).to.deep.equal([]);
      const other = await call(kw.url, 'GET', `/v1/realms/${H}/api-clients?search=other`, { token: op });
      expect(other.status).to.equal(200);
      const patch = await call(kw.url, 'PATCH', `/v1/realms/${H}/api-clients/app-renamed`, {
        token: op,
        body: { crossRealmRoles: [{ realm: G, role: 'keyward-requester' }] },
      });
      expect(patch.status, JSON.stringify(patch.body)).to.equal(200);
      expect((await issue(G, await clientToken(H, 'app-renamed', secret))).status).to.equal(201);
    });
  });

  describe('a Keyward role and a group renamed', () => {
    let alice: string;

    before(async () => {
      await createLoginClient(H);
      await createUser(H, 'alice', 'alice-password-1');
      const group = await keycloakAdmin(`/${H}/groups`, { method: 'POST', body: JSON.stringify({ name: 'requesters' }) });
      expect(group.status).to.equal(201);
      const groupId = group.headers.get('location')!.split('/').pop()!;
      const role = await json(`/${H}/roles/keyward-approver`);
      await json(`/${H}/groups/${groupId}/role-mappings/realm`, { method: 'POST', body: JSON.stringify([role]) });
      const [user] = await json<any[]>(`/${H}/users?username=alice&exact=true`);
      await json(`/${H}/users/${user.id}/groups/${groupId}`, { method: 'PUT' });
      await json(`/${H}/groups/${groupId}`, { method: 'PUT', body: JSON.stringify({ name: 'approvers-renamed' }) });
      alice = await userToken(H, 'alice', 'alice-password-1');
    });

    it('changes nothing when a group is renamed: roles through it still count', async () => {
      const me = await call(kw.url, 'GET', '/v1/whoami', { token: alice });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.roles[H]).to.include('keyward-approver');
    });

    it('reports a renamed Keyward role like a deleted one; its holders lose it; PUT and realm-config restore it', async () => {
      const role = await json(`/${H}/roles/keyward-approver`);
      await json(`/${H}/roles-by-id/${role.id}`, { method: 'PUT', body: JSON.stringify({ ...role, name: 'approver-renamed' }) });
      const view = await call(kw.url, 'GET', `/v1/realms/${H}`, { token: op });
      expect(view.status, JSON.stringify(view.body)).to.equal(200);
      expect(view.body.roles).to.not.include('keyward-approver');
      expect(view.body.missingRoles).to.deep.equal(['keyward-approver']);
      const roles = await eventually('the renamed role to stop counting', async () => {
        const held: string[] = (await call(kw.url, 'GET', '/v1/whoami', { token: alice })).body.roles[H] ?? [];
        return held.includes('keyward-approver') ? undefined : held;
      });
      expect(roles).to.include('approver-renamed');
      const p = await plan(H, { apiClients: [{ clientId: 'app', roles: ['keyward-requester'] }] });
      expect(p.status, JSON.stringify(p.body)).to.equal(200);
      const put = await call(kw.url, 'PUT', `/v1/realms/${H}`, { token: op, body: {} });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      expect(put.body.roles).to.include('keyward-approver').and.include('approver-renamed');
      expect(put.body.missingRoles).to.deep.equal([]);
      const applied = await apply(H, { apiClients: [{ clientId: 'app', roles: ['keyward-requester'] }] });
      expect(applied.status, JSON.stringify(applied.body)).to.equal(200);
    });
  });

  describe('a user who owns personal access tokens and client certificates renamed', () => {
    let pat: string;
    let pem: string;
    let admin: string;
    let sweeper: RunningKeyward | undefined;

    before(async () => {
      await createUser(H, 'bob', 'bob-password-1', ['keyward-requester']);
      await createUser(H, 'dora', 'dora-password-1', ['keyward-requester']);
      await createUser(H, 'hr-admin', 'hr-password-1', ['keyward-admin']);
      admin = await userToken(H, 'hr-admin', 'hr-password-1');
      for (const setting of ['personal-access-tokens', 'client-certificates']) {
        const on = await call(kw.url, 'PUT', `/v1/realms/${H}/settings/${setting}`, {
          token: admin,
          body: { enabled: true, maxExpirationDays: 30 },
        });
        expect(on.status, JSON.stringify(on.body)).to.equal(200);
      }
      const bob = await userToken(H, 'bob', 'bob-password-1');
      pat = (await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: bob, body: { name: 'ci', expiresInDays: 5 } })).body.token;
      await call(kw.url, 'POST', '/v1/personal-access-tokens', { token: bob, body: { name: 'unused', expiresInDays: 5 } });
      pem = (await call(kw.url, 'POST', '/v1/client-certificates', { token: bob, body: { name: 'cc', expiresInDays: 5 } })).body.pem;
      const dora = await userToken(H, 'dora', 'dora-password-1');
      const doras = await call(kw.url, 'POST', '/v1/personal-access-tokens', {
        token: dora,
        body: { name: 'never-used', expiresInDays: 5 },
      });
      expect(doras.status, JSON.stringify(doras.body)).to.equal(201);
      await json(`/${H}`, { method: 'PUT', body: JSON.stringify({ editUsernameAllowed: true }) });
      for (const [from, to] of [
        ['bob', 'robert'],
        ['dora', 'dorothea'],
      ]) {
        const [user] = await json<any[]>(`/${H}/users?username=${from}&exact=true`);
        await json(`/${H}/users/${user.id}`, { method: 'PUT', body: JSON.stringify({ ...user, username: to }) });
      }
    });

    after(async () => {
      await sweeper?.close();
    });

    it('keeps the PAT and the client certificate working, and whoami names the new username', async () => {
      const byPat = await call(kw.url, 'GET', '/v1/whoami', { token: pat });
      expect(byPat.status, JSON.stringify(byPat.body)).to.equal(200);
      expect(byPat.body.username).to.equal('robert');
      const byCert = await call(kw.url, 'GET', '/v1/whoami', { headers: { 'X-Client-Certificate': Buffer.from(pem).toString('base64') } });
      expect(byCert.status, JSON.stringify(byCert.body)).to.equal(200);
      expect(byCert.body.username).to.equal('robert');
    });

    it('shows the new username in the admin views once a credential is used, and revokes by it', async () => {
      const list = await call(kw.url, 'GET', `/v1/realms/${H}/personal-access-tokens?username=robert`, { token: admin });
      expect(list.status, JSON.stringify(list.body)).to.equal(200);
      expect(list.body.items.map((t: any) => t.name).sort(), "all of the user's tokens, the unused one too").to.deep.equal([
        'ci',
        'unused',
      ]);
      const certs = await call(kw.url, 'GET', `/v1/realms/${H}/client-certificates`, { token: admin });
      expect(certs.status).to.equal(200);
      expect(certs.body.items.map((c: any) => c.username)).to.deep.equal(['robert']);
      const revoked = await call(kw.url, 'POST', `/v1/realms/${H}/personal-access-tokens/revoke`, {
        token: admin,
        body: { usernames: ['robert'] },
      });
      expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
      expect(revoked.body.revoked).to.equal(2);
      expect((await call(kw.url, 'GET', '/v1/whoami', { token: pat })).status).to.equal(401);
    });

    it('records the new username of a user whose token is never used at the next token sweep', async () => {
      const before = await call(kw.url, 'GET', `/v1/realms/${H}/personal-access-tokens?username=dora`, { token: admin });
      expect(
        before.body.items.map((t: any) => t.name),
        'not used since the rename: the old name',
      ).to.deep.equal(['never-used']);
      sweeper = await startKeyward({ KEYWARD_PAT_SWEEP_SECONDS: '1' });
      const swept = await eventually(
        'the sweep to record the new username',
        async () => {
          const r = await call(kw.url, 'GET', `/v1/realms/${H}/personal-access-tokens?username=dorothea`, { token: admin });
          expect(r.status, JSON.stringify(r.body)).to.equal(200);
          return r.body.items.length ? r.body.items : undefined;
        },
        20_000,
      );
      expect(swept.map((t: any) => t.name)).to.deep.equal(['never-used']);
    });
  });

  describe('after every rename', () => {
    it('starts `keyward serve` and a new Keyward, and both answer every listing and realm-config plan', async () => {
      const serve = await startReplica();
      const fresh = await startKeyward();
      op = await operatorToken(); // master tokens live 60 s
      try {
        for (const url of [serve.url, fresh.url]) {
          expect((await fetch(`${url}/readyz`)).status).to.equal(200);
          const list = await call(url, 'GET', '/v1/realms', { token: op });
          expect(list.status, JSON.stringify(list.body)).to.equal(200);
          for (const realm of [H, G, R2]) {
            for (const path of ['', '/api-clients', '/certificates', '/policies']) {
              const r = await call(url, 'GET', `/v1/realms/${realm}${path}`, { token: op });
              expect(r.status, `${realm}${path}: ${JSON.stringify(r.body)}`).to.equal(200);
            }
          }
          const p = await call(url, 'POST', '/v1/realm-config/plan', {
            token: op,
            body: { files: [H, G, R2].map((realm) => ({ name: `${realm}.json`, content: { realm } })) },
          });
          expect(p.status, JSON.stringify(p.body)).to.equal(200);
          expect(p.body.changes).to.deep.equal([]);
        }
        expect(serve.stderr(), 'no error logged by keyward serve').to.not.match(/"level":"error"/);
      } finally {
        serve.kill('SIGTERM');
        await serve.exited;
        await fresh.close();
      }
    });
  });
});
