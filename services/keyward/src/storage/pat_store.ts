/** PostgreSQL implementation of the personal-access-token port. */
import type { AuditLog } from './audit_log.ts';
import type { PatQuery, PatRecord, PatSelection, PatSort, PatStore } from '../pat/ports.ts';
import type { AuditEventInput } from '../audit/event.ts';
import { conditions, type Database } from './database.ts';

interface Row {
  id: string;
  realm: string;
  user_id: string;
  username: string;
  name: string | null;
  token_hash: Buffer;
  expires_in_days: number;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
}

const record = (r: Row): PatRecord => ({
  id: r.id,
  realm: r.realm,
  userId: r.user_id,
  username: r.username,
  name: r.name ?? undefined,
  hash: new Uint8Array(r.token_hash),
  expiresInDays: r.expires_in_days,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at ?? undefined,
});

const ORDER: Record<PatSort, string> = {
  expiresAt: 'expires_at ASC, id',
  '-expiresAt': 'expires_at DESC, id',
  createdAt: 'created_at ASC, id',
  '-createdAt': 'created_at DESC, id',
  username: 'username ASC, created_at, id',
  '-username': 'username DESC, created_at, id',
  lastUsedAt: 'last_used_at ASC NULLS FIRST, id',
  '-lastUsedAt': 'last_used_at DESC NULLS LAST, id',
};

/**
 * The WHERE clause of a PAT selection: a realm, optionally one user, and the
 * tokens named by id or by username (either matches); undefined when the
 * lists are given but empty (they select nothing).
 * @throws TypeError for a selection of a whole realm (no user, ids or usernames)
 */
export function patSelection(sel: PatSelection): ReturnType<typeof conditions> | undefined {
  const c = conditions();
  c.add('realm = ?', sel.realm);
  if (sel.userId !== undefined) c.add('user_id = ?', sel.userId);
  const either: string[] = [];
  if (sel.ids?.length) either.push(`id = ANY(${c.bind([...sel.ids])}::text[])`);
  if (sel.usernames?.length) either.push(`username = ANY(${c.bind([...sel.usernames])}::text[])`);
  if (either.length) c.raw(`(${either.join(' OR ')})`);
  else if (sel.ids || sel.usernames) return undefined;
  else if (sel.userId === undefined) throw new TypeError('a PAT selection needs a user, ids or usernames');
  return c;
}

export class PgPatStore implements PatStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async insert(r: PatRecord, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await q.query(
        `INSERT INTO personal_access_tokens (id, realm, user_id, username, name, token_hash, expires_in_days, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [r.id, r.realm, r.userId, r.username, r.name ?? null, Buffer.from(r.hash), r.expiresInDays, r.createdAt, r.expiresAt],
      );
      await this.#audit.record(q, audit);
    });
  }

  async findForAuthentication(id: string): Promise<{ record: PatRecord; enabled: boolean } | undefined> {
    const r = (
      await this.#db.query<Row & { enabled: boolean | null }>(
        `SELECT t.*, (s.value->>'enabled')::boolean AS enabled
         FROM personal_access_tokens t
         LEFT JOIN realm_settings s ON s.realm = t.realm AND s.key = 'personal_access_tokens'
        WHERE t.id = $1`,
        [id],
      )
    ).rows[0];
    return r ? { record: record(r), enabled: r.enabled === true } : undefined;
  }

  async listOwn(realm: string, userId: string): Promise<PatRecord[]> {
    return (
      await this.#db.query<Row>('SELECT * FROM personal_access_tokens WHERE realm = $1 AND user_id = $2 ORDER BY created_at, id', [
        realm,
        userId,
      ])
    ).rows.map(record);
  }

  async page(realm: string, q: PatQuery): Promise<{ items: PatRecord[]; total: number }> {
    const c = conditions();
    c.add('realm = ?', realm);
    if (q.username !== undefined) c.add('username = ?', q.username);
    const count = `SELECT count(*) AS n FROM personal_access_tokens ${c.where()}`;
    const total = Number((await this.#db.query<{ n: string }>(count, [...c.params])).rows[0]!.n);
    const rows = await this.#db.query<Row>(
      `SELECT * FROM personal_access_tokens ${c.where()} ORDER BY ${ORDER[q.sort]} ${c.page(q.max, q.first)}`,
      c.params,
    );
    return { items: rows.rows.map(record), total };
  }

  async delete(sel: PatSelection, audit: (r: PatRecord) => AuditEventInput): Promise<PatRecord[]> {
    const c = patSelection(sel);
    if (!c) return []; // empty lists select nothing
    return this.#db.tx(async (q) => {
      const rows = (await q.query<Row>(`DELETE FROM personal_access_tokens ${c.where()} RETURNING *`, c.params)).rows.map(record);
      for (const r of rows) await this.#audit.record(q, audit(r));
      return rows.sort((a, b) => a.username.localeCompare(b.username) || a.createdAt.getTime() - b.createdAt.getTime());
    });
  }

  async holders(): Promise<Array<{ realm: string; userId: string; username: string }>> {
    const rows = await this.#db.query<{ realm: string; user_id: string; username: string }>(
      'SELECT realm, user_id, min(username) AS username FROM personal_access_tokens GROUP BY realm, user_id ORDER BY realm, user_id',
    );
    return rows.rows.map((r) => ({ realm: r.realm, userId: r.user_id, username: r.username }));
  }

  async renameUser(realm: string, userId: string, username: string): Promise<number> {
    const r = await this.#db.query('UPDATE personal_access_tokens SET username = $3 WHERE realm = $1 AND user_id = $2 AND username <> $3', [
      realm,
      userId,
      username,
    ]);
    return r.rowCount ?? 0;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.#db.query(
      'UPDATE personal_access_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)',
      [id, at],
    );
  }

  async audit(event: AuditEventInput): Promise<void> {
    await this.#audit.record(this.#db, event);
  }
}
