/**
 * Scenario 15 — periodic work on one replica at a time: leases in the run's
 * PostgreSQL, held by one holder, taken over when the holder dies (stops
 * renewing) or stalls (its monotonic clock runs on, its renewals do not), and
 * handed over at once on a clean stop.
 */
import { expect } from 'chai';
import { openDatabase, type Database } from '../../services/keyward/src/storage/database.ts';
import { LeaderLease } from '../../services/keyward/src/storage/leader_lease.ts';
import { integrationEnv, startKeyward, unique } from '../support/env.ts';

describe('15 leadership of periodic work', function () {
  this.timeout(120_000);
  let db: Database;

  before(async () => {
    await startKeyward(); // migrations
    db = openDatabase((await integrationEnv()).databaseUrl);
  });
  after(async () => {
    await db?.close();
  });

  /** A replica's lease on `name`, with a monotonic clock the test moves. */
  const replica = (name: string, holder: string) => {
    const clock = { ms: 0 };
    return { clock, lease: new LeaderLease(db, { name, seconds: 2, holder, now: () => clock.ms }) };
  };
  const holderOf = async (name: string) =>
    (await db.query<{ holder: string }>('SELECT holder FROM leader_leases WHERE name = $1', [name])).rows[0]?.holder;

  it('gives each task to exactly one of several replicas racing for it', async () => {
    const name = unique('task');
    const replicas = Array.from({ length: 5 }, (_, i) => replica(name, `r${i}`));
    const won = await Promise.all(replicas.map((r) => r.lease.renew()));
    expect(won.filter(Boolean)).to.have.length(1);
    expect(replicas.filter((r) => r.lease.isLeader)).to.have.length(1);
    expect(await holderOf(name)).to.equal(replicas[won.indexOf(true)]!.lease.holder);
    expect(await replicas[won.indexOf(true)]!.lease.renew(), 'the holder renews').to.equal(true);
  });

  it('lets another replica take over once the holder has stopped renewing for the lease time', async () => {
    const name = unique('task');
    const a = replica(name, 'a');
    const b = replica(name, 'b');
    expect(await a.lease.renew()).to.equal(true);
    expect(await b.lease.renew(), 'not while the lease runs').to.equal(false);
    await new Promise((r) => setTimeout(r, 2200)); // a is gone: no renewal for longer than the 2 s lease
    expect(await b.lease.renew()).to.equal(true);
    expect(await holderOf(name)).to.equal('b');
  });

  it('does no work on a replica that wakes from a stall, until it has renewed, and by then the task is elsewhere', async () => {
    const name = unique('task');
    const a = replica(name, 'a');
    const b = replica(name, 'b');
    expect(await a.lease.renew()).to.equal(true);
    let worked = 0;
    await a.lease.whenLeader(async () => worked++);
    expect(worked).to.equal(1);
    a.clock.ms += 60_000; // a stalled for a minute: its monotonic clock ran on
    await new Promise((r) => setTimeout(r, 2200));
    expect(await b.lease.renew()).to.equal(true);
    await a.lease.whenLeader(async () => worked++);
    expect(worked, 'the woken replica does nothing on its stale lease').to.equal(1);
    expect(await a.lease.renew()).to.equal(false);
    expect(a.lease.isLeader).to.equal(false);
  });

  it('hands the task over at once on a clean stop', async () => {
    const name = unique('task');
    const a = replica(name, 'a');
    const b = replica(name, 'b');
    expect(await a.lease.renew()).to.equal(true);
    await a.lease.stop();
    expect(await holderOf(name)).to.equal(undefined);
    expect(await b.lease.renew()).to.equal(true);
  });

  it("runs a running Keyward's periodic tasks under leases of its own", async () => {
    const kw = await startKeyward({ KEYWARD_PAT_SWEEP_SECONDS: '60' });
    await new Promise((r) => setTimeout(r, 200));
    const rows = (
      await db.query<{ name: string }>("SELECT name FROM leader_leases WHERE name IN ('audit-seal', 'crl-refresh', 'token-sweep')")
    ).rows;
    expect(rows.map((r) => r.name).sort()).to.deep.equal(['audit-seal', 'crl-refresh', 'token-sweep']);
    await kw.close();
  });
});
