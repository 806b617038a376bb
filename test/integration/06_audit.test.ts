/**
 * Scenario 06 — the audit trail's hash chain on a real PostgreSQL, with the
 * interleavings of concurrent writers: an event's seq is drawn when it is
 * inserted, but it becomes visible when its transaction commits, so the
 * sealer can link a higher seq before a lower one. The chain follows the
 * order of sealing; verification follows the links, and any edit, deletion
 * or fork of a sealed event is reported.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AuditLog, type AuditEvent } from '../../services/keyward/src/audit/audit_log.ts';
import { systemClock } from '../../services/keyward/src/kernel/clock.ts';
import { migrate, openDatabase, type Database } from '../../services/keyward/src/storage/database.ts';
import { testDatabase, type TestDatabase } from '../../services/keyward/src/devenv/index.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));
const event = (target: string): AuditEvent => ({ action: 'test.recorded', actor: { kind: 'system', id: 'test' }, realm: 'audit-test', target, details: { n: target } });

describe('06 audit chain', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let db: Database;
  const audit = new AuditLog(systemClock);

  before(async () => {
    database = await testDatabase();
    db = openDatabase(database.url, { max: 12 });
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    await database?.drop();
  });

  /** `keyward audit verify` against the test database, as an operator runs it. */
  const cli = (args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(BIN, ['audit', ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, KEYWARD_DATABASE_URL: database.url, KEYWARD_LOG_LEVEL: 'error' }, encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }));
  });
  const seqOf = async (target: string) => (await db.query<{ seq: string }>('SELECT seq FROM audit_events WHERE target = $1', [target])).rows[0]!.seq;
  const unsealed = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events WHERE hash IS NULL')).rows[0]!.n);

  it('stays valid when an event with a lower seq commits after a higher one was sealed', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const started = new Promise<void>((r) => (inserted = r));
    const slow = db.tx(async (q) => {
      await audit.record(q, event('late'));
      inserted();
      await held; // still uncommitted while the next event commits and is sealed
    });
    await started;
    await db.tx((q) => audit.record(q, event('early')));
    expect(await audit.seal(db)).to.be.greaterThan(0);
    release();
    await slow;
    expect(Number(await seqOf('late'))).to.be.lessThan(Number(await seqOf('early')));
    expect(await audit.seal(db)).to.equal(1);
    await db.tx((q) => audit.record(q, event('after')));
    expect(await audit.seal(db)).to.equal(1);
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('stays valid under many writers committing out of order while sealers run', async () => {
    const writers = Array.from({ length: 40 }, (_, i) => db.tx(async (q) => {
      await audit.record(q, event(`burst-${i}-a`));
      await new Promise((r) => setTimeout(r, (i * 7) % 23));
      await audit.record(q, event(`burst-${i}-b`));
    }));
    const sealing = (async () => {
      for (let i = 0; i < 12; i++) {
        await Promise.all([audit.seal(db), audit.seal(db)]); // two replicas' sealers: the advisory lock lets one through
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    await Promise.all([...writers, sealing]);
    await audit.seal(db);
    expect(await unsealed()).to.equal(0);
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('reports an edited sealed event by its seq', async () => {
    await db.tx((q) => audit.record(q, event('edited')));
    await audit.seal(db);
    const seq = await seqOf('edited');
    await db.query(`UPDATE audit_events SET details = '{"n":"forged"}' WHERE seq = $1`, [seq]);
    expect(await audit.verify(db)).to.equal(seq);
    const broken = await cli(['verify']);
    expect(broken.status, broken.stdout + broken.stderr).to.equal(1);
    expect(broken.stderr).to.contain(`BROKEN at event seq ${seq}`);
    await db.query(`UPDATE audit_events SET details = '{"n":"edited"}' WHERE seq = $1`, [seq]);
    expect(await audit.verify(db)).to.equal(undefined);
    await db.tx((q) => audit.record(q, event('unsealed')));
    const whole = await cli(['verify']);
    expect(whole.status, whole.stdout + whole.stderr).to.equal(0);
    expect(whole.stdout).to.match(/The audit chain is whole: \d+ sealed event\(s\), 1 not yet sealed/);
    const sealed = await cli(['verify', '--seal']);
    expect(sealed.stdout).to.contain('Sealed 1 event(s)').and.to.match(/whole: \d+ sealed event\(s\), 0 not yet sealed/);
    expect((await cli(['check'])).status).to.not.equal(0);
  });

  it('reports a deleted sealed event, in the middle of the chain or at its end', async () => {
    for (const t of ['d1', 'd2', 'd3']) await db.tx((q) => audit.record(q, event(t)));
    await audit.seal(db);
    const middle = (await db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE target = $1', ['d2'])).rows[0]!;
    await db.query('DELETE FROM audit_events WHERE seq = $1', [middle.seq]);
    expect(await audit.verify(db)).to.equal(await seqOf('d3'));
    const last = (await db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE target = $1', ['d3'])).rows[0]!;
    await db.query('DELETE FROM audit_events WHERE seq = $1', [last.seq]);
    expect(await audit.verify(db)).to.equal('head');
    // Put both back as they were: the chain is whole again.
    for (const row of [middle, last]) {
      await db.query('INSERT INTO audit_events (seq, id, at, realm, actor, action, target, details, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
        [row.seq, row.id, row.at, row.realm, JSON.stringify(row.actor), row.action, row.target, JSON.stringify(row.details), row.prev_hash, row.hash]);
    }
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('reports a fork: two sealed events linked to the same predecessor', async () => {
    await db.tx((q) => audit.record(q, event('f1')));
    await audit.seal(db);
    const f1 = (await db.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_events WHERE target = $1', ['f1'])).rows[0]!;
    await db.tx((q) => audit.record(q, event('f2')));
    await db.query('UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE target = $3', [f1.prev_hash, 'x'.repeat(64), 'f2']);
    expect(await audit.verify(db)).to.equal(await seqOf('f2'));
  });
});
