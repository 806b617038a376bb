/**
 * PostgreSQL implementation of the ACME store port (acme/ports.ts), shared by
 * every replica: nonces are consumed with DELETE … RETURNING, so a nonce is
 * accepted once whichever replica sees it; an EAB key is consumed in the
 * transaction that creates its account.
 *
 * EAB HMAC keys must be kept to verify bindings: each is sealed like a CA key
 * (AES-256-GCM under its own data key, the data key wrapped by the
 * key-encryption key), bound to its kid as additional data.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../audit/event.ts';
import type {
  AccountRecord,
  AcmeStore,
  AuthorizationRecord,
  ChallengeRecord,
  ClientRef,
  EabKeyRecord,
  NewOrder,
  OrderRecord,
  OrderStatus,
} from '../acme/ports.ts';
import type { ProblemDocument } from '../acme/problem.ts';
import { kekId } from '../ca/index.ts';
import { box, unbox, type Box } from './envelope.ts';
import type { AuditLog } from './audit_log.ts';
import { isUniqueViolation, type Database, type Queryable } from './database.ts';

interface Sealed {
  readonly v: 1;
  readonly kek: string;
  readonly wrapped: Box;
  readonly data: Box;
}

/** Seals an EAB HMAC key under the KEK, bound to its kid. */
export function sealHmacKey(kek: Uint8Array, kid: string, key: Uint8Array): Sealed {
  const id = kekId(kek);
  const dataKey = randomBytes(32);
  try {
    return { v: 1, kek: id, wrapped: box(kek, dataKey, `kek:${id}`), data: box(dataKey, key, `acme-eab:${kid}`) };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens a sealed EAB HMAC key; TypeError when it was sealed under another KEK or was tampered with. */
export function openHmacKey(kek: Uint8Array, kid: string, sealed: Sealed): Uint8Array {
  const id = kekId(kek);
  if (sealed.kek !== id) throw new TypeError(`the EAB key ${kid} is sealed under KEK ${sealed.kek}, not the configured ${id}`);
  const dataKey = unbox(kek, sealed.wrapped, `kek:${id}`);
  try {
    return new Uint8Array(unbox(dataKey, sealed.data, `acme-eab:${kid}`));
  } finally {
    dataKey.fill(0);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const opt = <T>(v: T | null): T | undefined => v ?? undefined;
const client = (r: any): ClientRef => ({ realm: r.client_realm, clientId: r.client_id, subject: r.client_subject });
const account = (r: any): AccountRecord => ({
  id: r.id,
  realm: r.realm,
  thumbprint: r.thumbprint,
  jwk: r.jwk,
  status: r.status,
  contact: r.contact,
  eabKid: r.eab_kid,
  client: client(r),
  createdAt: r.created_at,
});
const order = (r: any): OrderRecord => ({
  id: r.id,
  realm: r.realm,
  accountId: r.account_id,
  policy: opt(r.policy),
  status: r.status,
  identifiers: r.identifiers,
  notBefore: opt(r.not_before),
  notAfter: opt(r.not_after),
  expiresAt: r.expires_at,
  error: opt(r.error),
  requestId: opt(r.request_id),
  serial: opt(r.serial),
  replaces: opt(r.replaces),
  createdAt: r.created_at,
});
const authz = (r: any): AuthorizationRecord => ({
  id: r.id,
  orderId: r.order_id,
  accountId: r.account_id,
  realm: r.realm,
  identifier: r.identifier,
  wildcard: r.wildcard,
  status: r.status,
  expiresAt: r.expires_at,
});
const challenge = (r: any): ChallengeRecord => ({
  id: r.id,
  authzId: r.authz_id,
  type: r.type,
  token: r.token,
  status: r.status,
  validatedAt: opt(r.validated_at),
  error: opt(r.error),
});
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

export class PgAcmeStore implements AcmeStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  readonly #kek: Uint8Array;

  constructor(db: Database, audit: AuditLog, kek: Uint8Array) {
    this.#db = db;
    this.#audit = audit;
    this.#kek = kek;
  }

  async addNonce(nonce: string, expiresAt: Date): Promise<void> {
    await this.#db.query({ name: 'acme_nonce_add', text: 'INSERT INTO acme_nonces (nonce, expires_at) VALUES ($1, $2)' }, [
      nonce,
      expiresAt,
    ]);
  }

  async consumeNonce(nonce: string, now: Date): Promise<boolean> {
    const r = await this.#db.query({ name: 'acme_nonce_consume', text: 'DELETE FROM acme_nonces WHERE nonce = $1 RETURNING expires_at' }, [
      nonce,
    ]);
    const row = r.rows[0] as { expires_at: Date } | undefined;
    return row !== undefined && row.expires_at > now;
  }

  async expireNonces(now: Date): Promise<number> {
    return (await this.#db.query('DELETE FROM acme_nonces WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  async insertEabKey(rec: EabKeyRecord, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await q.query(
        `INSERT INTO acme_eab_keys (kid, realm, client_realm, client_id, client_subject, hmac_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          rec.kid,
          rec.realm,
          rec.client.realm,
          rec.client.clientId,
          rec.client.subject,
          JSON.stringify(sealHmacKey(this.#kek, rec.kid, rec.hmacKey)),
          rec.createdAt,
        ],
      );
      await this.#audit.record(q, audit);
    });
  }

  #eab(r: any): EabKeyRecord {
    return {
      kid: r.kid,
      realm: r.realm,
      client: client(r),
      hmacKey: openHmacKey(this.#kek, r.kid, r.hmac_sealed),
      createdAt: r.created_at,
      usedAt: opt(r.used_at),
      accountId: opt(r.account_id),
      revokedAt: opt(r.revoked_at),
    };
  }

  async findEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    const r = await this.#db.query('SELECT * FROM acme_eab_keys WHERE kid = $1', [kid]);
    return r.rows[0] ? this.#eab(r.rows[0]) : undefined;
  }

  async listEabKeys(realm: string, c: ClientRef): Promise<EabKeyRecord[]> {
    const r = await this.#db.query(
      'SELECT * FROM acme_eab_keys WHERE realm = $1 AND client_realm = $2 AND client_id = $3 ORDER BY created_at, kid LIMIT 1000',
      [realm, c.realm, c.clientId],
    );
    return r.rows.map((row) => this.#eab(row));
  }

  async revokeEabKey(realm: string, kid: string, c: ClientRef, at: Date, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const r = await q.query(
        `UPDATE acme_eab_keys SET revoked_at = $5
          WHERE kid = $1 AND realm = $2 AND client_realm = $3 AND client_id = $4 AND revoked_at IS NULL`,
        [kid, realm, c.realm, c.clientId, at],
      );
      if (r.rowCount !== 1) return false;
      // The account it bound stops too: revoking a used key is how its API client cuts the account off.
      await q.query(`UPDATE acme_accounts SET status = 'deactivated' WHERE eab_kid = $1 AND status = 'valid'`, [kid]);
      await this.#audit.record(q, audit);
      return true;
    });
  }

  async createAccount(rec: AccountRecord, audit: AuditEventInput): Promise<'created' | 'eab_used' | 'exists'> {
    try {
      return await this.#db.tx(async (q) => {
        const used = await q.query(
          `UPDATE acme_eab_keys SET used_at = $2, account_id = $3
            WHERE kid = $1 AND used_at IS NULL AND revoked_at IS NULL`,
          [rec.eabKid, rec.createdAt, rec.id],
        );
        if (used.rowCount !== 1) return 'eab_used' as const;
        await q.query(
          `INSERT INTO acme_accounts
             (id, realm, thumbprint, jwk, status, contact, eab_kid, client_realm, client_id, client_subject, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            rec.id,
            rec.realm,
            rec.thumbprint,
            JSON.stringify(rec.jwk),
            rec.status,
            JSON.stringify(rec.contact),
            rec.eabKid,
            rec.client.realm,
            rec.client.clientId,
            rec.client.subject,
            rec.createdAt,
          ],
        );
        await this.#audit.record(q, audit);
        return 'created' as const;
      });
    } catch (err) {
      if (isUniqueViolation(err)) return 'exists';
      throw err;
    }
  }

  async findAccount(realm: string, id: string): Promise<AccountRecord | undefined> {
    const r = await this.#db.query({ name: 'acme_account_find', text: 'SELECT * FROM acme_accounts WHERE realm = $1 AND id = $2' }, [
      realm,
      id,
    ]);
    return r.rows[0] ? account(r.rows[0]) : undefined;
  }

  async findAccountByThumbprint(realm: string, thumbprint: string): Promise<AccountRecord | undefined> {
    const r = await this.#db.query('SELECT * FROM acme_accounts WHERE realm = $1 AND thumbprint = $2', [realm, thumbprint]);
    return r.rows[0] ? account(r.rows[0]) : undefined;
  }

  async updateAccount(
    realm: string,
    id: string,
    change: { contact?: readonly string[]; status?: AccountRecord['status']; jwk?: Record<string, unknown>; thumbprint?: string },
    audit: AuditEventInput,
  ): Promise<AccountRecord | undefined> {
    try {
      return await this.#db.tx(async (q) => {
        const r = await q.query(
          `UPDATE acme_accounts SET contact = coalesce($3, contact), status = coalesce($4, status),
                  jwk = coalesce($5, jwk), thumbprint = coalesce($6, thumbprint)
            WHERE realm = $1 AND id = $2 AND status = 'valid' RETURNING *`,
          [realm, id, json(change.contact), change.status ?? null, json(change.jwk), change.thumbprint ?? null],
        );
        if (!r.rows[0]) return undefined;
        await this.#audit.record(q, audit);
        return account(r.rows[0]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw Object.assign(new Error('the new account key is in use'), { code: 'key_in_use' });
      throw err;
    }
  }

  async insertOrder(o: NewOrder, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      const r = o.order;
      await q.query(
        `INSERT INTO acme_orders
           (id, realm, account_id, policy, status, identifiers, not_before, not_after, expires_at, replaces, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          r.id,
          r.realm,
          r.accountId,
          r.policy ?? null,
          r.status,
          JSON.stringify(r.identifiers),
          r.notBefore ?? null,
          r.notAfter ?? null,
          r.expiresAt,
          r.replaces ?? null,
          r.createdAt,
        ],
      );
      for (const { authz: a, challenges } of o.authorizations) {
        await q.query(
          `INSERT INTO acme_authorizations (id, order_id, account_id, realm, identifier, wildcard, status, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [a.id, a.orderId, a.accountId, a.realm, JSON.stringify(a.identifier), a.wildcard, a.status, a.expiresAt],
        );
        for (const c of challenges) {
          await q.query('INSERT INTO acme_challenges (id, authz_id, type, token, status) VALUES ($1, $2, $3, $4, $5)', [
            c.id,
            c.authzId,
            c.type,
            c.token,
            c.status,
          ]);
        }
      }
      await this.#audit.record(q, audit);
    });
  }

  async findOrder(realm: string, id: string): Promise<OrderRecord | undefined> {
    const r = await this.#db.query({ name: 'acme_order_find', text: 'SELECT * FROM acme_orders WHERE realm = $1 AND id = $2' }, [
      realm,
      id,
    ]);
    return r.rows[0] ? order(r.rows[0]) : undefined;
  }

  async listOrders(realm: string, accountId: string, max: number): Promise<OrderRecord[]> {
    const r = await this.#db.query('SELECT * FROM acme_orders WHERE realm = $1 AND account_id = $2 ORDER BY created_at DESC, id LIMIT $3', [
      realm,
      accountId,
      max,
    ]);
    return r.rows.map(order);
  }

  async authorizationsOf(orderId: string): Promise<AuthorizationRecord[]> {
    const r = await this.#db.query('SELECT * FROM acme_authorizations WHERE order_id = $1 ORDER BY id', [orderId]);
    return r.rows.map(authz);
  }

  async findAuthorization(realm: string, id: string): Promise<AuthorizationRecord | undefined> {
    const r = await this.#db.query('SELECT * FROM acme_authorizations WHERE realm = $1 AND id = $2', [realm, id]);
    return r.rows[0] ? authz(r.rows[0]) : undefined;
  }

  async challengesOf(authzId: string): Promise<ChallengeRecord[]> {
    const r = await this.#db.query('SELECT * FROM acme_challenges WHERE authz_id = $1 ORDER BY type', [authzId]);
    return r.rows.map(challenge);
  }

  async findChallenge(realm: string, id: string): Promise<{ challenge: ChallengeRecord; authz: AuthorizationRecord } | undefined> {
    const r = await this.#db.query(
      `SELECT c.*, row_to_json(a.*) AS authz FROM acme_challenges c JOIN acme_authorizations a ON a.id = c.authz_id
        WHERE a.realm = $1 AND c.id = $2`,
      [realm, id],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const a = row.authz;
    return { challenge: challenge(row), authz: authz({ ...a, expires_at: new Date(a.expires_at) }) };
  }

  async moveOrder(
    realm: string,
    id: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    extra: { error?: ProblemDocument; requestId?: string; serial?: string },
    audit?: AuditEventInput,
  ): Promise<OrderRecord | undefined> {
    return this.#db.tx(async (q) => {
      const r = await q.query(
        `UPDATE acme_orders SET status = $4, error = coalesce($5, error), request_id = coalesce($6, request_id),
                serial = coalesce($7, serial)
          WHERE realm = $1 AND id = $2 AND status = ANY($3::text[]) RETURNING *`,
        [realm, id, [...from], to, json(extra.error), extra.requestId ?? null, extra.serial ?? null],
      );
      if (!r.rows[0]) return undefined;
      if (audit) await this.#audit.record(q, audit);
      return order(r.rows[0]);
    });
  }

  async startChallenge(id: string, at: Date, staleBefore?: Date): Promise<boolean> {
    const r = await this.#db.query(
      `UPDATE acme_challenges SET status = 'processing', validated_at = $2
        WHERE id = $1 AND (status = 'pending' OR (status = 'processing' AND $3::timestamptz IS NOT NULL AND validated_at < $3))`,
      [id, at, staleBefore ?? null],
    );
    return r.rowCount === 1;
  }

  async finishChallenge(
    challengeId: string,
    outcome: { status: 'valid' | 'invalid'; error?: ProblemDocument | undefined; at: Date },
    audit: AuditEventInput,
  ): Promise<void> {
    await this.#db.tx(async (q: Queryable) => {
      const c = await q.query(
        `UPDATE acme_challenges SET status = $2, error = $3, validated_at = CASE WHEN $2 = 'valid' THEN $4::timestamptz END
          WHERE id = $1 AND status = 'processing' RETURNING authz_id`,
        [challengeId, outcome.status, json(outcome.error), outcome.at],
      );
      const authzId = (c.rows[0] as { authz_id: string } | undefined)?.authz_id;
      if (!authzId) return;
      const a = await q.query(`UPDATE acme_authorizations SET status = $2 WHERE id = $1 AND status = 'pending' RETURNING order_id`, [
        authzId,
        outcome.status,
      ]);
      const orderId = (a.rows[0] as { order_id: string } | undefined)?.order_id;
      if (orderId) {
        if (outcome.status === 'invalid') {
          await q.query(`UPDATE acme_orders SET status = 'invalid', error = $2 WHERE id = $1 AND status IN ('pending', 'ready')`, [
            orderId,
            json(outcome.error),
          ]);
        } else {
          await q.query(
            `UPDATE acme_orders SET status = 'ready' WHERE id = $1 AND status = 'pending'
               AND NOT EXISTS (SELECT 1 FROM acme_authorizations WHERE order_id = $1 AND status <> 'valid')`,
            [orderId],
          );
        }
      }
      await this.#audit.record(q, audit);
    });
  }

  async deactivateAuthorization(realm: string, id: string, audit: AuditEventInput): Promise<AuthorizationRecord | undefined> {
    return this.#db.tx(async (q) => {
      const r = await q.query(
        `UPDATE acme_authorizations SET status = 'deactivated' WHERE realm = $1 AND id = $2 AND status IN ('pending', 'valid') RETURNING *`,
        [realm, id],
      );
      if (!r.rows[0]) return undefined;
      const a = authz(r.rows[0]);
      await q.query(`UPDATE acme_orders SET status = 'invalid' WHERE id = $1 AND status IN ('pending', 'ready')`, [a.orderId]);
      await this.#audit.record(q, audit);
      return a;
    });
  }

  async findOrderBySerial(realm: string, serial: string): Promise<OrderRecord | undefined> {
    const r = await this.#db.query('SELECT * FROM acme_orders WHERE realm = $1 AND serial = $2', [realm, serial]);
    return r.rows[0] ? order(r.rows[0]) : undefined;
  }

  async audit(event: AuditEventInput): Promise<void> {
    await this.#db.tx((q) => this.#audit.record(q, event));
  }
}
