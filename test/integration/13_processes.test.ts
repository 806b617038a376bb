/**
 * Scenario 13 — what happens to a Keyward process: `keyward serve` replicas
 * as real processes over the run's PostgreSQL and Keycloak, stopped with
 * SIGTERM under load (every accepted request is answered, then the process
 * exits) and killed with SIGKILL under load (every certificate a client was
 * answered 201 for is stored, byte for byte, and served by the next replica).
 */
import { Agent, request } from 'node:http';
import { expect } from 'chai';
import pg from 'pg';
import { call, integrationEnv } from '../support/env.ts';
import { issuingRealm } from '../support/scenario.ts';
import { startReplica } from '../support/replica.ts';

/** One POST over its own connection: the status and body, or the network error's code. */
function post(url: string, path: string, token: string, body: unknown): Promise<{ status: number; body: any } | { error: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      `${url}${path}`,
      {
        method: 'POST',
        agent: new Agent({ keepAlive: false }),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(data);
  });
}

describe('13 Keyward processes', function () {
  this.timeout(600_000);
  let realm: string;
  let token: string;
  let csrPem: string;
  const issue = (url: string) => post(url, `/v1/realms/${realm}/certificates`, token, { csr: csrPem, policy: 'svc', validityDays: 1 });

  before(async () => {
    ({ realm, token, csrPem } = await issuingRealm('proc'));
  });

  it('answers every request it accepted when stopped with SIGTERM under load, refuses new ones, and exits 0 in time', async () => {
    const replica = await startReplica();
    const warm = await issue(replica.url); // warm: CA, roles, keys
    expect('status' in warm && warm.status, JSON.stringify(warm)).to.equal(201);
    const inFlight = Array.from({ length: 24 }, () => issue(replica.url));
    await new Promise((r) => setTimeout(r, 30)); // sent, and accepted by the listener
    const signalled = Date.now();
    replica.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    const exit = await replica.exited;
    expect(exit.code, replica.stderr()).to.equal(0);
    expect(exit.at - signalled, 'within the documented 10 s').to.be.below(12_000);
    const statuses = answers.map((a) => ('status' in a ? a.status : a.error));
    // A request is either answered in full, or was never accepted (the connection refused after the listener closed).
    expect(
      statuses.filter((s) => s !== 201 && s !== 'ECONNREFUSED'),
      JSON.stringify(statuses),
    ).to.deep.equal([]);
    expect(statuses.filter((s) => s === 201).length, 'the requests sent before the signal were answered').to.be.greaterThan(0);
    const after = await issue(replica.url);
    expect('error' in after && after.error).to.equal('ECONNREFUSED');
  });

  it('loses no certificate answered 201 when killed with SIGKILL under load, and the next replica serves each one', async () => {
    const replica = await startReplica();
    const answered: Array<{ serialNumber: string; certificate: string }> = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const r = await issue(replica.url);
        if ('status' in r && r.status === 201) answered.push(r.body);
        else if ('error' in r) return; // the process is gone
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    while (answered.length < 40) await new Promise((r) => setTimeout(r, 20));
    replica.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    expect((await replica.exited).signal).to.equal('SIGKILL');
    expect(answered.length).to.be.at.least(40);

    const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
    await db.connect();
    try {
      const rows = (
        await db.query<{ serial: string; der: Buffer }>('SELECT serial, der FROM certificates WHERE serial = ANY($1)', [
          answered.map((a) => a.serialNumber),
        ])
      ).rows;
      const stored = new Map(rows.map((r) => [r.serial, r.der.toString('base64')]));
      for (const a of answered) {
        const b64 = a.certificate.replace(/-----[A-Z ]+-----|\s+/g, '');
        expect(stored.get(a.serialNumber), `certificate ${a.serialNumber}`).to.equal(b64);
      }
    } finally {
      await db.end();
    }
    const next = await startReplica();
    try {
      for (const a of answered.slice(0, 10)) {
        const r = await call(next.url, 'GET', `/v1/realms/${realm}/certificates/${a.serialNumber}`, { token });
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        expect(r.body.certificate).to.equal(a.certificate);
      }
    } finally {
      next.kill('SIGTERM');
      await next.exited;
    }
  });
});
