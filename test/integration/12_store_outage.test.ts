/**
 * Scenario 12 — PostgreSQL unreachable under a running Keyward. Keyward
 * reaches the real PostgreSQL through a loopback relay; stopping the relay
 * makes the database look stopped to this Keyward alone (open connections
 * cut, new ones unanswered), as a database restart or a network cut would.
 * Requests must fail fast with 503 and work again, without a restart, once
 * the database is back.
 */
import { expect } from 'chai';
import { call, integrationEnv, startKeyward, type RunningKeyward } from '../support/env.ts';
import { issuingRealm } from '../support/scenario.ts';
import { startRelay, type TcpRelay } from '../support/tcp_proxy.ts';

const TIMEOUT_MS = 2000;

describe('12 PostgreSQL outage', function () {
  this.timeout(600_000);
  let relay: TcpRelay;
  let kw: RunningKeyward;
  let token: string;
  let csrPem: string;
  let realm: string;

  before(async () => {
    ({ realm, token, csrPem } = await issuingRealm('store'));

    const db = new URL((await integrationEnv()).databaseUrl);
    relay = await startRelay(`http://${db.hostname}:${db.port || 5432}`);
    const relayed = new URL(db.toString());
    relayed.hostname = '127.0.0.1';
    relayed.port = new URL(relay.url).port;
    kw = await startKeyward({ KEYWARD_DATABASE_URL: relayed.toString(), KEYWARD_DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) });
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

  it('issues while the database answers', async () => {
    const r = await issue();
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
  });

  it('answers 503 store.unavailable with Retry-After within 5 s while the database is unreachable, and /readyz names it', async () => {
    relay.stop();
    for (let i = 0; i < 3; i++) {
      const r = await issue();
      expect(r.status, JSON.stringify(r.body)).to.equal(503);
      expect(r.body.code).to.equal('store.unavailable');
      expect(r.headers.get('retry-after')).to.match(/^\d+$/);
      expect(r.ms).to.be.below(5000);
    }
    const ready = await call(kw.url, 'GET', '/readyz?ignore=keycloak');
    expect(ready.status).to.equal(503);
    expect(ready.body.checks.store.status).to.equal('down');
    expect((await call(kw.url, 'GET', '/healthz')).status, 'the process itself is alive').to.equal(200);
  });

  it('works again within 10 s of the database coming back, without a restart', async () => {
    relay.resume();
    const back = Date.now();
    let last: Awaited<ReturnType<typeof issue>> | undefined;
    while (Date.now() - back < 10_000) {
      last = await issue();
      if (last.status === 201) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(last?.status, JSON.stringify(last?.body)).to.equal(201);
    expect((await call(kw.url, 'GET', '/readyz?ignore=keycloak')).status).to.equal(200);
  });
});
