/**
 * Scenario 06 — the audit trail's hash chain on a real PostgreSQL, with the
 * interleavings of concurrent writers: an event's seq is drawn when it is
 * inserted, but it becomes visible when its transaction commits, so the
 * sealer can link a higher seq before a lower one. The chain follows the
 * sealer seals a range only once every transaction that could still commit
 * an event in it has ended, and records it in one seal row (events are never
 * rewritten); verification names any edited, deleted or added event.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AuditEventInput as AuditEvent } from '../../services/keyward/src/audit/event.ts';
import { AuditLog } from '../../services/keyward/src/storage/audit_log.ts';
import { systemClock } from '../../services/keyward/src/kernel/clock.ts';
import { migrate, openDatabase, type Database } from '../../services/keyward/src/storage/database.ts';
import { testDatabase, type TestDatabase } from '../../services/keyward/src/devenv/index.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));
const event = (target: string): AuditEvent => ({
  action: 'test.recorded',
  actor: { kind: 'system', id: 'test' },
  realm: 'audit-test',
  target,
  details: { n: target },
});

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
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        BIN,
        ['audit', ...args],
        {
          env: { PATH: process.env.PATH, HOME: process.env.HOME, KEYWARD_DATABASE_URL: database.url, KEYWARD_LOG_LEVEL: 'error' },
          encoding: 'utf8',
          timeout: 60_000,
        },
        (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
      );
    });
  const seqOf = async (target: string) =>
    (await db.query<{ seq: string }>('SELECT seq FROM audit_events WHERE target = $1', [target])).rows[0]!.seq;
  const unsealed = async () => (await audit.status(db)).unsealed;

  it('seals no range an uncommitted event may still join, and then seals it in seq order', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const started = new Promise<void>((r) => (inserted = r));
    const slow = db.tx(async (q) => {
      await audit.record(q, event('late'));
      inserted();
      await held; // still uncommitted while the next event commits
    });
    await started;
    await db.tx((q) => audit.record(q, event('early')));
    expect(await audit.seal(db)).to.equal(0); // 'early' is committed, but 'late' (a lower seq) may still commit
    release();
    await slow;
    expect(Number(await seqOf('late'))).to.be.lessThan(Number(await seqOf('early')));
    expect(await audit.seal(db)).to.equal(2);
    const seal = (await db.query<{ seqs: string[] }>('SELECT seqs FROM audit_seals ORDER BY last_seq DESC LIMIT 1')).rows[0]!;
    expect(seal.seqs).to.deep.equal([await seqOf('late'), await seqOf('early')]);
    await db.tx((q) => audit.record(q, event('after')));
    const version = async () =>
      (await db.query<{ v: string }>("SELECT xmin::text AS v FROM audit_events WHERE target = 'after'")).rows[0]!.v;
    const before = await version();
    expect(await audit.seal(db)).to.equal(1);
    expect(await version()).to.equal(before); // sealing never rewrites an event
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('under steady writers, seals up to a horizon read earlier once its own writers have ended', async () => {
    const holder = (target: string) => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let inserted!: () => void;
      const started = new Promise<void>((r) => (inserted = r));
      const done = db.tx(async (q) => {
        await audit.record(q, event(target));
        inserted();
        await held;
      });
      return {
        started,
        release: async () => {
          release();
          await done;
        },
      };
    };
    const a = holder('steady-a');
    await a.started;
    expect(await audit.seal(db)).to.equal(0); // a's horizon is kept, waiting for a
    await a.release();
    const b = holder('steady-b');
    await b.started;
    expect(await audit.seal(db)).to.equal(1); // the fresh horizon waits for b; a's is settled
    const sealed = (await db.query<{ seqs: string[] }>('SELECT seqs FROM audit_seals ORDER BY last_seq DESC LIMIT 1')).rows[0]!.seqs;
    expect(sealed).to.deep.equal([await seqOf('steady-a')]);
    await b.release();
    expect(await audit.seal(db)).to.equal(1);
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('stays valid under many writers committing out of order while sealers run', async () => {
    const writers = Array.from({ length: 40 }, (_, i) =>
      db.tx(async (q) => {
        await audit.record(q, event(`burst-${i}-a`));
        await new Promise((r) => setTimeout(r, (i * 7) % 23));
        await audit.record(q, event(`burst-${i}-b`));
      }),
    );
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
    expect(whole.stdout).to.match(/The audit chain is whole: \d+ sealed event\(s\), 1 not yet sealed; head [0-9a-f]{64}/);
    const head = /head ([0-9a-f]{64})/.exec(whole.stdout)![1]!;
    expect((await cli(['verify', '--head', head])).status).to.equal(0);
    const elsewhere = await cli(['verify', '--head', 'ab'.repeat(32)]);
    expect(elsewhere.status).to.equal(1);
    expect(elsewhere.stderr).to.contain('does NOT pass through head');
    expect((await cli(['verify', '--head', 'nope'])).status).to.equal(2);
    const sealed = await cli(['verify', '--seal']);
    expect(sealed.stdout)
      .to.contain('Sealed 1 event(s)')
      .and.to.match(/whole: \d+ sealed event\(s\), 0 not yet sealed/);
    expect((await cli(['check'])).status).to.not.equal(0);
  });

  it('reports a deleted sealed event, in the middle of a seal or at its end', async () => {
    for (const t of ['d1', 'd2', 'd3']) await db.tx((q) => audit.record(q, event(t)));
    await audit.seal(db);
    const row = async (t: string) =>
      (await db.query<Record<string, unknown>>('SELECT * FROM audit_events WHERE target = $1', [t])).rows[0]!;
    const middle = await row('d2');
    const last = await row('d3');
    await db.query('DELETE FROM audit_events WHERE seq = $1', [middle.seq]);
    expect(await audit.verify(db)).to.equal(middle.seq);
    await db.query('DELETE FROM audit_events WHERE seq = $1', [last.seq]);
    expect(await audit.verify(db)).to.equal(middle.seq);
    // Put both back as they were: the chain is whole again.
    for (const r of [middle, last]) {
      await db.query('INSERT INTO audit_events (seq, id, at, realm, actor, action, target, details) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
        r.seq,
        r.id,
        r.at,
        r.realm,
        JSON.stringify(r.actor),
        r.action,
        r.target,
        JSON.stringify(r.details),
      ]);
    }
    expect(await audit.verify(db)).to.equal(undefined);
    await db.query('DELETE FROM audit_events WHERE seq = $1', [last.seq]);
    expect(await audit.verify(db)).to.equal(last.seq);
    await db.query('INSERT INTO audit_events (seq, id, at, realm, actor, action, target, details) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)', [
      last.seq,
      last.id,
      last.at,
      last.realm,
      JSON.stringify(last.actor),
      last.action,
      last.target,
      JSON.stringify(last.details),
    ]);
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('seals across the seqs of rolled-back transactions, and reports an event added in such a gap', async () => {
    await db.tx((q) => audit.record(q, event('g1')));
    const lost = await db
      .tx(async (q) => {
        await audit.record(q, event('rolled-back'));
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    expect(lost).to.equal('rolled back');
    await db.tx((q) => audit.record(q, event('g2')));
    expect(await audit.seal(db)).to.equal(2);
    expect(await audit.verify(db)).to.equal(undefined);
    const gap = String(Number(await seqOf('g1')) + 1);
    expect(Number(gap)).to.be.lessThan(Number(await seqOf('g2')));
    await db.query(
      'INSERT INTO audit_events (seq, id, at, realm, actor, action, target)' +
        ` VALUES ($1, gen_random_uuid(), now(), 'audit-test', '{"kind":"user","id":"x"}', 'certificate.revoked', 'forged')`,
      [gap],
    );
    expect(await audit.verify(db)).to.equal(gap);
    await db.query('DELETE FROM audit_events WHERE seq = $1', [gap]);
    expect(await audit.verify(db)).to.equal(undefined);
  });

  it('reports a seal whose link to the one before was cut', async () => {
    await db.tx((q) => audit.record(q, event('s1')));
    await audit.seal(db);
    const first = (
      await db.query<{ last_seq: string; seqs: string[]; prev_hash: string }>(
        'SELECT last_seq, seqs, prev_hash FROM audit_seals ORDER BY last_seq LIMIT 1',
      )
    ).rows[0]!;
    await db.query("UPDATE audit_seals SET prev_hash = 'rewritten' WHERE last_seq = $1", [first.last_seq]);
    expect(await audit.verify(db)).to.equal(first.seqs[0]);
    await db.query('UPDATE audit_seals SET prev_hash = $1 WHERE last_seq = $2', [first.prev_hash, first.last_seq]);
    expect(await audit.verify(db)).to.equal(undefined);
  });
});
