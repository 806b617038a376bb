/**
 * PostgreSQL implementation of the protected-settings port. The
 * client-certificate settings keep their own table
 * (client_certificate_settings, read by the client-certificate store too);
 * the others live in realm_settings as JSON.
 */
import type { AuditLog } from './audit_log.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { SettingName, SettingsStore } from '../settings/ports.ts';
import type { Database, Queryable } from './database.ts';

export async function readSetting(q: Queryable, realm: string, name: SettingName): Promise<unknown> {
  if (name === 'client_certificates') {
    const r = (
      await q.query<{ enabled: boolean; max_expiration_days: number }>(
        'SELECT enabled, max_expiration_days FROM client_certificate_settings WHERE realm = $1',
        [realm],
      )
    ).rows[0];
    return r ? { enabled: r.enabled, maxExpirationDays: r.max_expiration_days } : undefined;
  }
  return (await q.query<{ value: unknown }>('SELECT value FROM realm_settings WHERE realm = $1 AND key = $2', [realm, name])).rows[0]
    ?.value;
}

/** Writes one setting inside the caller's transaction (also used when an approval applies a change). */
export async function writeSetting(q: Queryable, realm: string, name: SettingName, value: unknown): Promise<void> {
  if (name === 'client_certificates') {
    const v = value as { enabled: boolean; maxExpirationDays: number };
    await q.query(
      `INSERT INTO client_certificate_settings (realm, enabled, max_expiration_days) VALUES ($1, $2, $3)
       ON CONFLICT (realm) DO UPDATE
         SET enabled = EXCLUDED.enabled, max_expiration_days = EXCLUDED.max_expiration_days, updated_at = now()`,
      [realm, v.enabled, v.maxExpirationDays],
    );
    return;
  }
  await q.query(
    `INSERT INTO realm_settings (realm, key, value) VALUES ($1, $2, $3)
     ON CONFLICT (realm, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [realm, name, JSON.stringify(value)],
  );
}

export class PgSettingsStore implements SettingsStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  get(realm: string, name: SettingName): Promise<unknown> {
    return readSetting(this.#db, realm, name);
  }

  async put(realm: string, name: SettingName, value: unknown, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await writeSetting(q, realm, name, value);
      await this.#audit.record(q, audit);
    });
  }
}
