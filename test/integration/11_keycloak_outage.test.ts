/**
 * Scenario 11 — Keycloak unreachable. Keyward reaches the real Keycloak
 * through a loopback relay (KEYWARD_KEYCLOAK_URL), while tokens keep naming
 * Keycloak's own address (KEYWARD_KEYCLOAK_ISSUER_URL), as in a cluster where
 * Keyward uses an internal address. Stopping the relay makes Keycloak look
 * stopped to Keyward alone: the test itself still reaches Keycloak to get
 * tokens and to change roles "in the console" during the outage.
 */
import { expect } from 'chai';
import { call, integrationEnv, keycloakAdmin, startKeyward, unique, type RunningKeyward } from '../support/env.ts';
import { issuingRealm } from '../support/scenario.ts';
import { startRelay, type TcpRelay } from '../support/tcp_proxy.ts';

/** Keyward's timeout of one call to Keycloak in this scenario. */
const TIMEOUT_MS = 1500;
/** KEYWARD_ROLE_CACHE_SECONDS=1 in tests. */
const CACHE_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('11 Keycloak outage', function () {
  this.timeout(600_000);
  let relay: TcpRelay;
  let kw: RunningKeyward;
  let op: string;
  let token: string;
  let csrPem: string;
  let realm: string;
  let clientId: string;

  before(async () => {
    // Provisioning (realm creation takes Keycloak seconds) through a Keyward with the usual timeout and address.
    ({ realm, clientId, token, csrPem, operator: op } = await issuingRealm('outage'));
    const env = await integrationEnv();
    relay = await startRelay(env.keycloakUrl);
    kw = await startKeyward({
      KEYWARD_KEYCLOAK_URL: relay.url,
      KEYWARD_KEYCLOAK_ISSUER_URL: env.keycloakUrl,
      KEYWARD_KEYCLOAK_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });

  after(async () => {
    relay?.resume();
    await relay?.close();
  });

  const issue = async () => {
    const started = Date.now();
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token,
      body: { csr: csrPem, policy: 'svc', validityDays: 1 },
    });
    return { ...r, ms: Date.now() - started };
  };

  it('keeps issuing with a valid token while Keycloak is stopped, well past the role cache time', async () => {
    expect((await issue()).status).to.equal(201);
    relay.stop();
    const until = Date.now() + 4 * CACHE_MS;
    let issued = 0;
    while (Date.now() < until) {
      const r = await issue();
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.ms, 'never longer than one Keycloak timeout').to.be.below(TIMEOUT_MS + 2000);
      issued++;
      await sleep(300);
    }
    expect(issued).to.be.greaterThan(3);
  });

  it('answers 503 keycloak.unavailable with Retry-After, within the timeout, for what needs Keycloak now', async () => {
    const started = Date.now();
    const r = await call(kw.url, 'POST', `/v1/realms/${realm}/api-clients`, { token: op, body: { clientId: unique('new') } });
    expect(r.status, JSON.stringify(r.body)).to.equal(503);
    expect(r.body.code).to.equal('keycloak.unavailable');
    expect(r.headers.get('retry-after')).to.match(/^\d+$/);
    expect(Date.now() - started).to.be.below(3 * TIMEOUT_MS + 2000);
  });

  it('says so in /readyz, which a probe may tell to ignore Keycloak, and in /metrics', async () => {
    const ready = await call(kw.url, 'GET', '/readyz');
    expect(ready.status).to.equal(503);
    expect(ready.body.checks.keycloak).to.include({ status: 'down', graceSeconds: 300, servingLastKnownRoles: true });
    expect(ready.body.checks.store.status).to.equal('up');
    const probe = await call(kw.url, 'GET', '/readyz?ignore=keycloak');
    expect(probe.status).to.equal(200);
    expect(probe.body.checks.keycloak.status).to.equal('down');
    const bad = await call(kw.url, 'GET', '/readyz?ignore=everything');
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('request.malformed');
    const metrics = await (await fetch(`${kw.url}/metrics`)).text();
    expect(Number(/keyward_keycloak_grace_answers (\d+)/.exec(metrics)?.[1])).to.be.greaterThan(0);
    expect(metrics).to.match(/keyward_keycloak_degraded 1/);
  });

  it('sees a role removed during the outage within the cache time once Keycloak is back', async () => {
    const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=${clientId}`)).json()) as Array<{ id: string }>;
    const sa = (await (await keycloakAdmin(`/${realm}/clients/${c!.id}/service-account-user`)).json()) as { id: string };
    const role = await (await keycloakAdmin(`/${realm}/roles/keyward-requester`)).json();
    const del = await keycloakAdmin(`/${realm}/users/${sa.id}/role-mappings/realm`, { method: 'DELETE', body: JSON.stringify([role]) });
    expect(del.status).to.equal(204);
    expect((await issue()).status, 'still the last known roles while Keycloak is unreachable').to.equal(201);
    relay.resume();
    await sleep(CACHE_MS + 200);
    const r = await issue();
    expect(r.status, JSON.stringify(r.body)).to.equal(403);
    expect(r.body.code).to.equal('auth.forbidden');
    const ready = await call(kw.url, 'GET', '/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body.checks.keycloak.servingLastKnownRoles).to.equal(false);
  });
});
