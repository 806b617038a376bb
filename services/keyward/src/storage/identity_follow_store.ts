/** PostgreSQL implementation of the identity-following store port (migration 020). */
import type { AuditEventInput } from '../audit/event.ts';
import type { CertificateInForce, FollowStore, RequesterInForce, SyncCursor } from '../follow/ports.ts';
import { recordEvent } from '../events/outbox.ts';
import type { AuditLog } from './audit_log.ts';
import type { Database } from './database.ts';

/** Certificates in force: valid and not expired, or on hold. */
const IN_FORCE = "((status = 'valid' AND not_after > now()) OR (status = 'revoked' AND revocation_reason = 'certificateHold'))";

export class PgFollowStore implements FollowStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async cursor(realm: string): Promise<SyncCursor | undefined> {
    const r = await this.#db.query<{ event_time: string; event_ids: string[] }>(
      'SELECT event_time, event_ids FROM identity_sync_cursors WHERE realm = $1',
      [realm],
    );
    const row = r.rows[0];
    return row ? { time: Number(row.event_time), ids: row.event_ids } : undefined;
  }

  async saveCursor(realm: string, c: SyncCursor): Promise<void> {
    // Never backwards: a replica that stalled and wakes up with an older cursor does not undo a newer one.
    await this.#db.query(
      `INSERT INTO identity_sync_cursors (realm, event_time, event_ids) VALUES ($1, $2, $3)
       ON CONFLICT (realm) DO UPDATE SET event_time = EXCLUDED.event_time, event_ids = EXCLUDED.event_ids, updated_at = now()
       WHERE identity_sync_cursors.event_time <= EXCLUDED.event_time`,
      [realm, c.time, [...c.ids]],
    );
  }

  async requesters(realm?: string): Promise<RequesterInForce[]> {
    const r = await this.#db.query<{ certificate_realm: string; realm: string; kind: string; id: string; name: string | null }>(
      `SELECT DISTINCT realm AS certificate_realm, requester->>'realm' AS realm, split_part(requester->>'kind', ':', 1) AS kind,
              requester->>'id' AS id, requester->>'name' AS name
       FROM certificates WHERE ${IN_FORCE} ${realm === undefined ? '' : "AND (realm = $1 OR requester->>'realm' = $1)"}
       ORDER BY 1, 2, 4`,
      realm === undefined ? [] : [realm],
    );
    return r.rows
      .filter((x) => x.kind === 'client' || x.kind === 'user')
      .map((x) => ({
        certificateRealm: x.certificate_realm,
        realm: x.realm,
        kind: x.kind as 'client' | 'user',
        id: x.id,
        name: x.name ?? undefined,
      }));
  }

  async certificatesOf(q: RequesterInForce): Promise<CertificateInForce[]> {
    const r = await this.#db.query<{ serial: string; realm: string; policy: string; status: string; hold_source: string | null }>(
      `SELECT serial, realm, policy, status, hold_source FROM certificates
       WHERE realm = $1 AND requester->>'realm' = $2 AND requester->>'id' = $3 AND split_part(requester->>'kind', ':', 1) = $4
         AND ${IN_FORCE}
       ORDER BY serial`,
      [q.certificateRealm, q.realm, q.id, q.kind],
    );
    return r.rows.map((x) => ({
      serial: x.serial,
      realm: x.realm,
      policy: x.policy,
      held: x.status === 'revoked',
      holdSource: x.hold_source ?? undefined,
    }));
  }

  async clientCertificateOwners(): Promise<{ realm: string; userId: string; username: string }[]> {
    const r = await this.#db.query<{ realm: string; user_id: string; username: string }>(
      'SELECT DISTINCT realm, user_id, username FROM client_certificates WHERE revoked_at IS NULL AND expires_at > now() ORDER BY 1, 2',
    );
    return r.rows.map((x) => ({ realm: x.realm, userId: x.user_id, username: x.username }));
  }

  async revokeClientCertificatesOf(realm: string, userId: string, at: Date, audit: (id: string) => AuditEventInput): Promise<string[]> {
    return this.#db.tx(async (q) => {
      const r = await q.query<{ id: string }>(
        'UPDATE client_certificates SET revoked_at = $3 WHERE realm = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id',
        [realm, userId, at],
      );
      for (const { id } of r.rows) await this.#audit.record(q, audit(id));
      return r.rows.map((x) => x.id);
    });
  }

  async requesterRemoved(
    r: RequesterInForce,
    why: 'deleted' | 'grant_revoked' | 'disabled',
    serials: readonly string[],
    cause: unknown,
  ): Promise<void> {
    await recordEvent(this.#db, {
      type: 'identity.requester_removed',
      realm: r.certificateRealm,
      subject: r.id,
      data: { requester: { kind: r.kind, realm: r.realm, id: r.id, name: r.name }, why, revokedSerials: serials, cause },
    });
  }
}
