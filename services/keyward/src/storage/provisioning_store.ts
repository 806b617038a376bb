/** PostgreSQL implementation of the provisioning store port. */
import { announce, CHANNELS } from './notifications.ts';
import type { AuditLog } from './audit_log.ts';
import type { ManagedRealm, ProvisioningStore, ProvisioningTx, StoredPolicy } from '../provisioning/ports.ts';
import type { Database, Queryable } from './database.ts';

interface RealmRow {
  name: string;
  display_name: string | null;
  default_roles: string[];
  source: 'api' | 'config';
  created_at: Date;
  updated_at: Date;
}
interface PolicyRow {
  realm: string;
  name: string;
  document: unknown;
  source: 'api' | 'config';
  created_at: Date;
  updated_at: Date;
}

const realm = (r: RealmRow): ManagedRealm => ({
  name: r.name,
  displayName: r.display_name ?? undefined,
  defaultRoles: r.default_roles,
  source: r.source,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const policy = (r: PolicyRow): StoredPolicy => ({
  realm: r.realm,
  name: r.name,
  document: r.document,
  source: r.source,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class PgProvisioningStore implements ProvisioningStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async listRealms(): Promise<ManagedRealm[]> {
    return (await this.#db.query<RealmRow>('SELECT * FROM realms WHERE unmanaged_at IS NULL ORDER BY name')).rows.map(realm);
  }

  async findRealm(name: string): Promise<ManagedRealm | undefined> {
    const r = (await this.#db.query<RealmRow>('SELECT * FROM realms WHERE name = $1 AND unmanaged_at IS NULL', [name])).rows[0];
    return r ? realm(r) : undefined;
  }

  async listPolicies(realmName: string): Promise<StoredPolicy[]> {
    return (await this.#db.query<PolicyRow>('SELECT * FROM policies WHERE realm = $1 ORDER BY name', [realmName])).rows.map(policy);
  }

  async findPolicy(realmName: string, name: string): Promise<StoredPolicy | undefined> {
    const r = (await this.#db.query<PolicyRow>('SELECT * FROM policies WHERE realm = $1 AND name = $2', [realmName, name])).rows[0];
    return r ? policy(r) : undefined;
  }

  transaction<T>(fn: (tx: ProvisioningTx) => Promise<T>): Promise<T> {
    return this.#db.tx((q: Queryable) =>
      fn({
        upsertRealm: async (r) => {
          // A realm that was no longer managed counts as created: it is managed (again) from now on.
          const prev = await q.query<{ unmanaged: boolean }>(
            'SELECT unmanaged_at IS NOT NULL AS unmanaged FROM realms WHERE name = $1 FOR UPDATE',
            [r.name],
          );
          const res = await q.query<{ inserted: boolean }>(
            `INSERT INTO realms (name, display_name, default_roles, source) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, default_roles = EXCLUDED.default_roles,
             unmanaged_at = NULL, updated_at = now()
           RETURNING (xmax = 0) AS inserted`,
            [r.name, r.displayName ?? null, JSON.stringify(r.defaultRoles), r.source],
          );
          await announce(q, CHANNELS.realms, r.name);
          return res.rows[0]!.inserted || prev.rows[0]?.unmanaged ? 'created' : 'updated';
        },
        unmanageRealm: async (name) => {
          const res = await q.query('UPDATE realms SET unmanaged_at = now(), updated_at = now() WHERE name = $1 AND unmanaged_at IS NULL', [
            name,
          ]);
          await announce(q, CHANNELS.realms, name);
          return (res.rowCount ?? 0) > 0;
        },
        putPolicy: async (realmName, name, document, source) => {
          const res = await q.query<{ inserted: boolean }>(
            `INSERT INTO policies (realm, name, document, source) VALUES ($1, $2, $3, $4)
           ON CONFLICT (realm, name) DO UPDATE SET document = EXCLUDED.document, source = EXCLUDED.source, updated_at = now()
           RETURNING (xmax = 0) AS inserted`,
            [realmName, name, JSON.stringify(document), source],
          );
          await announce(q, CHANNELS.policies, realmName);
          return res.rows[0]!.inserted ? 'created' : 'updated';
        },
        deletePolicy: async (realmName, name) => {
          const deleted = ((await q.query('DELETE FROM policies WHERE realm = $1 AND name = $2', [realmName, name])).rowCount ?? 0) > 0;
          if (deleted) await announce(q, CHANNELS.policies, realmName);
          return deleted;
        },
        audit: (event) => this.#audit.record(q, event),
      }),
    );
  }
}
