/**
 * Scenario 10 — Keycloak changes behind Keyward's back. Realm admins work in
 * Keycloak's console: they delete realms, clients and roles that Keyward
 * knows about. Every change here is made through Keycloak's admin REST API,
 * as the console makes it; Keyward must keep working, say what is missing,
 * and let an operator repair or forget it.
 */
import { expect } from 'chai';
import { keyward } from '../support/cli.ts';
import pg from 'pg';
import { csr, work } from '../support/openssl.ts';
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

const cli = keyward; // the CLI in a child process: the server under test lives in this one

/** The realm of a stored certificate, read from PostgreSQL as the witness (undefined when there is none). */
async function storedCertificate(serial: string): Promise<string | undefined> {
  const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
  await db.connect();
  try {
    return (await db.query<{ realm: string }>('SELECT realm FROM certificates WHERE serial = $1', [serial])).rows[0]?.realm;
  } finally {
    await db.end();
  }
}

const POLICY = {
  keyTypes: ['EC-P256'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: ['*.drift.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['clientAuth'],
  approval: 'none',
};

describe('10 Keycloak changes behind Keyward', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const A = unique('home');
  const B = unique('gone');
  const clientId = 'drift-app';
  let token: string;
  let serial: string;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
    const env = await integrationEnv();
    cliEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: env.operator.clientId,
      KEYWARD_CLIENT_SECRET: env.operator.clientSecret,
    };
    for (const realm of [A, B]) {
      const r = await call(kw.url, 'PUT', `/v1/realms/${realm}`, { token: op, body: { defaultRoles: ['keyward-requester'] } });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect((await call(kw.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: op, body: POLICY })).status).to.equal(201);
    }
    const created = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, {
      token: op,
      body: { clientId, crossRealmRoles: [{ realm: B, role: 'keyward-requester' }], defaultPolicy: { realm: B, name: 'svc' } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    token = await clientToken(A, clientId, created.body.secret);
    const req = await csr(work(), { subject: '/CN=app.drift.internal', sans: ['DNS:app.drift.internal'] });
    const issued = await call(kw.url, 'POST', `/v1/realms/${B}/certificates`, { token, body: { csr: req.pem, policy: 'svc' } });
    expect(issued.status, JSON.stringify(issued.body)).to.equal(201);
    serial = issued.body.serialNumber;
    expect((await keycloakAdmin(`/${B}`, { method: 'DELETE' })).status).to.equal(204);
  });

  describe('a managed realm deleted in Keycloak', () => {
    it('is listed as missing in Keycloak, by the API and by keyward realms list', async () => {
      const list = await call(kw.url, 'GET', '/v1/realms', { token: op });
      expect(list.status, JSON.stringify(list.body)).to.equal(200);
      const byName = Object.fromEntries(list.body.realms.map((r: any) => [r.name, r.status]));
      expect(byName[B]).to.equal('missing in Keycloak');
      expect(byName[A]).to.equal('ok');
      const out = await cli(['realms', 'list'], cliEnv);
      expect(out.status, out.stderr).to.equal(0);
      expect(out.stdout).to.match(new RegExp(`${B}.*missing in Keycloak`));
      const json = await cli(['realms', 'list', '--json'], cliEnv);
      expect(JSON.parse(json.stdout).find((r: any) => r.name === B).status).to.equal('missing in Keycloak');
    });

    it('shows the realm with its status and no roles, instead of failing', async () => {
      const one = await call(kw.url, 'GET', `/v1/realms/${B}`, { token: op });
      expect(one.status, JSON.stringify(one.body)).to.equal(200);
      expect(one.body.status).to.equal('missing in Keycloak');
      expect(one.body.roles).to.deep.equal([]);
    });

    it("keeps the other realms' API clients, whoami and realm-config plan working", async () => {
      const view = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients/${clientId}`, { token: op });
      expect(view.status, JSON.stringify(view.body)).to.equal(200);
      expect(view.body.crossRealmRoles).to.deep.equal([]);
      const list = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients`, { token: op });
      expect(list.status, JSON.stringify(list.body)).to.equal(200);
      const me = await call(kw.url, 'GET', '/v1/whoami', { token });
      expect(me.status, JSON.stringify(me.body)).to.equal(200);
      expect(me.body.roles[B]).to.equal(undefined);
      expect(me.body.roles[A]).to.include('keyward-requester');
      const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', {
        token: op,
        body: { files: [{ name: `${A}.json`, content: { realm: A, apiClients: [{ clientId }] } }] },
      });
      expect(plan.status, JSON.stringify(plan.body)).to.equal(200);
    });

    it('answers 409 realm.missing_in_keycloak for work inside it, naming the way out', async () => {
      const r = await call(kw.url, 'GET', `/v1/realms/${B}/api-clients`, { token: op });
      expect(r.status, JSON.stringify(r.body)).to.equal(409);
      expect(r.body.code).to.equal('realm.missing_in_keycloak');
      expect(r.body.detail).to.include(`PUT /v1/realms/${B}`);
    });

    it('is re-created in Keycloak by PUT, with its roles, and the certificates stay', async () => {
      const put = await call(kw.url, 'PUT', `/v1/realms/${B}`, { token: op, body: {} });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      expect(put.body.status).to.equal('ok');
      expect(put.body.roles).to.include('keyward-requester');
      expect((await keycloakAdmin(`/${B}`)).status).to.equal(200);
      expect(await storedCertificate(serial)).to.equal(B);
    });

    it('stops being managed by DELETE /v1/realms/{realm}, keeping its certificates and audit history', async () => {
      expect((await keycloakAdmin(`/${B}`, { method: 'DELETE' })).status).to.equal(204);
      const denied = await call(kw.url, 'DELETE', `/v1/realms/${B}`, { token });
      expect(denied.status).to.equal(403);
      const refused = await cli(['realms', 'unmanage', B], cliEnv);
      expect(refused.status, 'without a terminal, unmanage needs --yes').to.equal(2);
      expect(refused.stderr).to.include('--yes');
      expect((await call(kw.url, 'GET', `/v1/realms/${B}`, { token: op })).status, 'nothing changed').to.equal(200);
      const del = await cli(['realms', 'unmanage', B, '--yes'], cliEnv);
      expect(del.status, del.stderr).to.equal(0);
      expect(del.stdout).to.include(`realm ${B} is no longer managed`);
      const list = await call(kw.url, 'GET', '/v1/realms', { token: op });
      expect(list.body.realms.map((r: any) => r.name)).to.not.include(B);
      expect((await call(kw.url, 'GET', `/v1/realms/${B}`, { token: op })).status).to.equal(404);
      expect((await call(kw.url, 'DELETE', `/v1/realms/${B}`, { token: op })).status).to.equal(404);
      const events = await call(kw.url, 'GET', `/v1/audit-events?action=realm.unmanaged&target=${B}`, { token: op });
      expect(events.status, JSON.stringify(events.body)).to.equal(200);
      expect(events.body.items).to.have.length(1);
      const history = await call(kw.url, 'GET', `/v1/audit-events?target=${serial}`, { token: op });
      expect(history.body.items.map((e: any) => e.action)).to.include('certificate.issued');
      // Managed again: the CA, its certificates and policies are still there.
      expect((await call(kw.url, 'PUT', `/v1/realms/${B}`, { token: op, body: {} })).status).to.equal(201);
      expect(await storedCertificate(serial)).to.equal(B);
      expect((await call(kw.url, 'GET', `/v1/realms/${B}/policies/svc`, { token: op })).status).to.equal(200);
      const crl = await fetch(`${kw.url}/v1/realms/${B}/crl`);
      expect(crl.status, 'the realm keeps its CA').to.equal(200);
    });
  });

  describe('an API client or a role deleted in Keycloak', () => {
    it('drops a deleted API client from the listing and answers 404 api_client.not_found for it', async () => {
      const c = await call(kw.url, 'POST', `/v1/realms/${A}/api-clients`, { token: op, body: { clientId: 'short-lived' } });
      expect(c.status).to.equal(201);
      const [kc] = (await (await keycloakAdmin(`/${A}/clients?clientId=short-lived`)).json()) as any[];
      expect((await keycloakAdmin(`/${A}/clients/${kc.id}`, { method: 'DELETE' })).status).to.equal(204);
      const list = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients`, { token: op });
      expect(list.status).to.equal(200);
      expect(list.body.items.map((x: any) => x.clientId)).to.not.include('short-lived');
      const one = await call(kw.url, 'GET', `/v1/realms/${A}/api-clients/short-lived`, { token: op });
      expect(one.status).to.equal(404);
      expect(one.body.code).to.equal('api_client.not_found');
    });

    it("keeps working when one of Keyward's roles is deleted, and PUT restores it", async () => {
      expect((await keycloakAdmin(`/${A}/roles/keyward-entity-admin`, { method: 'DELETE' })).status).to.equal(204);
      const view = await call(kw.url, 'GET', `/v1/realms/${A}`, { token: op });
      expect(view.status).to.equal(200);
      expect(view.body.roles).to.not.include('keyward-entity-admin');
      expect((await call(kw.url, 'GET', `/v1/realms/${A}/api-clients/${clientId}`, { token: op })).status).to.equal(200);
      const put = await call(kw.url, 'PUT', `/v1/realms/${A}`, { token: op, body: {} });
      expect(put.status).to.equal(200);
      expect(put.body.roles).to.include('keyward-entity-admin');
    });
  });
});
