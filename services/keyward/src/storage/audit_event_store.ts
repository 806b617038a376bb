/** PostgreSQL implementation of the audit trail's reading port. */
import { SEALED_UP_TO, type AuditRow } from './audit_log.ts';
import type { AuditEventFilter, AuditEventStore, AuditEventView } from '../audit/audit_events.ts';
import { conditions, type Queryable } from './database.ts';

export class PgAuditEventStore implements AuditEventStore {
  readonly #db: Queryable;
  constructor(db: Queryable) {
    this.#db = db;
  }

  async listEvents(realm: string | undefined, f: AuditEventFilter): Promise<AuditEventView[]> {
    const c = conditions();
    if (realm !== undefined) c.add('e.realm = ?', realm);
    if (f.action !== undefined) c.add(f.action.includes('.') ? 'e.action = ?' : "split_part(e.action, '.', 1) = ?", f.action);
    if (f.target !== undefined) c.add('e.target = ?', f.target);
    if (f.since) c.add('e.at >= ?', f.since);
    if (f.until) c.add('e.at <= ?', f.until);
    // A realm's page walks its (realm, at) index; every realm's walks the seq key backwards (no sort of the whole trail).
    const order = realm !== undefined ? 'e.at DESC, e.seq DESC' : 'e.seq DESC';
    const rows = await this.#db.query<AuditRow & { sealed: boolean }>(
      `SELECT e.seq, e.id, e.at, e.realm, e.actor, e.action, e.target, e.details, e.seq <= ${SEALED_UP_TO} AS sealed
         FROM audit_events e ${c.where()} ORDER BY ${order} ${c.page(f.max, f.first)}`,
      c.params,
    );
    return rows.rows.map((r) => ({
      seq: r.seq,
      id: r.id,
      at: r.at.toISOString(),
      realm: r.realm ?? undefined,
      actor: r.actor,
      action: r.action,
      target: r.target ?? undefined,
      details: r.details,
      sealed: r.sealed,
    }));
  }
}
