/** PostgreSQL implementation of the approvals port. */
import type { ApprovalRecord, ApprovalStatus, ApprovalStore, Decision } from '../approvals/ports.ts';
import type { AuditLog } from '../audit/audit_log.ts';
import type { AuditEventInput } from '../provisioning/ports.ts';
import { isUniqueViolation, type Database, type Queryable } from './database.ts';
import { applyAcceptance } from './device_store.ts';
import { writeSetting } from './settings_store.ts';

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

export class PgApprovalStore implements ApprovalStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async #expire(q: Queryable, where: string, params: unknown[], audit: (e: ApprovalRecord) => AuditEventInput): Promise<ApprovalRecord[]> {
    const rows = (
      await q.query<Row>(`UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND ${where} RETURNING *`, params)
    ).rows.map(record);
    for (const e of rows) await this.#audit.record(q as never, audit(e));
    return rows;
  }

  async insertPending(
    a: ApprovalRecord,
    audit: AuditEventInput,
    expiredAudit: (e: ApprovalRecord) => AuditEventInput,
  ): Promise<{ blockedBy: string } | undefined> {
    try {
      await this.#db.tx(async (q) => {
        await this.#expire(q, 'realm = $1 AND kind = $2 AND expires_at <= $3', [a.realm, a.kind, a.createdAt], expiredAudit);
        await q.query(
          `INSERT INTO approvals (id, realm, kind, payload, proposed_by, created_at, expires_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
          [a.id, a.realm, a.kind, JSON.stringify(a.payload), JSON.stringify(a.proposedBy), a.createdAt, a.expiresAt],
        );
        await this.#audit.record(q as never, audit);
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
    // A pending row past its expiry is expired, whether or not the sweep has marked it yet.
    const filter: Record<ApprovalStatus, string> = {
      pending: `AND status = 'pending' AND expires_at > $2`,
      expired: `AND (status = 'expired' OR (status = 'pending' AND expires_at <= $2))`,
      approved: `AND status = 'approved' AND $2::timestamptz IS NOT NULL`,
      rejected: `AND status = 'rejected' AND $2::timestamptz IS NOT NULL`,
    };
    const where = options.status ? filter[options.status] : 'AND $2::timestamptz IS NOT NULL';
    return (
      await this.#db.query<Row>(`SELECT * FROM approvals WHERE realm = $1 ${where} ORDER BY created_at DESC LIMIT $3`, [
        realm,
        options.at,
        options.max,
      ])
    ).rows.map(record);
  }

  async decide(realm: string, id: string, d: Decision, audit: readonly AuditEventInput[]): Promise<ApprovalRecord | undefined> {
    return this.#db.tx(async (q) => {
      const r = (
        await q.query<Row>(
          `UPDATE approvals SET status = $3, decided_by = $4, decided_at = $5, reason = $6
         WHERE realm = $1 AND id = $2 AND status = 'pending' AND expires_at > $5 RETURNING *`,
          [realm, id, d.status, JSON.stringify(d.by), d.at, d.status === 'rejected' ? (d.reason ?? null) : null],
        )
      ).rows[0];
      if (!r) return undefined;
      if (d.status === 'approved') {
        const e = d.effect;
        if (e.type === 'setting') await writeSetting(q, e.realm, e.name, e.value);
        else if (e.type === 'device_accept') await applyAcceptance(q, e.device);
      }
      for (const event of audit) await this.#audit.record(q as never, event);
      return record(r);
    });
  }

  async expireDue(at: Date, audit: (e: ApprovalRecord) => AuditEventInput): Promise<ApprovalRecord[]> {
    return this.#db.tx((q) => this.#expire(q, 'expires_at <= $1', [at], audit));
  }
}
