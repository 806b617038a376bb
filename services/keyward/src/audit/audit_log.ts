/**
 * The audit trail: append-only events named `noun.verb_past`, hash-chained.
 *
 * `record` inserts within the caller's transaction (the event exists if and
 * only if the change does). `seal` links unsealed rows in order; `verify`
 * recomputes the chain. Event names are listed in the README.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.ts';
import { newId } from '../kernel/ids.ts';

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface AuditActor {
  readonly kind: string;
  readonly id: string;
  readonly realm?: string | undefined;
  readonly name?: string | undefined;
}

export interface AuditEvent {
  readonly action: string;
  readonly actor: AuditActor;
  readonly realm?: string | undefined;
  readonly target?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
}

export const SYSTEM_ACTOR: AuditActor = Object.freeze({ kind: 'system', id: 'keyward' });

export class AuditLog {
  readonly #clock: Clock;
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Records one event inside the caller's transaction. */
  async record(q: Queryable, event: AuditEvent): Promise<void> {
    await q.query(
      'INSERT INTO audit_events (id, at, realm, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [newId(), this.#clock.now(), event.realm ?? null, JSON.stringify(event.actor), event.action, event.target ?? null, JSON.stringify(event.details ?? {})],
    );
  }

  /** The insert of `record` as SQL text and parameters numbered from `offset + 1`, to join another statement (one round trip). */
  insertSql(event: AuditEvent, offset: number): { sql: string; params: unknown[] } {
    const n = (i: number) => `$${offset + i}`;
    return {
      sql: `INSERT INTO audit_events (id, at, realm, actor, action, target, details) VALUES (${[1, 2, 3, 4, 5, 6, 7].map(n).join(', ')})`,
      params: [newId(), this.#clock.now(), event.realm ?? null, JSON.stringify(event.actor), event.action, event.target ?? null, JSON.stringify(event.details ?? {})],
    };
  }

  /**
   * Links unsealed events to the chain's head, in seq order, and moves the
   * head; returns how many were sealed. Safe to call from every replica (one
   * sealer at a time). The chain is the order of sealing: an event whose
   * transaction commits late is linked after events with higher seqs that
   * were sealed before it became visible.
   */
  async seal(db: { tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> }, batch = 5000): Promise<number> {
    return db.tx(async (q) => {
      const locked = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(7372796538) AS ok');
      if (!locked.rows[0]?.ok) return 0;
      const head = await q.query<{ hash: string }>('SELECT hash FROM audit_chain_head');
      let prev = head.rows[0]?.hash ?? 'genesis';
      const rows = await q.query<AuditRow>('SELECT seq, id, at, realm, actor, action, target, details FROM audit_events WHERE hash IS NULL ORDER BY seq LIMIT $1', [batch]);
      if (!rows.rows.length) return 0;
      // One UPDATE per chunk, not per event: sealing runs beside the issuance hot path.
      for (let i = 0; i < rows.rows.length; i += 1000) {
        const seqs: string[] = [];
        const prevs: string[] = [];
        const hashes: string[] = [];
        for (const row of rows.rows.slice(i, i + 1000)) {
          const hash = chainHash(prev, row);
          seqs.push(row.seq);
          prevs.push(prev);
          hashes.push(hash);
          prev = hash;
        }
        await q.query(
          `UPDATE audit_events a SET prev_hash = v.p, hash = v.h FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(s, p, h) WHERE a.seq = v.s`,
          [seqs, prevs, hashes]);
      }
      await q.query('INSERT INTO audit_chain_head (hash) VALUES ($1) ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, sealed_at = now()', [prev]);
      return rows.rows.length;
    });
  }

  /** How many events are linked to the chain, and how many wait for the sealer. */
  async counts(q: Queryable): Promise<{ sealed: number; unsealed: number }> {
    const r = await q.query<{ sealed: string; unsealed: string }>('SELECT count(*) FILTER (WHERE hash IS NOT NULL) AS sealed, count(*) FILTER (WHERE hash IS NULL) AS unsealed FROM audit_events');
    return { sealed: Number(r.rows[0]!.sealed), unsealed: Number(r.rows[0]!.unsealed) };
  }

  /**
   * Recomputes the sealed chain from its first link to the head; returns the
   * seq of the first broken link (an edited event, a fork, an event missing
   * from the chain, or a gap left by a deleted one), `'head'` when the chain
   * ends short of the recorded head, or undefined when it is whole.
   */
  async verify(q: Queryable): Promise<string | undefined> {
    const rows = await q.query<AuditRow & { prev_hash: string; hash: string }>('SELECT seq, id, at, realm, actor, action, target, details, prev_hash, hash FROM audit_events WHERE hash IS NOT NULL ORDER BY seq');
    const head = (await q.query<{ hash: string }>('SELECT hash FROM audit_chain_head')).rows[0]?.hash ?? 'genesis';
    const next = new Map<string, AuditRow & { prev_hash: string; hash: string }>();
    for (const row of rows.rows) {
      if (next.has(row.prev_hash)) return String(row.seq); // a fork: two events claim the same predecessor
      next.set(row.prev_hash, row);
    }
    let prev = 'genesis';
    const reached = new Set<string>();
    for (let row = next.get(prev); row; row = next.get(prev)) {
      if (chainHash(prev, row) !== row.hash) return String(row.seq);
      prev = row.hash;
      reached.add(String(row.seq));
    }
    // Sealed events the walk from the start did not reach: the first of them is where the chain breaks.
    const stray = rows.rows.find((r) => !reached.has(String(r.seq)));
    if (stray) return String(stray.seq);
    return prev === head ? undefined : 'head';
  }
}

interface AuditRow extends Record<string, unknown> {
  seq: string;
  id: string;
  at: Date;
  realm: string | null;
  actor: unknown;
  action: string;
  target: string | null;
  details: unknown;
}

function chainHash(prev: string, row: AuditRow): string {
  const canonical = JSON.stringify([row.id, new Date(row.at).toISOString(), row.realm, row.actor, row.action, row.target, row.details]);
  return createHash('sha256').update(prev).update('\n').update(canonical).digest('hex');
}
