/** The PostgreSQL side of idempotent requests (http/idempotency.ts), shared by every replica. */
import type { Queryable } from './database.ts';

export interface IdempotencyRecord {
  readonly requestHash: string;
  readonly serial: string;
  /** Undefined while the first attempt runs. */
  readonly status: number | undefined;
  readonly response: unknown;
  readonly ageSeconds: number;
}

/** How long keys are kept. */
export const IDEMPOTENCY_KEEP_HOURS = 24;

export class PgIdempotencyStore {
  readonly #db: Queryable;
  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Claims `key` for a first attempt; undefined when claimed, else the record of the attempt that claimed it. */
  async claim(scope: string, key: string, requestHash: string, serial: string): Promise<IdempotencyRecord | undefined> {
    await this.#db.query(
      `DELETE FROM idempotency_keys
        WHERE scope = $1 AND key = $2 AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEEP_HOURS})`,
      [scope, key],
    );
    const claimed = await this.#db.query(
      'INSERT INTO idempotency_keys (scope, key, request_hash, serial) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING',
      [scope, key, requestHash, serial],
    );
    if (claimed.rowCount === 1) return undefined;
    const r = await this.#db.query<{ request_hash: string; serial: string; status: number | null; response: unknown; age: number }>(
      `SELECT request_hash, serial, status, response, extract(epoch FROM now() - created_at)::float8 AS age
         FROM idempotency_keys WHERE scope = $1 AND key = $2`,
      [scope, key],
    );
    const row = r.rows[0];
    if (!row) return this.claim(scope, key, requestHash, serial); // released meanwhile
    return {
      requestHash: row.request_hash,
      serial: row.serial,
      status: row.status ?? undefined,
      response: row.response,
      ageSeconds: row.age,
    };
  }

  /** Records the answer of the attempt that claimed `key`. */
  async complete(scope: string, key: string, status: number, response: unknown): Promise<void> {
    await this.#db.query('UPDATE idempotency_keys SET status = $3, response = $4 WHERE scope = $1 AND key = $2', [
      scope,
      key,
      status,
      JSON.stringify(response),
    ]);
  }

  /** Gives `key` up after a failed attempt that stored nothing: a retry runs anew. */
  async release(scope: string, key: string): Promise<void> {
    await this.#db.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL', [scope, key]);
  }

  /** Deletes the keys older than {@link IDEMPOTENCY_KEEP_HOURS}; returns how many. */
  async expire(): Promise<number> {
    const r = await this.#db.query(
      `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEEP_HOURS})`,
    );
    return r.rowCount ?? 0;
  }
}
