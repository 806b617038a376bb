/**
 * Scenario 03 — realm configuration as code against the real Keycloak:
 * apply twice changes nothing, console drift shows in the plan, prune touches
 * only what realm-config owns, secrets come from the environment.
 */
import { expect } from 'chai';
import { keyward } from '../support/cli.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const POLICY = {
  keyTypes: ['EC-P256'],
  maxValidityDays: 30,
  subject: { required: ['CN'], allowed: ['CN'] },
  san: { dns: ['*.cfg.internal'], ip: [], uri: [], email: [] },
  keyUsage: ['digitalSignature'],
  extendedKeyUsage: ['clientAuth'],
  approval: 'none',
};

describe('03 realm config as code', function () {
  this.timeout(600_000);
  let kw: RunningKeyward;
  let op: string;
  const realm = unique('cfg');
  const other = unique('cfgb');
  const files = () => [
    {
      name: `${realm}.json`,
      content: {
        realm,
        displayName: 'Config realm',
        defaultRoles: ['keyward-requester'],
        policies: { svc: POLICY },
        apiClients: [
          { clientId: 'cfg-app', description: 'from config', roles: ['keyward-revoker'], defaultPolicy: { realm, name: 'svc' } },
          { clientId: 'cfg-fixed', secretFromEnv: 'CFG_FIXED_SECRET' },
        ],
      },
    },
    {
      name: `${other}.json`,
      content: {
        realm: other,
        apiClients: [
          { clientId: 'cfg-peer', crossRealmRoles: [{ realm, role: 'keyward-requester' }], defaultPolicy: { realm, name: 'svc' } },
        ],
      },
    },
  ];
  const secrets = { [`${realm}/cfg-fixed`]: 'a-secret-from-the-environment-0123' };

  before(async () => {
    kw = await startKeyward();
    op = await operatorToken();
  });

  it('plans the creation of everything declared, then applies it', async () => {
    const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: files() } });
    expect(plan.status, JSON.stringify(plan.body)).to.equal(200);
    const summary = plan.body.changes.map((c: any) => `${c.action} ${c.kind} ${c.id}`);
    expect(summary).to.include.members([
      `create realm ${realm}`,
      `create realm ${other}`,
      'create policy svc',
      'create api_client cfg-app',
      'create api_client cfg-fixed',
      'create api_client cfg-peer',
    ]);
    const applied = await call(kw.url, 'POST', '/v1/realm-config/apply', { token: op, body: { files: files(), secrets } });
    expect(applied.status, JSON.stringify(applied.body)).to.equal(200);
    expect(applied.body.generatedSecrets.map((s: any) => s.clientId).sort()).to.deep.equal(['cfg-app', 'cfg-peer']);
    await clientToken(realm, 'cfg-fixed', secrets[`${realm}/cfg-fixed`]!);
    const peer = applied.body.generatedSecrets.find((s: any) => s.clientId === 'cfg-peer');
    const me = await call(kw.url, 'GET', '/v1/whoami', { token: await clientToken(other, 'cfg-peer', peer.secret) });
    expect(me.body.roles[realm]).to.deep.equal(['keyward-requester']);
  });

  it('changes nothing when applied a second time (the plan is empty)', async () => {
    const again = await call(kw.url, 'POST', '/v1/realm-config/apply', { token: op, body: { files: files(), secrets } });
    expect(again.body.changes).to.deep.equal([]);
    const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: files() } });
    expect(plan.body.changes).to.deep.equal([]);
  });

  it('shows drift made in the Keycloak console, and apply repairs it', async () => {
    const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=cfg-app`)).json()) as any[];
    const sa = (await (await keycloakAdmin(`/${realm}/clients/${c.id}/service-account-user`)).json()) as any;
    const role = await (await keycloakAdmin(`/${realm}/roles/keyward-revoker`)).json();
    expect(
      (await keycloakAdmin(`/${realm}/users/${sa.id}/role-mappings/realm`, { method: 'DELETE', body: JSON.stringify([role]) })).status,
    ).to.equal(204);
    const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: files() } });
    expect(plan.body.changes).to.have.length(1);
    expect(plan.body.changes[0]).to.deep.include({ action: 'update', kind: 'api_client', id: 'cfg-app' });
    expect(plan.body.changes[0].fields.roles).to.deep.equal([[], ['keyward-revoker']]);
    await call(kw.url, 'POST', '/v1/realm-config/apply', { token: op, body: { files: files(), secrets } });
    expect((await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: files() } })).body.changes).to.deep.equal([]);
  });

  it('prunes only what realm-config created, and reports the rest as unmanaged', async () => {
    const byApi = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: 'made-by-api' } });
    expect(byApi.status).to.equal(201);
    const trimmed = files();
    (trimmed[0]!.content as any).apiClients = [(trimmed[0]!.content as any).apiClients[0]];
    const plan = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: trimmed, prune: true } });
    expect(plan.body.changes.map((c: any) => `${c.action} ${c.id}`)).to.deep.equal(['delete cfg-fixed']);
    expect(plan.body.unmanaged.map((u: any) => u.id)).to.deep.equal(['made-by-api']);
    await call(kw.url, 'POST', '/v1/realm-config/apply', { token: op, body: { files: trimmed, prune: true } });
    expect(await (await keycloakAdmin(`/${realm}/clients?clientId=cfg-fixed`)).json()).to.have.length(0);
    expect(await (await keycloakAdmin(`/${realm}/clients?clientId=made-by-api`)).json()).to.have.length(1);
  });

  it('refuses an invalid file with 400 realm_config.invalid naming the file and the path', async () => {
    const bad = [{ name: 'broken.json', content: { realm, apiClients: [{ clientId: 'x', secret: 'inline secrets are refused' }] } }];
    const r = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: op, body: { files: bad } });
    expect(r.status).to.equal(400);
    expect(r.body.code).to.equal('realm_config.invalid');
    expect(r.body.file).to.equal('broken.json');
    expect(r.body.path).to.equal('/apiClients/0/secret');
  });

  it('refuses non-operators with 403', async () => {
    const made = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: unique('nonop') } });
    const t = await clientToken(realm, made.body.clientId, made.body.secret);
    const r = await call(kw.url, 'POST', '/v1/realm-config/plan', { token: t, body: { files: files() } });
    expect(r.status).to.equal(403);
  });

  it('works from the command line, with --check failing on drift', async () => {
    const env = await integrationEnv();
    const dir = mkdtempSync(join(tmpdir(), 'keyward-cfg-'));
    const third = unique('cli');
    writeFileSync(join(dir, 'realm.json'), JSON.stringify({ realm: third, policies: { svc: POLICY } }));
    const cliEnv = {
      ...process.env,
      KEYWARD_URL: kw.url,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_CLIENT_ID: env.operator.clientId,
      KEYWARD_CLIENT_SECRET: env.operator.clientSecret,
    };
    const plan = await cli(['realm-config', 'plan', dir, '--check'], cliEnv);
    expect(plan.status, plan.stderr).to.equal(1);
    expect(plan.stdout, plan.stderr).to.contain(`+ realm ${third}`);
    const apply = await cli(['realm-config', 'apply', dir], cliEnv);
    expect(apply.status, apply.stderr).to.equal(0);
    const clean = await cli(['realm-config', 'plan', dir, '--check'], cliEnv);
    expect(clean.status, clean.stderr + clean.stdout).to.equal(0);
    expect(clean.stdout).to.contain('No changes');
    const list = await cli(['policies', 'list', '--realm', third], cliEnv);
    expect(list.stdout).to.match(/^svc\s+EC-P256/m);
  });
});
