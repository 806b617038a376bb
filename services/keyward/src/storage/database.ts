/**
 * The PostgreSQL store: a pool, transactions, and forward-only migrations.
 *
 * Every state change runs in one transaction (`tx`). Errors of the driver are
 * translated at this boundary: connection failures become `store.unavailable`
 * (503), unique violations (SQLSTATE 23505) become `store.conflict` unless the
 * caller maps them to its own `*.exists` code with {@link isUniqueViolation}.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { KeywardError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/log.ts';

/** SQL text, or a named statement that PostgreSQL prepares once per connection (hot paths). */
export type Statement = string | { readonly name: string; readonly text: string };

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: Statement, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction; rolls back on throw. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly pool: pg.Pool;
}

const CONNECTION_CODES = new Set([
  '57014', // canceled by statement_timeout: the database is too slow to answer
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === '23505';
}

function translate(err: unknown): unknown {
  if (err instanceof KeywardError) return err;
  const code = (err as { code?: string } | undefined)?.code;
  if (
    (code && CONNECTION_CODES.has(code)) ||
    /Connection terminated|timeout exceeded when trying to connect|Query read timeout/i.test(String((err as Error)?.message))
  ) {
    return new KeywardError('store.unavailable', 'The database is unreachable', { cause: err, headers: { 'Retry-After': '5' } });
  }
  return err;
}

/**
 * The WHERE clause of a filtered listing, built from parameters: `add('col = ?', v)`
 * binds v as the next parameter (each `?` of the fragment names it); `bind(v)`
 * binds v and returns its placeholder, for fragments joined another way
 * (`OR`); `raw` adds a fragment without parameters; `where()` is the clause,
 * empty when nothing was added; `page(max, first)` binds LIMIT and OFFSET.
 * @example
 * const c = conditions();
 * c.add('realm = ?', 'demo');
 * db.query(`SELECT * FROM approvals ${c.where()} ${c.page(50, 0)}`, c.params); // WHERE realm = $1 LIMIT $2 OFFSET $3
 */
export function conditions(initial: readonly string[] = [], initialParams: readonly unknown[] = []) {
  const parts = [...initial];
  const params = [...initialParams];
  const bind = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  return {
    params,
    bind,
    add(sql: string, value: unknown): void {
      const placeholder = bind(value);
      parts.push(sql.replaceAll('?', placeholder));
    },
    raw(sql: string): void {
      parts.push(sql);
    },
    where(): string {
      return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
    },
    page(max: number, first: number): string {
      return `LIMIT ${bind(max)} OFFSET ${bind(first)}`;
    },
  };
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * An INSERT of one row or several, built from parameters: a column per key of
 * the first row (in its order; every row has the same keys), each value bound
 * as a parameter numbered from `firstParam` (to join another statement).
 * Names are our own identifiers (TypeError otherwise), never input.
 * @example
 * insertInto('realm_settings', { realm: 'demo', key: 'devices', value: '{}' })
 * // → { sql: 'INSERT INTO realm_settings (realm, key, value) VALUES ($1, $2, $3)', params: ['demo', 'devices', '{}'] }
 */
export function insertInto(
  table: string,
  rows: Readonly<Record<string, unknown>> | readonly Readonly<Record<string, unknown>>[],
  firstParam = 1,
): { sql: string; params: unknown[] } {
  const list = Array.isArray(rows) ? (rows as readonly Readonly<Record<string, unknown>>[]) : [rows as Readonly<Record<string, unknown>>];
  const columns = Object.keys(list[0] ?? {});
  for (const name of [table, ...columns]) if (!IDENTIFIER.test(name)) throw new TypeError(`${name} is not an SQL identifier`);
  if (!columns.length) throw new TypeError(`an insert into ${table} needs a row and a column`);
  if (!Number.isInteger(firstParam) || firstParam < 1) throw new TypeError('firstParam must be a whole number from 1');
  const params: unknown[] = [];
  const values = list.map((row) => {
    const keys = Object.keys(row);
    if (keys.length !== columns.length || keys.some((k, i) => k !== columns[i]))
      throw new TypeError(`every row inserted into ${table} has the columns ${columns.join(', ')}`);
    const placeholders = keys.map((k) => {
      params.push(row[k]);
      return `$${firstParam + params.length - 1}`;
    });
    return `(${placeholders.join(', ')})`;
  });
  return { sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values.join(', ')}`, params };
}

/**
 * Opens a pool on `url`. Does not connect until the first query.
 *
 * `timeoutMs` bounds every statement: PostgreSQL cancels it after that long
 * (statement_timeout), and the client gives up 5 s later still when the server
 * does not answer at all (a stalled server or a cut network), so that a request
 * fails fast with 503 `store.unavailable` instead of hanging. Without it,
 * statements are unbounded (migrations, tools).
 */
export function openDatabase(url: string, options: { max?: number; log?: Logger; timeoutMs?: number | undefined } = {}): Database {
  const bounded = options.timeoutMs ? { statement_timeout: options.timeoutMs, query_timeout: options.timeoutMs + 5000 } : {};
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: Math.min(5000, options.timeoutMs || 5000),
    idleTimeoutMillis: 30_000,
    ...bounded,
  });
  pool.on('error', (err) => options.log?.warn('idle database connection failed', { err }));
  const query = async <R extends pg.QueryResultRow>(sql: Statement, params?: unknown[]) => {
    try {
      return await pool.query<R>(typeof sql === 'string' ? sql : { name: sql.name, text: sql.text }, params);
    } catch (err) {
      throw translate(err);
    }
  };
  return {
    pool,
    query,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw translate(err);
      }
      // A checked-out client that loses its connection emits 'error'; without a listener that would end the process.
      const onError = (err: Error) => options.log?.warn('database connection failed during a transaction', { err });
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const q: Queryable = {
          query: async <R extends pg.QueryResultRow>(sql: Statement, params?: unknown[]) => {
            try {
              return await client.query<R>(typeof sql === 'string' ? sql : { name: sql.name, text: sql.text }, params);
            } catch (err) {
              throw translate(err);
            }
          },
        };
        const result = await fn(q);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw translate(err);
      } finally {
        client.removeListener('error', onError);
        client.release();
      }
    },
    async ping() {
      await query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** The migration files, in order: `NNN_name.sql`. */
export function migrationFiles(): { version: number; name: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(MIGRATIONS_DIR + f, 'utf8') }));
}

/**
 * Applies pending migrations under an advisory lock, so several replicas
 * starting together apply each migration exactly once.
 * @returns the names of the migrations applied by this call.
 */
export async function migrate(db: Database, log?: Logger): Promise<string[]> {
  return db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(7372796537)'); // "keyward" as a lock id
    await q.query(
      `CREATE TABLE IF NOT EXISTS keyward_migrations
         (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await q.query<{ version: number }>('SELECT version FROM keyward_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrationFiles()) {
      if (done.has(m.version)) continue;
      await q.query(m.sql);
      await q.query('INSERT INTO keyward_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.name);
      log?.info('migration applied', { migration: m.name });
    }
    return applied;
  });
}
