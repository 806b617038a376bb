/**
 * PostgreSQL implementation of the approvals port. It knows no kind: an
 * approved decision brings its effect, which runs in the decision's
 * transaction (the composition root registers each kind's writer).
 */
import type { ApprovalRecord, ApprovalStatus, ApprovalStore, Decision } from '../approvals/ports.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { AuditLog } from './audit_log.ts';
import { recordEvent } from '../events/outbox.ts';
import { conditions, insertInto, isUniqueViolation, type Database, type Queryable } from './database.ts';

interface Row {
  id: string;
  realm: string;
  kind: string;
  payload: Record<string, unknown>;
  proposed_by: ApprovalRecord['proposedBy'];
  created_at: Date;
  expires_at: Date;
  status: ApprovalStatus;
  decided_by: ApprovalRecord['decidedBy'] | null;
  decided_at: Date | null;
  reason: string | null;
}

const record = (r: Row): ApprovalRecord => ({
  id: r.id,
  realm: r.realm,
  kind: r.kind,
  payload: r.payload,
  proposedBy: r.proposed_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  status: r.status,
  decidedBy: r.decided_by ?? undefined,
  decidedAt: r.decided_at ?? undefined,
  reason: r.reason ?? undefined,
});

/**
 * The WHERE clause of a listing by status at time `at`: a pending row past its
 * expiry is expired, whether or not the sweep has marked it yet.
 */
export function approvalListing(realm: string, status: ApprovalStatus | undefined, at: Date) {
  const c = conditions();
  c.add('realm = ?', realm);
  if (status === 'pending') {
    c.raw("status = 'pending'");
    c.add('expires_at > ?', at);
  } else if (status === 'expired') c.add("(status = 'expired' OR (status = 'pending' AND expires_at <= ?))", at);
  else if (status !== undefined) c.add('status = ?', status);
  return c;
}

/** The WHERE clause of due pending approvals: all of them, or those of one realm and kind. */
export function dueApprovals(at: Date, of?: { realm: string; kind: string }) {
  const c = conditions(["status = 'pending'"]);
  if (of) {
    c.add('realm = ?', of.realm);
    c.add('kind = ?', of.kind);
  }
  c.add('expires_at <= ?', at);
  return c;
}

export class PgApprovalStore implements ApprovalStore<Queryable> {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async #expire(
    q: Queryable,
    due: ReturnType<typeof dueApprovals>,
    audit: (e: ApprovalRecord) => AuditEventInput,
  ): Promise<ApprovalRecord[]> {
    const rows = (await q.query<Row>(`UPDATE approvals SET status = 'expired' ${due.where()} RETURNING *`, due.params)).rows.map(record);
    for (const e of rows) await this.#audit.record(q, audit(e));
    return rows;
  }

  async insertPending(
    a: ApprovalRecord,
    audit: AuditEventInput,
    expiredAudit: (e: ApprovalRecord) => AuditEventInput,
  ): Promise<{ blockedBy: string } | undefined> {
    try {
      await this.#db.tx(async (q) => {
        await this.#expire(q, dueApprovals(a.createdAt, a), expiredAudit);
        const insert = insertInto('approvals', {
          id: a.id,
          realm: a.realm,
          kind: a.kind,
          payload: JSON.stringify(a.payload),
          proposed_by: JSON.stringify(a.proposedBy),
          created_at: a.createdAt,
          expires_at: a.expiresAt,
          status: 'pending',
        });
        await q.query(insert.sql, insert.params);
        await this.#audit.record(q, audit);
        await recordEvent(q, {
          type: 'approval.pending',
          realm: a.realm,
          subject: a.id,
          data: { approvalId: a.id, kind: a.kind, proposedBy: a.proposedBy, expiresAt: a.expiresAt.toISOString() },
        });
      });
      return undefined;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const pending = (
        await this.#db.query<{ id: string }>(`SELECT id FROM approvals WHERE realm = $1 AND kind = $2 AND status = 'pending'`, [
          a.realm,
          a.kind,
        ])
      ).rows[0];
      return { blockedBy: pending?.id ?? 'unknown' };
    }
  }

  async get(realm: string, id: string): Promise<ApprovalRecord | undefined> {
    const r = (await this.#db.query<Row>('SELECT * FROM approvals WHERE realm = $1 AND id = $2', [realm, id])).rows[0];
    return r ? record(r) : undefined;
  }

  async list(realm: string, options: { status?: ApprovalStatus | undefined; at: Date; max: number }): Promise<ApprovalRecord[]> {
    const c = approvalListing(realm, options.status, options.at);
    const sql = `SELECT * FROM approvals ${c.where()} ORDER BY created_at DESC ${c.page(options.max, 0)}`;
    return (await this.#db.query<Row>(sql, c.params)).rows.map(record);
  }

  async decide(realm: string, id: string, d: Decision<Queryable>, audit: readonly AuditEventInput[]): Promise<ApprovalRecord | undefined> {
    return this.#db.tx(async (q) => {
      const r = (
        await q.query<Row>(
          `UPDATE approvals SET status = $3, decided_by = $4, decided_at = $5, reason = $6
         WHERE realm = $1 AND id = $2 AND status = 'pending' AND expires_at > $5 RETURNING *`,
          [realm, id, d.status, JSON.stringify(d.by), d.at, d.status === 'rejected' ? (d.reason ?? null) : null],
        )
      ).rows[0];
      if (!r) return undefined;
      if (d.status === 'approved') await d.apply(q);
      for (const event of audit) await this.#audit.record(q, event);
      return record(r);
    });
  }

  async expireDue(at: Date, audit: (e: ApprovalRecord) => AuditEventInput): Promise<ApprovalRecord[]> {
    return this.#db.tx((q) => this.#expire(q, dueApprovals(at), audit));
  }
}
