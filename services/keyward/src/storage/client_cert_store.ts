/** PostgreSQL implementation of the client-certificate store port. */
import type { AuditLog } from './audit_log.ts';
import type { ClientCertStore, ClientCertificateRecord, ClientCertificateSettings, TrustedClientCa } from '../client_cert/ports.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { Database } from './database.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const rec = (r: any): ClientCertificateRecord => ({
  id: r.id,
  realm: r.realm,
  userId: r.user_id,
  username: r.username,
  name: r.name ?? undefined,
  serial: r.serial,
  caId: r.ca_id,
  fingerprint: r.fingerprint,
  mode: r.mode,
  certificatePem: r.certificate_pem,
  keyBlob: r.key_blob ?? undefined,
  expiresInDays: r.expires_in_days,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at ?? undefined,
});
const ca = (r: any): TrustedClientCa => ({
  realm: r.realm,
  name: r.name,
  certificatePem: r.certificate_pem,
  subject: r.subject,
  fingerprint: r.fingerprint,
  createdAt: r.created_at,
});

export class PgClientCertStore implements ClientCertStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async getSettings(realm: string): Promise<ClientCertificateSettings | undefined> {
    const r = (
      await this.#db.query<{ enabled: boolean; max_expiration_days: number }>(
        'SELECT enabled, max_expiration_days FROM client_certificate_settings WHERE realm = $1',
        [realm],
      )
    ).rows[0];
    return r ? { enabled: r.enabled, maxExpirationDays: r.max_expiration_days } : undefined;
  }

  async insert(r: ClientCertificateRecord, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await q.query(
        `INSERT INTO client_certificates (id, realm, user_id, username, name, serial, ca_id, fingerprint, mode, certificate_pem,
           key_blob, expires_in_days, created_at, expires_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
        [
          r.id,
          r.realm,
          r.userId,
          r.username,
          r.name ?? null,
          r.serial,
          r.caId,
          r.fingerprint,
          r.mode,
          r.certificatePem,
          r.keyBlob === undefined ? null : JSON.stringify(r.keyBlob),
          r.expiresInDays,
          r.createdAt,
          r.expiresAt,
        ],
      );
      await this.#audit.record(q, audit);
    });
  }

  async get(id: string): Promise<ClientCertificateRecord | undefined> {
    const r = (await this.#db.query('SELECT * FROM client_certificates WHERE id = $1', [id])).rows[0];
    return r ? rec(r) : undefined;
  }

  async findByFingerprint(fingerprint: string): Promise<ClientCertificateRecord | undefined> {
    const r = (await this.#db.query('SELECT * FROM client_certificates WHERE fingerprint = $1', [fingerprint])).rows[0];
    return r ? rec(r) : undefined;
  }

  async list(realm: string, userId: string | undefined): Promise<ClientCertificateRecord[]> {
    const r =
      userId === undefined
        ? await this.#db.query('SELECT * FROM client_certificates WHERE realm = $1 ORDER BY username, created_at', [realm])
        : await this.#db.query('SELECT * FROM client_certificates WHERE realm = $1 AND user_id = $2 ORDER BY created_at', [realm, userId]);
    return r.rows.map(rec);
  }

  async renameUser(realm: string, userId: string, username: string): Promise<number> {
    const r = await this.#db.query('UPDATE client_certificates SET username = $3 WHERE realm = $1 AND user_id = $2 AND username <> $3', [
      realm,
      userId,
      username,
    ]);
    return r.rowCount ?? 0;
  }

  async revoke(id: string, at: Date, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const changed =
        ((await q.query('UPDATE client_certificates SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at])).rowCount ?? 0) >
        0;
      if (changed) await this.#audit.record(q, audit);
      return changed;
    });
  }

  async putTrustedCa(c: TrustedClientCa, audit: AuditEventInput): Promise<'created' | 'updated'> {
    return this.#db.tx(async (q) => {
      const r = await q.query<{ inserted: boolean }>(
        `INSERT INTO trusted_client_cas (realm, name, certificate_pem, subject, fingerprint) VALUES ($1,$2,$3,$4,$5)
         ON CONFLICT (realm, name) DO UPDATE SET certificate_pem = EXCLUDED.certificate_pem, subject = EXCLUDED.subject,
           fingerprint = EXCLUDED.fingerprint
         RETURNING (xmax = 0) AS inserted`,
        [c.realm, c.name, c.certificatePem, c.subject, c.fingerprint],
      );
      await this.#audit.record(q, audit);
      return r.rows[0]!.inserted ? 'created' : 'updated';
    });
  }

  async deleteTrustedCa(realm: string, name: string, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const d = ((await q.query('DELETE FROM trusted_client_cas WHERE realm = $1 AND name = $2', [realm, name])).rowCount ?? 0) > 0;
      if (d) await this.#audit.record(q, audit);
      return d;
    });
  }

  async listTrustedCas(realm: string | undefined): Promise<TrustedClientCa[]> {
    const r =
      realm === undefined
        ? await this.#db.query('SELECT * FROM trusted_client_cas ORDER BY realm, name')
        : await this.#db.query('SELECT * FROM trusted_client_cas WHERE realm = $1 ORDER BY name', [realm]);
    return r.rows.map(ca);
  }
}
