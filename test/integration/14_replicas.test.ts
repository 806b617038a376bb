/**
 * Scenario 14 — two `keyward serve` replicas over one PostgreSQL, as in
 * production: concurrent issuance split across them (no duplicate serial,
 * each certificate readable from the other), revocations interleaved on both
 * while CRLs are fetched from both (a CRL with a higher number lists every
 * serial that a lower-numbered one listed, RFC 5280 §5.2.3), and OCSP on one
 * replica saying revoked at once after a revocation on the other.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import pg from 'pg';
import type { Request } from 'express';
import { requestFingerprint } from '../../services/keyward/src/http/idempotency.ts';
import { must, openssl, work, write } from '../support/openssl.ts';
import { call, integrationEnv, unique } from '../support/env.ts';
import { issuingRealm } from '../support/scenario.ts';
import { startReplica, type Replica } from '../support/replica.ts';

/** Runs `task(i)` for i < count with at most `parallel` at once. */
async function pool<T>(count: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

function parseCrl(der: Uint8Array): { number: number; serials: Set<string> } {
  const list = AsnConvert.parse(der, CertificateList);
  const ext = list.tbsCertList.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  const number = AsnConvert.parse(ext!.extnValue.buffer, CRLNumber).value;
  const serials = new Set(
    (list.tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex').replace(/^0+/, '')),
  );
  return { number, serials };
}

describe('14 two replicas', function () {
  this.timeout(600_000);
  let realm: string;
  const dir = work();
  let a: Replica;
  let b: Replica;
  let token: string;
  let csrPem: string;
  let operator: string;
  const issued: Array<{ serialNumber: string; certificate: string; chain: string[]; via: string }> = [];

  before(async () => {
    ({ realm, token, csrPem, operator } = await issuingRealm('replicas', { roles: ['keyward-revoker'] }));
    [a, b] = await Promise.all([startReplica(), startReplica()]);
  });

  after(async () => {
    for (const r of [a, b]) r?.kill('SIGTERM');
    await Promise.all([a?.exited, b?.exited]);
  });

  it('issues concurrently on both without a duplicate serial, each certificate readable from the other', async () => {
    const results = await pool(200, 16, async (i) => {
      const via = i % 2 ? a : b;
      const r = await call(via.url, 'POST', `/v1/realms/${realm}/certificates`, {
        token,
        body: { csr: csrPem, policy: 'svc', validityDays: 1 },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      return { ...r.body, via: via.url };
    });
    issued.push(...results);
    expect(new Set(results.map((r) => r.serialNumber)).size).to.equal(200);
    for (const r of results.slice(0, 20)) {
      const other = r.via === a.url ? b : a;
      const got = await call(other.url, 'GET', `/v1/realms/${realm}/certificates/${r.serialNumber}`, { token });
      expect(got.status, JSON.stringify(got.body)).to.equal(200);
      expect(got.body.certificate).to.equal(r.certificate);
    }
  });

  it('never lets a higher-numbered CRL omit a serial that a lower-numbered one listed, under revocations on both', async () => {
    const crls: Array<{ number: number; serials: Set<string> }> = [];
    let revoking = true;
    const fetcher = async (r: Replica) => {
      while (revoking) {
        const res = await fetch(`${r.url}/v1/realms/${realm}/crl`);
        expect(res.status).to.equal(200);
        crls.push(parseCrl(new Uint8Array(await res.arrayBuffer())));
      }
    };
    const fetchers = [fetcher(a), fetcher(b), fetcher(a), fetcher(b)];
    const victims = issued.slice(20, 190);
    await pool(victims.length, 12, async (i) => {
      const via = i % 2 ? a : b;
      const r = await call(via.url, 'POST', `/v1/realms/${realm}/certificates/${victims[i]!.serialNumber}/revoke`, {
        token,
        body: { reason: 'superseded' },
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
    });
    revoking = false;
    await Promise.all(fetchers);
    for (const r of [a, b]) {
      const res = await fetch(`${r.url}/v1/realms/${realm}/crl`);
      crls.push(parseCrl(new Uint8Array(await res.arrayBuffer())));
    }
    expect(crls.length).to.be.greaterThan(20);
    const byNumber = new Map<number, Set<string>>();
    for (const c of crls) {
      const seen = byNumber.get(c.number);
      if (seen) expect([...c.serials].sort(), `two CRLs numbered ${c.number} differ`).to.deep.equal([...seen].sort());
      else byNumber.set(c.number, c.serials);
    }
    const ordered = [...byNumber.entries()].sort(([x], [y]) => x - y);
    for (let i = 1; i < ordered.length; i++) {
      const [lower, before] = ordered[i - 1]!;
      const [higher, after] = ordered[i]!;
      const omitted = [...before].filter((s) => !after.has(s));
      expect(omitted, `CRL ${higher} omits serials that CRL ${lower} listed`).to.deep.equal([]);
    }
    const last = ordered[ordered.length - 1]![1];
    for (const v of victims) expect(last.has(v.serialNumber.replace(/^0+/, '')), v.serialNumber).to.equal(true);
  });

  it("sees a policy changed on the other replica at once, not after the cache's 5 s", async () => {
    const read = async () => (await call(b.url, 'GET', `/v1/realms/${realm}/policies/svc`, { token: operator })).body.policy;
    const before = await read();
    const tenDays = { csr: csrPem, policy: 'svc', validityDays: 10 };
    const warm = await call(b.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: tenDays }); // b caches the policy
    expect(warm.status, JSON.stringify(warm.body)).to.equal(201);
    const put = await call(a.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: operator, body: { ...before, maxValidityDays: 7 } });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    await new Promise((r) => setTimeout(r, 200)); // the notification's trip through PostgreSQL
    expect((await read()).maxValidityDays).to.equal(7);
    const refused = await call(b.url, 'POST', `/v1/realms/${realm}/certificates`, {
      token,
      body: { csr: csrPem, policy: 'svc', validityDays: 10 },
    });
    expect(refused.status, 'b issues under the new policy').to.equal(422);
    expect(refused.body.code).to.equal('policy.validity_exceeded');
    await call(a.url, 'PUT', `/v1/realms/${realm}/policies/svc`, { token: operator, body: before });
  });

  describe('Idempotency-Key', () => {
    const body = () => ({ csr: csrPem, policy: 'svc', validityDays: 1 });
    const post = (r: Replica, key: string, b: unknown = body()) =>
      call(r.url, 'POST', `/v1/realms/${realm}/certificates`, { token, body: b, headers: { 'idempotency-key': key } });
    async function countCertificates(): Promise<number> {
      const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
      await db.connect();
      try {
        return Number((await db.query('SELECT count(*) AS n FROM certificates WHERE realm = $1', [realm])).rows[0].n);
      } finally {
        await db.end();
      }
    }
    /** The store's row for a key, as a first attempt that died would have left it. */
    async function leaveAttempt(key: string, serial: string, ageSeconds: number) {
      const db = new pg.Client({ connectionString: (await integrationEnv()).databaseUrl });
      await db.connect();
      try {
        const path = `/v1/realms/${realm}/certificates`;
        const hash = requestFingerprint({ method: 'POST', path, query: {}, body: body() } as unknown as Request);
        await db.query(
          `INSERT INTO idempotency_keys (scope, key, request_hash, serial, created_at)
           VALUES ($1, $2, $3, $4, now() - make_interval(secs => $5))`,
          [`${realm}/${realm}/${decodeJwt(token).sub}`, key, hash, serial, ageSeconds],
        );
      } finally {
        await db.end();
      }
    }

    it('answers a retry on either replica with the first answer, and refuses the key for another request', async () => {
      const before = await countCertificates();
      const key = unique('key');
      const first = await post(a, key);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.headers.get('idempotent-replayed')).to.equal(null);
      const retry = await post(b, key);
      expect(retry.status).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      const other = await post(a, key, { ...body(), validityDays: 2 });
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency.key_reused');
      const bad = await post(a, 'has space');
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('idempotency.key_invalid');
      expect(await countCertificates(), 'one certificate for the request and its retries').to.equal(before + 1);
    });

    it('finds the certificate of a first attempt that committed but died before recording its answer', async () => {
      const committed = issued[199]!;
      const key = unique('key');
      await leaveAttempt(key, committed.serialNumber, 1);
      const retry = await post(b, key);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
      expect(retry.body.serialNumber).to.equal(committed.serialNumber);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
    });

    it('answers 409 while a first attempt runs, and issues under its reserved serial once it is abandoned', async () => {
      const running = unique('key');
      await leaveAttempt(running, 'aa'.repeat(16), 1);
      const busy = await post(a, running);
      expect(busy.status).to.equal(409);
      expect(busy.body.code).to.equal('idempotency.in_progress');
      expect(busy.headers.get('retry-after')).to.equal('1');
      const abandoned = unique('key');
      const reserved = '5e'.repeat(16);
      await leaveAttempt(abandoned, reserved, 120);
      const retry = await post(a, abandoned);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(201);
      expect(retry.body.serialNumber).to.equal(reserved);
      expect((await post(b, abandoned)).body.serialNumber).to.equal(reserved);
    });
  });

  it('answers OCSP on one replica with revoked at once after a revocation on the other', async () => {
    const target = issued[195]!;
    const chain = target.chain;
    const certFile = write(dir, 'target.pem', target.certificate);
    const issuerFile = write(dir, 'issuing.pem', chain[0]!);
    const rootFile = write(dir, 'root.pem', chain[chain.length - 1]!);
    // -no_nonce: the same request each time, which a replica may answer from its cache (RFC 6960 §2.2).
    const ask = (r: Replica) =>
      openssl([
        'ocsp',
        '-no_nonce',
        '-issuer',
        issuerFile,
        '-cert',
        certFile,
        '-url',
        `${r.url}/v1/realms/${realm}/ocsp`,
        '-CAfile',
        rootFile,
        '-VAfile',
        issuerFile,
      ]);
    expect((await ask(b)).stdout).to.match(/: good/);
    const revoked = await call(a.url, 'POST', `/v1/realms/${realm}/certificates/${target.serialNumber}/revoke`, {
      token,
      body: { reason: 'keyCompromise' },
    });
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    const answer = await ask(b);
    expect(answer.stdout, answer.stderr).to.match(/: revoked/);
    expect(answer.stdout).to.match(/Reason: keyCompromise/);
    await must(['x509', '-in', certFile, '-noout']);
  });
});
