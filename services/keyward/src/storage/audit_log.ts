/**
 * The audit trail in PostgreSQL: append-only events named `noun.verb_past`, hash-chained.
 *
 * `record` inserts within the caller's transaction (the event exists if and
 * only if the change does); events are written once and never updated.
 * `seal` links the events of a settled range of seqs into a SHA-256 chain
 * and records the range in one `audit_seals` row; `verify` recomputes the
 * chain and names the first event that was edited, inserted or deleted.
 * Event names are listed in the README.
 *
 * Settled: an event's seq is drawn when it is inserted, but the event is seen
 * when its transaction commits, so a range can still gain an event after the
 * sealer has read it. The sealer reads the sequence's last value L, then the
 * transactions holding a write lock on audit_events (a writer takes it before
 * it draws a seq and keeps it until it ends); once they have all ended, every
 * event with seq <= L is committed or will never exist, and the range up to L
 * can be sealed in seq order.
 */
import { createHash } from 'node:crypto';
import type { AuditActor, AuditEventInput } from '../audit/event.ts';
import type { Clock } from '../kernel/clock.ts';
import { newId } from '../kernel/ids.ts';
import { insertInto, type Database, type Queryable } from './database.ts';

/** The columns of an audit event row, in the order {@link AuditLog.row} gives them. */
export const AUDIT_EVENT_COLUMNS = ['id', 'at', 'realm', 'actor', 'action', 'target', 'details'] as const;

export class AuditLog {
  readonly #clock: Clock;
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The row of `event` in audit_events: its id and time are drawn now. */
  row(event: AuditEventInput): Readonly<Record<(typeof AUDIT_EVENT_COLUMNS)[number], unknown>> {
    return {
      id: newId(),
      at: this.#clock.now(),
      realm: event.realm ?? null,
      actor: JSON.stringify(event.actor),
      action: event.action,
      target: event.target ?? null,
      details: JSON.stringify(event.details ?? {}),
    };
  }

  /** Records one event inside the caller's transaction. */
  async record(q: Queryable, event: AuditEventInput): Promise<void> {
    const insert = insertInto('audit_events', this.row(event));
    await q.query(insert.sql, insert.params);
  }

  /**
   * The insert of `record` as SQL text and parameters numbered from `offset + 1`, to join another statement (one round trip).
   * Joining several rows is {@link insertInto} over {@link row}s.
   */
  insertSql(event: AuditEventInput, offset: number): { sql: string; params: unknown[] } {
    return insertInto('audit_events', this.row(event), offset + 1);
  }

  /** A horizon whose writers had not ended when it was read (see {@link seal}). */
  #pending: { horizon: string; writers: string[] } | undefined;

  /**
   * Seals the events of the settled range after the last seal (at most
   * `batch`), in seq order; returns how many it sealed. Safe to call from
   * every replica: one sealer at a time (an advisory lock), the others return 0.
   */
  async seal(db: Pick<Database, 'tx'>, batch = 5000): Promise<number> {
    return db.tx(async (q) => {
      const locked = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(7372796538) AS ok');
      if (!locked.rows[0]?.ok) return 0;
      const horizon = await this.#settledHorizon(q);
      if (horizon === undefined) return 0;
      const last = (
        await q.query<{ last_seq: string; hash: string }>('SELECT last_seq, hash FROM audit_seals ORDER BY last_seq DESC LIMIT 1')
      ).rows[0];
      const from = last?.last_seq ?? '0';
      if (BigInt(horizon) <= BigInt(from)) return 0;
      const rows = (
        await q.query<AuditRow>(
          'SELECT seq, id, at, realm, actor, action, target, details FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
          [from, horizon, batch],
        )
      ).rows;
      if (!rows.length) return 0; // only seqs of rolled-back transactions: the next range starts at the same place
      let prev = last?.hash ?? 'genesis';
      const first = prev;
      const hashes = Buffer.allocUnsafe(32 * rows.length);
      rows.forEach((row, i) => {
        prev = chainHash(prev, row);
        hashes.write(prev, 32 * i, 'hex');
      });
      const upTo = rows.length === batch ? rows[rows.length - 1]!.seq : horizon;
      await q.query('INSERT INTO audit_seals (last_seq, first_seq, seqs, hashes, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)', [
        upTo,
        (BigInt(from) + 1n).toString(),
        rows.map((r) => r.seq),
        hashes,
        first,
        prev,
      ]);
      return rows.length;
    });
  }

  /**
   * The highest seq below which no event can still appear, or undefined when
   * the writers of every horizon read so far are still running. Waits up to
   * SETTLE_WAIT_MS for the writers of a fresh horizon (transactions are short);
   * a horizon whose writers outlast that is kept and sealed by a later call.
   */
  async #settledHorizon(q: Queryable): Promise<string | undefined> {
    // The sequence first, the writers second: a writer that drew a seq up to L holds its lock now, or has ended.
    const l = (await q.query<{ l: string }>('SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS l FROM audit_events_seq_seq'))
      .rows[0]!.l;
    let writers = (
      await q.query<{ v: string }>(
        `SELECT DISTINCT virtualtransaction AS v FROM pg_locks
          WHERE locktype = 'relation' AND relation = 'audit_events'::regclass AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()`,
      )
    ).rows.map((r) => r.v);
    for (const deadline = Date.now() + SETTLE_WAIT_MS; writers.length && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 5));
      writers = await running(q, writers);
    }
    if (!writers.length) {
      this.#pending = undefined;
      return l;
    }
    const earlier = this.#pending;
    if (earlier) {
      earlier.writers = await running(q, earlier.writers);
      if (!earlier.writers.length) {
        this.#pending = { horizon: l, writers };
        return earlier.horizon;
      }
      return undefined;
    }
    this.#pending = { horizon: l, writers };
    return undefined;
  }

  /** How many events are sealed, how many wait for the sealer, and the chain's head (its latest value). */
  async status(q: Queryable): Promise<{ sealed: number; unsealed: number; head: string }> {
    const r = await q.query<{ sealed: string; unsealed: string; head: string }>(
      `SELECT count(*) FILTER (WHERE seq <= ${SEALED_UP_TO}) AS sealed, count(*) FILTER (WHERE seq > ${SEALED_UP_TO}) AS unsealed,
              coalesce((SELECT hash FROM audit_seals ORDER BY last_seq DESC LIMIT 1), 'genesis') AS head
         FROM audit_events`,
    );
    const row = r.rows[0]!;
    return { sealed: Number(row.sealed), unsealed: Number(row.unsealed), head: row.head };
  }

  /** Whether the chain's head was ever `hash` (a value printed by `keyward audit verify`); verify the chain too. */
  async passesThrough(q: Queryable, hash: string): Promise<boolean> {
    return (await q.query('SELECT 1 FROM audit_seals WHERE hash = $1', [hash])).rows.length > 0;
  }

  /**
   * Recomputes the chain seal by seal; returns the seq of the first event that
   * was edited, inserted into or deleted from a sealed range (or the first seq
   * of a seal whose link to the one before is broken), or undefined when the
   * chain is whole. Reads one seal's events at a time.
   */
  async verify(q: Queryable): Promise<string | undefined> {
    const seals = (
      await q.query<{ last_seq: string; first_seq: string; seqs: string[]; hashes: Buffer; prev_hash: string; hash: string }>(
        'SELECT last_seq, first_seq, seqs, hashes, prev_hash, hash FROM audit_seals ORDER BY last_seq',
      )
    ).rows;
    let prev = 'genesis';
    let next = 1n;
    for (const seal of seals) {
      if (seal.prev_hash !== prev || BigInt(seal.first_seq) !== next) return seal.seqs[0] ?? seal.first_seq;
      const rows = (
        await q.query<AuditRow>(
          'SELECT seq, id, at, realm, actor, action, target, details FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq',
          [seal.first_seq, seal.last_seq],
        )
      ).rows;
      for (let i = 0; i < Math.max(rows.length, seal.seqs.length); i++) {
        const row = rows[i];
        const listed = seal.seqs[i];
        if (row === undefined || (listed !== undefined && BigInt(listed) < BigInt(row.seq))) return listed; // a sealed event is gone
        if (listed === undefined || BigInt(row.seq) < BigInt(listed)) return row.seq; // an event added to a sealed range
        prev = chainHash(prev, row);
        if (seal.hashes.toString('hex', 32 * i, 32 * i + 32) !== prev) return row.seq;
      }
      if (prev !== seal.hash) return seal.last_seq;
      next = BigInt(seal.last_seq) + 1n;
    }
    return undefined;
  }
}

/** SQL for the highest sealed seq: every event up to it is in a seal. */
export const SEALED_UP_TO = '(SELECT coalesce(max(last_seq), 0) FROM audit_seals)';

/** How long a sealer waits for the writers of a fresh horizon to end. */
const SETTLE_WAIT_MS = 250;

/** The transactions of `vxids` still running. */
async function running(q: Queryable, vxids: readonly string[]): Promise<string[]> {
  const r = await q.query<{ v: string }>('SELECT DISTINCT virtualtransaction AS v FROM pg_locks WHERE virtualtransaction = ANY($1)', [
    vxids,
  ]);
  return r.rows.map((x) => x.v);
}

/** An audit_events row as read back (seq as text: it is a bigint). */
export interface AuditRow {
  seq: string;
  id: string;
  at: Date;
  realm: string | null;
  actor: AuditActor;
  action: string;
  target: string | null;
  details: unknown;
}

function chainHash(prev: string, row: AuditRow): string {
  const canonical = JSON.stringify([row.id, new Date(row.at).toISOString(), row.realm, row.actor, row.action, row.target, row.details]);
  return createHash('sha256').update(prev).update('\n').update(canonical).digest('hex');
}
