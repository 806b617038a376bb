/**
 * The PostgreSQL side of idempotent requests (http/idempotency.ts), shared by every replica.
 *
 * A stored answer can carry a secret the caller sees only once (an API
 * client's secret, a personal access token, a generated private key), so it
 * is never stored in clear: each answer is sealed like a CA key — AES-256-GCM
 * under its own random data key, the data key wrapped by the key-encryption
 * key — with the row's scope and key as additional data, so that an answer
 * cannot be moved to another caller's row. Only the status stays readable.
 */
import { randomBytes } from 'node:crypto';
import { kekId } from '../ca/index.ts';
import { box, unbox, type Box } from './envelope.ts';
import type { Queryable } from './database.ts';

/** A stored answer: `{ v: 1, kek, wrapped, answer }`, all base64 inside. */
export interface SealedAnswer {
  readonly v: 1;
  readonly kek: string;
  readonly wrapped: Box;
  readonly answer: Box;
}

/**
 * Seals a JSON answer under the KEK, bound to `aad` (the row's scope and key).
 * @example const sealed = sealAnswer(kek, 'realm/realm/sub\0key', { secret: '…' });
 */
export function sealAnswer(kek: Uint8Array, aad: string, answer: unknown): SealedAnswer {
  const id = kekId(kek);
  const dataKey = randomBytes(32);
  const plain = Buffer.from(JSON.stringify(answer ?? null));
  try {
    return { v: 1, kek: id, wrapped: box(kek, dataKey, `kek:${id}`), answer: box(dataKey, plain, `idempotency:${aad}`) };
  } finally {
    dataKey.fill(0);
    plain.fill(0);
  }
}

const isSealed = (v: unknown): v is SealedAnswer =>
  typeof v === 'object' && v !== null && (v as SealedAnswer).v === 1 && typeof (v as SealedAnswer).kek === 'string';

/**
 * Opens what {@link sealAnswer} sealed; TypeError when it was sealed under another KEK or was tampered with
 * (it comes from our own database). Answers stored in clear by an earlier version are returned as they are.
 */
export function openAnswer(kek: Uint8Array, aad: string, stored: unknown): unknown {
  if (!isSealed(stored)) return stored;
  const id = kekId(kek);
  if (stored.kek !== id)
    throw new TypeError(`a stored idempotent answer is sealed under KEK ${stored.kek}, but the configured key-encryption key is ${id}`);
  let dataKey: Buffer | undefined;
  try {
    dataKey = unbox(kek, stored.wrapped, `kek:${id}`);
    return JSON.parse(unbox(dataKey, stored.answer, `idempotency:${aad}`).toString('utf8'));
  } catch (err) {
    throw new TypeError('a stored idempotent answer failed authentication (corrupted, tampered with, or moved)', { cause: err });
  } finally {
    dataKey?.fill(0);
  }
}

const aadOf = (scope: string, key: string) => `${scope}\0${key}`;

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
  readonly #kek: Uint8Array;
  /** `kek`: the key-encryption key that seals stored answers (32 bytes). */
  constructor(db: Queryable, kek: Uint8Array) {
    if (!(kek instanceof Uint8Array) || kek.length !== 32) throw new TypeError('a key-encryption key must be 32 bytes');
    this.#db = db;
    this.#kek = kek;
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
      response: row.status === null ? undefined : openAnswer(this.#kek, aadOf(scope, key), row.response),
      ageSeconds: row.age,
    };
  }

  /** Records the answer of the attempt that claimed `key`, sealed under the KEK. */
  async complete(scope: string, key: string, status: number, response: unknown): Promise<void> {
    await this.#db.query('UPDATE idempotency_keys SET status = $3, response = $4 WHERE scope = $1 AND key = $2', [
      scope,
      key,
      status,
      JSON.stringify(sealAnswer(this.#kek, aadOf(scope, key), response)),
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
