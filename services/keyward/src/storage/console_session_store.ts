/**
 * The PostgreSQL side of web console sessions (http/console/sessions.ts), shared by every replica.
 * Rows are found by the SHA-256 of the cookie value; the tokens column holds a sealed blob only.
 */
import type { AuditEventInput } from '../audit/event.ts';
import type { AuditLog } from './audit_log.ts';
import type { Database, Queryable } from './database.ts';

export interface ConsoleSessionRow {
  readonly idHash: Buffer;
  readonly realm: string;
  readonly subject: string;
  readonly username: string;
  readonly name: string | undefined;
  readonly tokens: unknown;
  readonly accessExpiresAt: Date;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly expiresAt: Date;
  readonly idleExpiresAt: Date;
}

interface Raw {
  id_hash: Buffer;
  realm: string;
  subject: string;
  username: string;
  name: string | null;
  tokens: unknown;
  access_expires_at: Date;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  idle_expires_at: Date;
}

const row = (r: Raw): ConsoleSessionRow => ({
  idHash: r.id_hash,
  realm: r.realm,
  subject: r.subject,
  username: r.username,
  name: r.name ?? undefined,
  tokens: r.tokens,
  accessExpiresAt: r.access_expires_at,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
  idleExpiresAt: r.idle_expires_at,
});

export class PgConsoleSessionStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async insert(s: ConsoleSessionRow, event: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await q.query(
        `INSERT INTO console_sessions (id_hash, realm, subject, username, name, tokens, access_expires_at, created_at, last_seen_at,
                                       expires_at, idle_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          s.idHash,
          s.realm,
          s.subject,
          s.username,
          s.name ?? null,
          JSON.stringify(s.tokens),
          s.accessExpiresAt,
          s.createdAt,
          s.lastSeenAt,
          s.expiresAt,
          s.idleExpiresAt,
        ],
      );
      await this.#audit.record(q, event);
    });
  }

  async find(idHash: Buffer): Promise<ConsoleSessionRow | undefined> {
    const r = await this.#db.query<Raw>({ name: 'console_session_find', text: 'SELECT * FROM console_sessions WHERE id_hash = $1' }, [
      idHash,
    ]);
    return r.rows[0] ? row(r.rows[0]) : undefined;
  }

  /**
   * Runs `fn` holding the row's lock (SELECT … FOR UPDATE): one refresh at a
   * time per session across replicas; a second caller waits and then sees
   * the row the first one wrote. `fn` gets undefined when the row is gone.
   */
  async locked<T>(idHash: Buffer, fn: (current: ConsoleSessionRow | undefined, q: Queryable) => Promise<T>): Promise<T> {
    return this.#db.tx(async (q) => {
      const r = await q.query<Raw>('SELECT * FROM console_sessions WHERE id_hash = $1 FOR UPDATE', [idHash]);
      return fn(r.rows[0] ? row(r.rows[0]) : undefined, q);
    });
  }

  async updateTokens(q: Queryable, idHash: Buffer, tokens: unknown, accessExpiresAt: Date): Promise<void> {
    await q.query('UPDATE console_sessions SET tokens = $2, access_expires_at = $3 WHERE id_hash = $1', [
      idHash,
      JSON.stringify(tokens),
      accessExpiresAt,
    ]);
  }

  /** Records activity: the idle deadline moves (never past the absolute one). */
  async touch(idHash: Buffer, now: Date, idleExpiresAt: Date): Promise<void> {
    await this.#db.query(
      {
        name: 'console_session_touch',
        text: 'UPDATE console_sessions SET last_seen_at = $2, idle_expires_at = LEAST($3, expires_at) WHERE id_hash = $1',
      },
      [idHash, now, idleExpiresAt],
    );
  }

  /** Deletes a session; with an audit event when given. Whether a row was deleted. */
  async delete(idHash: Buffer, event?: AuditEventInput, q?: Queryable): Promise<boolean> {
    const run = async (tx: Queryable) => {
      const r = await tx.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
      if (r.rowCount === 1 && event) await this.#audit.record(tx, event);
      return r.rowCount === 1;
    };
    return q ? run(q) : this.#db.tx(run);
  }

  /** Deletes sessions past either deadline (the leader's periodic sweep); how many. */
  async sweep(now: Date): Promise<number> {
    const r = await this.#db.query('DELETE FROM console_sessions WHERE LEAST(expires_at, idle_expires_at) <= $1', [now]);
    return r.rowCount ?? 0;
  }
}
