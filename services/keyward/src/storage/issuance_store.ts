/** PostgreSQL implementation of the issuance store port. */
import type { AuditLog } from './audit_log.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { EventInput } from '../events/catalogue.ts';
import { OUTBOX_COLUMNS, outboxInsertSql, outboxRow, recordEvent } from '../events/outbox.ts';
import {
  asKeyBlob,
  splitPemCertificates,
  type CaKeyRef,
  type RevocationReason,
  type RevokedCertificate,
  type StoredCa,
} from '../ca/index.ts';
import type {
  CertificateFilter,
  CertificateRecord,
  CertificateSummary,
  EndEntityRecord,
  IssuanceStore,
  IssuanceTx,
  NewCertificateRecord,
  RequestRecord,
  StoredCrl,
  StoredDeltaCrl,
} from '../issuance/ports.ts';
import { conditions, isUniqueViolation, type Database, type Queryable } from './database.ts';
import { announce, CHANNELS } from './notifications.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const ca = (r: any): StoredCa => ({
  id: r.id,
  realm: r.realm ?? undefined,
  kind: r.kind,
  subject: r.subject,
  certificatePem: r.certificate_pem,
  chainPem: splitPemCertificates(r.chain_pem),
  key: r.key_ref ? caKeyRef(r.key_ref) : { store: 'sealed', blob: asKeyBlob(r.key_blob) },
  keyType: r.key_type,
  notAfter: r.not_after,
  imported: r.imported,
  state: r.state ?? (r.active ? 'active' : 'retired'),
});
/** A stored PKCS#11 key reference (our own data: a bad one is a TypeError). */
const caKeyRef = (v: any): CaKeyRef => {
  if (v?.store !== 'pkcs11' || typeof v.token !== 'string' || typeof v.id !== 'string') throw new TypeError('not a CA key reference');
  return { store: 'pkcs11', token: v.token, id: v.id };
};
const cert = (r: any): CertificateRecord => ({
  serial: r.serial,
  realm: r.realm,
  caId: r.ca_id,
  subject: r.subject,
  sans: r.sans,
  policy: r.policy,
  endEntity: r.end_entity ?? undefined,
  requestId: r.request_id ?? undefined,
  requester: r.requester,
  keyType: r.key_type,
  notBefore: r.not_before,
  notAfter: r.not_after,
  status: r.status,
  revokedAt: r.revoked_at ?? undefined,
  revocationReason: r.revocation_reason ?? undefined,
  der: r.der,
  createdAt: r.created_at,
});
const request = (r: any): RequestRecord => ({
  id: r.id,
  realm: r.realm,
  status: r.status,
  csrPem: r.csr_pem,
  policy: r.policy,
  validitySeconds: r.validity_seconds ?? r.validity_days * 86_400,
  endEntity: r.end_entity ?? undefined,
  subject: r.subject,
  sans: r.sans,
  requester: r.requester,
  decidedBy: r.decided_by ?? undefined,
  reason: r.reason ?? undefined,
  serial: r.serial ?? undefined,
  createdAt: r.created_at,
  decidedAt: r.decided_at ?? undefined,
});
const entity = (r: any): EndEntityRecord => ({
  realm: r.realm,
  name: r.name,
  subject: r.subject,
  sans: r.sans,
  policy: r.policy,
  createdBy: r.created_by,
  createdAt: r.created_at,
});
const crl = (r: any): StoredCrl => ({
  caId: r.ca_id,
  crlNumber: BigInt(r.crl_number),
  thisUpdate: r.this_update,
  nextUpdate: r.next_update,
  der: r.der,
  revocations: Number(r.revocations),
});

interface PendingIssued {
  c: NewCertificateRecord;
  audit: AuditEventInput;
  event: EventInput;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Batches of issued certificates being written at once, at most (each on its own connection). */
const MAX_WRITES = 3;
/** While a batch is being written, the next one waits for this many certificates (bigger batches, fewer commits). */
const MIN_OVERLAPPING_BATCH = 16;
/**
 * Batch sizes are powers of two up to this: each size is one prepared
 * statement per connection (parsed and planned once), and a handful of sizes
 * keeps that set small.
 */
const MAX_BATCH = 64;
const CERT_INSERT_COLUMNS = 14;

const CERT_INSERT =
  'INSERT INTO certificates (serial, realm, ca_id, subject, sans, policy, end_entity, request_id, requester, requester_key, key_type, ' +
  'not_before, not_after, der)';

/** `($k+1,…,$k+columns)` for each of `rows` rows, parameters numbered from `offset + 1`. */
function placeholders(rows: number, columns: number, offset: number): string {
  return Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: columns }, (_, k) => `$${offset + r * columns + k + 1}`).join(',')})`,
  ).join(',');
}

/**
 * The statement for `n` certificates, their audit events and their lifecycle
 * events: one data-modifying CTE, all rows or none. Each audit row is the
 * audit log's own complete INSERT (`audit.insertSql`, its parameters numbered
 * after the certificates'), one CTE member per event; then the outbox rows
 * (events/outbox.ts), numbered after the audit rows.
 */
function insertIssuedSql(n: number, auditInsert: (offset: number) => string): string {
  const events = Array.from({ length: n }, (_, r) => `a${r} AS (${auditInsert(n * CERT_INSERT_COLUMNS + r * AUDIT_COLUMNS)})`);
  const outbox = Array.from(
    { length: n },
    (_, r) => `e${r} AS (${outboxInsertSql(n * (CERT_INSERT_COLUMNS + AUDIT_COLUMNS) + r * OUTBOX_COLUMNS.length)})`,
  );
  return `WITH cert AS (${CERT_INSERT} VALUES ${placeholders(n, CERT_INSERT_COLUMNS, 0)} RETURNING serial), ${events.join(', ')},
  ${outbox.join(', ')}
  SELECT count(*) FROM cert`;
}
/** Columns of an audit event row (AuditLog.insertSql). */
const AUDIT_COLUMNS = 7;

/** The parameters of one certificate row, in CERT_INSERT's column order. */
const certificateParams = (c: NewCertificateRecord): unknown[] => [
  c.serial,
  c.realm,
  c.caId,
  c.subject,
  JSON.stringify(c.sans),
  c.policy,
  c.endEntity ?? null,
  c.requestId ?? null,
  JSON.stringify(c.requester),
  `${c.requester.realm}/${c.requester.id}`,
  c.keyType,
  c.notBefore,
  c.notAfter,
  c.der,
];

const CERT_COLUMNS =
  'serial, realm, ca_id, subject, sans, policy, end_entity, request_id, requester, key_type, not_before, not_after, status, ' +
  'revoked_at, revocation_reason, der, created_at';

async function listRevoked(q: Queryable, caId: string): Promise<RevokedCertificate[]> {
  const r = await q.query<{ serial: string; revoked_at: Date; revocation_reason: RevocationReason }>(
    `SELECT serial, revoked_at, revocation_reason ${REVOKED_ORDER}`,
    [caId],
  );
  return r.rows.map((x) => ({ serialHex: x.serial, revokedAt: x.revoked_at, reason: x.revocation_reason }));
}

const REVOKED_ORDER = "FROM certificates WHERE ca_id = $1 AND status = 'revoked' ORDER BY revoked_at, serial";
/** Rows of the revoked list fetched at a time for the streamed CRL. */
export const REVOKED_BATCH = 5000;

/**
 * The CA's revoked certificates through a cursor, `batch` rows a FETCH, in
 * one snapshot (the caller's transaction): what listRevoked reads, without
 * holding every row at once. Must run inside a transaction (a cursor lives
 * until its end); the cursor is closed when the reader stops.
 */
export async function* revokedBatches(q: Queryable, caId: string, batch = REVOKED_BATCH): AsyncGenerator<RevokedCertificate[]> {
  if (!Number.isInteger(batch) || batch < 1) throw new TypeError('batch must be a positive integer');
  await q.query(`DECLARE keyward_revoked NO SCROLL CURSOR FOR SELECT serial, revoked_at, revocation_reason ${REVOKED_ORDER}`, [caId]);
  try {
    for (;;) {
      const r = await q.query<{ serial: string; revoked_at: Date; revocation_reason: RevocationReason }>(
        `FETCH FORWARD ${batch} FROM keyward_revoked`,
      );
      if (!r.rows.length) return;
      yield r.rows.map((x) => ({ serialHex: x.serial, revokedAt: x.revoked_at, reason: x.revocation_reason }));
      if (r.rows.length < batch) return;
    }
  } finally {
    await q.query('CLOSE keyward_revoked');
  }
}

/**
 * The WHERE clause of a certificate search (its rows are listed newest first,
 * then by serial). Each filter has an index (migration 017). `after` is keyset
 * paging: rows after that certificate in the listing order, written so that
 * `created_at <= …` bounds the index scan and only ties are filtered.
 */
export function certificateSearch(realm: string, f: CertificateFilter, now: Date): ReturnType<typeof conditions> {
  const c = conditions(['realm = $1'], [realm]);
  const add = c.add;
  if (f.status === 'revoked') c.raw("status = 'revoked'");
  if (f.status === 'valid') add("status = 'valid' AND not_after > ?", now);
  if (f.status === 'expired') add("status = 'valid' AND not_after <= ?", now);
  if (f.subject) add("subject ILIKE '%' || ? || '%'", f.subject);
  if (f.san) add('sans @> ?::jsonb', JSON.stringify([f.san]));
  if (f.requester) add("(requester->>'name' = ? OR requester->>'id' = ?)", f.requester);
  if (f.policy) add('policy = ?', f.policy);
  if (f.endEntity) add('end_entity = ?', f.endEntity);
  if (f.expiringBefore) add('not_after < ?', f.expiringBefore);
  if (f.expiringWithinSeconds !== undefined) {
    c.raw("status = 'valid'");
    add('not_after > ?', now);
    add('not_after <= ?', new Date(now.getTime() + f.expiringWithinSeconds * 1000));
  }
  if (f.after && f.sort === 'notAfter') {
    add('(not_after, serial) > ((SELECT not_after FROM certificates WHERE serial = ?), ?)', f.after);
  } else if (f.after) {
    const at = '(SELECT created_at FROM certificates WHERE serial = ?)';
    add(`created_at <= ${at} AND (created_at < ${at} OR serial > ?)`, f.after);
  }
  return c;
}

/** The ORDER BY of a search (migration 017's indexes for createdAt, 021's (realm, not_after, serial) for notAfter). */
export const certificateOrder = (f: CertificateFilter): string =>
  f.sort === 'notAfter' ? 'ORDER BY not_after, serial' : 'ORDER BY created_at DESC, serial';

/** Rows of an export fetched at a time. */
export const EXPORT_BATCH = 5000;

/** The columns of an export: a certificate's, without its DER. */
const SUMMARY_COLUMNS = CERT_COLUMNS.replace(', der', '');
const summary = (r: any): CertificateSummary => {
  const c: { -readonly [K in keyof CertificateRecord]?: CertificateRecord[K] } = cert(r);
  delete c.der;
  return c as CertificateSummary;
};

/** A search's rows through a cursor (see IssuanceStore.streamCertificates); `q` must be in a transaction. */
export async function* certificateBatches(
  q: Queryable,
  realm: string,
  f: CertificateFilter,
  now: Date,
  batch = EXPORT_BATCH,
): AsyncGenerator<CertificateSummary[]> {
  const c = certificateSearch(realm, f, now);
  await q.query(
    `DECLARE keyward_export NO SCROLL CURSOR FOR SELECT ${SUMMARY_COLUMNS} FROM certificates ${c.where()} ${certificateOrder(f)}`,
    c.params,
  );
  try {
    for (;;) {
      const r = await q.query(`FETCH FORWARD ${batch} FROM keyward_export`);
      if (!r.rows.length) return;
      yield r.rows.map(summary);
      if (r.rows.length < batch) return;
    }
  } finally {
    await q.query('CLOSE keyward_export');
  }
}

export class PgIssuanceStore implements IssuanceStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  transaction<T>(fn: (tx: IssuanceTx) => Promise<T>): Promise<T> {
    return this.#db.tx((q: Queryable) =>
      fn({
        insertCertificate: async (c) => {
          await q.query(`${CERT_INSERT} VALUES ${placeholders(1, CERT_INSERT_COLUMNS, 0)}`, certificateParams(c));
        },
        revoke: async (realm, serial, reason, at, holdSource) => {
          // A hold (certificateHold) applies to valid certificates; any other reason to valid and held ones alike: a hold
          // may be made permanent (RFC 5280 §5.3.1), never the other way round.
          const upd = await q.query(
            `UPDATE certificates SET status = 'revoked', revoked_at = $3, revocation_reason = $4,
               hold_source = CASE WHEN $4 = 'certificateHold' THEN $5::text END
             WHERE realm = $1 AND serial = $2
               AND (status = 'valid' OR ($4 <> 'certificateHold' AND status = 'revoked' AND revocation_reason = 'certificateHold'))
             RETURNING ${CERT_COLUMNS}`,
            [realm, serial, at, reason, holdSource ?? null],
          );
          if (upd.rows[0]) {
            await announce(q, CHANNELS.revocation, realm); // other replicas drop their OCSP answers when this commits
            return { record: cert(upd.rows[0]), changed: true };
          }
          const cur = await q.query(`SELECT ${CERT_COLUMNS} FROM certificates WHERE realm = $1 AND serial = $2`, [realm, serial]);
          return cur.rows[0] ? { record: cert(cur.rows[0]), changed: false } : undefined;
        },
        release: async (realm, serial, at, onlyHoldSource) => {
          const upd = await q.query(
            `UPDATE certificates SET status = 'valid', revoked_at = NULL, revocation_reason = NULL, released_at = $3, hold_source = NULL
             WHERE realm = $1 AND serial = $2 AND status = 'revoked' AND revocation_reason = 'certificateHold'
               AND ($4::text IS NULL OR hold_source = $4::text)
             RETURNING ${CERT_COLUMNS}`,
            [realm, serial, at, onlyHoldSource ?? null],
          );
          if (upd.rows[0]) {
            await announce(q, CHANNELS.revocation, realm);
            return { record: cert(upd.rows[0]), changed: true };
          }
          const cur = await q.query(`SELECT ${CERT_COLUMNS} FROM certificates WHERE realm = $1 AND serial = $2`, [realm, serial]);
          return cur.rows[0] ? { record: cert(cur.rows[0]), changed: false } : undefined;
        },
        releasedAt: async (caId, serials) => {
          const r = await q.query<{ serial: string; released_at: Date | null }>(
            'SELECT serial, released_at FROM certificates WHERE ca_id = $1 AND serial = ANY($2::text[])',
            [caId, [...serials]],
          );
          return new Map(r.rows.filter((x) => x.released_at).map((x) => [x.serial, x.released_at!]));
        },
        saveDeltaCrl: async (d) => {
          await q.query(
            `INSERT INTO delta_crls (ca_id, base_crl_number, base_this_update, base_der, crl_number, this_update, next_update, der,
               latest_crl_number)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
             ON CONFLICT (ca_id) DO UPDATE SET base_crl_number = EXCLUDED.base_crl_number, base_this_update = EXCLUDED.base_this_update,
               base_der = EXCLUDED.base_der, crl_number = EXCLUDED.crl_number, this_update = EXCLUDED.this_update,
               next_update = EXCLUDED.next_update, der = EXCLUDED.der, latest_crl_number = EXCLUDED.latest_crl_number
             WHERE delta_crls.crl_number < EXCLUDED.crl_number`,
            [
              d.caId,
              d.base.crlNumber.toString(),
              d.base.thisUpdate,
              d.base.der,
              d.crlNumber.toString(),
              d.thisUpdate,
              d.nextUpdate,
              d.der,
              d.latestCrlNumber.toString(),
            ],
          );
        },
        insertRequest: async (r) => {
          await q.query(
            `INSERT INTO certificate_requests (id, realm, status, csr_pem, policy, validity_days, end_entity, subject, sans, requester,
             created_at, validity_seconds)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
            [
              r.id,
              r.realm,
              r.status,
              r.csrPem,
              r.policy,
              Math.ceil(r.validitySeconds / 86_400),
              r.endEntity ?? null,
              r.subject,
              JSON.stringify(r.sans),
              JSON.stringify(r.requester),
              r.createdAt,
              r.validitySeconds,
            ],
          );
        },
        decideRequest: async (realm, id, status, by, at, extra) => {
          const res = await q.query(
            `UPDATE certificate_requests SET status = $3, decided_by = $4, decided_at = $5, reason = $6, serial = $7
           WHERE realm = $1 AND id = $2 AND status = 'pending' RETURNING *`,
            [realm, id, status, JSON.stringify(by), at, extra.reason ?? null, extra.serial ?? null],
          );
          return res.rows[0] ? request(res.rows[0]) : undefined;
        },
        insertEndEntity: async (e) => {
          try {
            await q.query(
              'INSERT INTO end_entities (realm, name, subject, sans, policy, created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)',
              [e.realm, e.name, JSON.stringify(e.subject), JSON.stringify(e.sans), e.policy, JSON.stringify(e.createdBy), e.createdAt],
            );
          } catch (err) {
            if (isUniqueViolation(err))
              throw new KeywardError('end_entity.exists', `Realm ${e.realm} already has an end entity ${e.name}`, { cause: err });
            throw err;
          }
        },
        deleteEndEntity: async (realm, name) =>
          ((await q.query('DELETE FROM end_entities WHERE realm = $1 AND name = $2', [realm, name])).rowCount ?? 0) > 0,
        nextCrlNumber: async (caId) => {
          // An advisory lock, not FOR UPDATE on the CRL row: before a CA's first CRL there is no row to lock.
          await q.query("SELECT pg_advisory_xact_lock(hashtextextended('keyward.crl:' || $1, 0))", [caId]);
          // Complete and delta CRLs share one numbering (RFC 5280 §5.2.4).
          const r = await q.query<{ n: string | null }>(
            `SELECT greatest((SELECT crl_number FROM crls WHERE ca_id = $1),
                             (SELECT crl_number FROM delta_crls WHERE ca_id = $1)) + 1 AS n`,
            [caId],
          );
          return r.rows[0]?.n ? BigInt(r.rows[0].n) : 1n;
        },
        listRevoked: (caId) => listRevoked(q, caId),
        revokedBatches: (caId, batch) => revokedBatches(q, caId, batch),
        saveCrl: async (c) => {
          await q.query(
            `INSERT INTO crls (ca_id, crl_number, this_update, next_update, der, revocations) VALUES ($1,$2,$3,$4,$5,$6)
           ON CONFLICT (ca_id) DO UPDATE SET crl_number = EXCLUDED.crl_number, this_update = EXCLUDED.this_update,
             next_update = EXCLUDED.next_update, der = EXCLUDED.der, revocations = EXCLUDED.revocations
           WHERE crls.crl_number < EXCLUDED.crl_number`,
            [c.caId, c.crlNumber.toString(), c.thisUpdate, c.nextUpdate, c.der, c.revocations],
          );
        },
        audit: (event) => this.#audit.record(q, event),
        event: (event) => recordEvent(q, event),
      }),
    );
  }

  /**
   * Stores issued certificates with their audit events. Concurrent calls are
   * coalesced into batches, each one prepared statement (a data-modifying
   * CTE: all rows or none) and one commit. Batching adapts to the load: with
   * nothing being written a certificate goes out at once (no added latency
   * when idle); while batches are being written, the next one leaves when
   * enough certificates have queued, so up to MAX_WRITES batches overlap —
   * the database commits one while this process builds and signs the next.
   * Every caller is answered only after its own rows are committed. When a
   * batch fails, its rows are retried one by one so that only the offending
   * request fails.
   */
  insertIssued(c: NewCertificateRecord, audit: AuditEventInput, event: EventInput): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ c, audit, event, resolve, reject });
      this.#pump();
    });
  }

  readonly #pending: PendingIssued[] = [];
  #writing = 0;

  #pump(): void {
    while (this.#pending.length && this.#writing < MAX_WRITES && (this.#writing === 0 || this.#pending.length >= MIN_OVERLAPPING_BATCH)) {
      let size = 1;
      while (size * 2 <= Math.min(this.#pending.length, MAX_BATCH)) size *= 2;
      const batch = this.#pending.splice(0, size);
      this.#writing++;
      void this.#write(batch).finally(() => {
        this.#writing--;
        this.#pump();
      });
    }
  }

  async #write(batch: PendingIssued[]): Promise<void> {
    try {
      await this.#insertBatch(batch);
      for (const b of batch) b.resolve();
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const b of batch) await this.#insertBatch([b]).then(b.resolve, b.reject);
    }
  }

  readonly #sql = new Map<number, string>();

  async #insertBatch(batch: readonly PendingIssued[]): Promise<void> {
    const params: unknown[] = [];
    for (const { c } of batch) params.push(...certificateParams(c));
    for (const { audit } of batch) {
      const event = this.#audit.insertSql(audit, 0).params;
      if (event.length !== AUDIT_COLUMNS) throw new Error(`AuditLog.insertSql writes ${event.length} columns, not ${AUDIT_COLUMNS}`);
      params.push(...event);
    }
    const at = new Date();
    for (const { event } of batch) params.push(...outboxRow(event, at));
    const n = batch.length;
    let text = this.#sql.get(n);
    if (!text) {
      text = insertIssuedSql(n, (offset) => this.#audit.insertSql(batch[0]!.audit, offset).sql);
      this.#sql.set(n, text);
    }
    // A named statement: PostgreSQL parses and plans it once per connection (the wrapper hands the query config to pg as is).
    await this.#db.query({ name: `keyward.insert_issued.${n}`, text }, params);
  }

  async findActiveCa(realm: string | undefined, kind: StoredCa['kind']): Promise<StoredCa | undefined> {
    const r =
      realm === undefined
        ? await this.#db.query('SELECT * FROM cas WHERE active AND kind = $1 AND realm IS NULL', [kind])
        : await this.#db.query('SELECT * FROM cas WHERE active AND kind = $1 AND realm = $2', [kind, realm]);
    return r.rows[0] ? ca(r.rows[0]) : undefined;
  }

  async findCaById(id: string): Promise<StoredCa | undefined> {
    const r = await this.#db.query('SELECT * FROM cas WHERE id = $1', [id]);
    return r.rows[0] ? ca(r.rows[0]) : undefined;
  }

  async insertCa(c: StoredCa): Promise<boolean> {
    try {
      await this.#db.query(
        'INSERT INTO cas (id, realm, kind, subject, certificate_pem, chain_pem, key_blob, key_ref, key_type, not_after, imported) ' +
          'VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)',
        [
          c.id,
          c.realm ?? null,
          c.kind,
          c.subject,
          c.certificatePem,
          c.chainPem.join(''),
          c.key.store === 'sealed' ? JSON.stringify(c.key.blob) : null,
          c.key.store === 'sealed' ? null : JSON.stringify(c.key),
          c.keyType,
          c.notAfter,
          c.imported,
        ],
      );
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async listCas(realm: string, kind: StoredCa['kind'], states: readonly StoredCa['state'][]): Promise<StoredCa[]> {
    const r = await this.#db.query('SELECT * FROM cas WHERE realm = $1 AND kind = $2 AND state = ANY($3) ORDER BY created_at DESC', [
      realm,
      kind,
      [...states],
    ]);
    return r.rows.map(ca);
  }

  async rotateCa(previousId: string, next: StoredCa, parentId: string, at: Date, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q: Queryable) => {
      const moved = await q.query(
        "UPDATE cas SET active = false, state = 'retiring', rotated_at = $2 WHERE id = $1 AND state = 'active' RETURNING id",
        [previousId, at],
      );
      if (!moved.rowCount) return false;
      await q.query(
        'INSERT INTO cas (id, realm, kind, subject, certificate_pem, chain_pem, key_blob, key_ref, key_type, not_after, imported, ' +
          'parent_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)',
        [
          next.id,
          next.realm ?? null,
          next.kind,
          next.subject,
          next.certificatePem,
          next.chainPem.join(''),
          next.key.store === 'sealed' ? JSON.stringify(next.key.blob) : null,
          next.key.store === 'sealed' ? null : JSON.stringify(next.key),
          next.keyType,
          next.notAfter,
          next.imported,
          parentId,
          at,
        ],
      );
      await this.#audit.record(q, audit);
      await announce(q, CHANNELS.cas, next.realm ?? '');
      return true;
    });
  }

  async retireCas(now: Date): Promise<StoredCa[]> {
    return this.#db.tx(async (q: Queryable) => {
      const r = await q.query(
        "UPDATE cas SET state = 'retired', retired_at = $1 WHERE state = 'retiring' AND NOT EXISTS " +
          '(SELECT 1 FROM certificates c WHERE c.ca_id = cas.id AND c.not_after > $1) RETURNING *',
        [now],
      );
      for (const row of r.rows) await announce(q, CHANNELS.cas, row.realm ?? '');
      return r.rows.map(ca);
    });
  }

  async getCertificate(realm: string, serial: string): Promise<CertificateRecord | undefined> {
    const r = await this.#db.query(`SELECT ${CERT_COLUMNS} FROM certificates WHERE realm = $1 AND serial = $2`, [realm, serial]);
    return r.rows[0] ? cert(r.rows[0]) : undefined;
  }

  async findBySerial(caId: string, serial: string): Promise<CertificateRecord | undefined> {
    const r = await this.#db.query(`SELECT ${CERT_COLUMNS} FROM certificates WHERE serial = $1 AND ca_id = $2`, [serial, caId]);
    return r.rows[0] ? cert(r.rows[0]) : undefined;
  }

  async searchCertificates(realm: string, f: CertificateFilter, now: Date): Promise<CertificateRecord[]> {
    const c = certificateSearch(realm, f, now);
    const r = await this.#db.query(
      `SELECT ${CERT_COLUMNS} FROM certificates ${c.where()} ${certificateOrder(f)} ${c.page(f.max, f.first)}`,
      c.params,
    );
    return r.rows.map(cert);
  }

  async *streamCertificates(realm: string, f: CertificateFilter, now: Date, batch = EXPORT_BATCH): AsyncGenerator<CertificateSummary[]> {
    // A generator cannot run inside db.tx's callback and yield out of it: the transaction is held on a client of its own.
    const client = await this.#db.pool.connect();
    const onError = () => undefined; // a lost connection fails the next FETCH; the pool's listener logs it
    client.on('error', onError);
    try {
      await client.query('BEGIN READ ONLY');
      yield* certificateBatches(client, realm, f, now, batch);
      await client.query('COMMIT');
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.removeListener('error', onError);
      client.release();
    }
  }

  async listRevoked(caId: string): Promise<RevokedCertificate[]> {
    return listRevoked(this.#db, caId);
  }

  async countRevoked(caId: string): Promise<number> {
    const r = await this.#db.query<{ n: string }>("SELECT count(*) AS n FROM certificates WHERE ca_id = $1 AND status = 'revoked'", [caId]);
    return Number(r.rows[0]!.n);
  }

  async latestCrl(caId: string): Promise<StoredCrl | undefined> {
    const r = await this.#db.query('SELECT * FROM crls WHERE ca_id = $1', [caId]);
    return r.rows[0] ? crl(r.rows[0]) : undefined;
  }

  async latestDeltaCrl(caId: string): Promise<StoredDeltaCrl | undefined> {
    const r = await this.#db.query('SELECT * FROM delta_crls WHERE ca_id = $1', [caId]);
    const d = r.rows[0];
    if (!d) return undefined;
    return {
      caId: d.ca_id,
      base: { crlNumber: BigInt(d.base_crl_number), thisUpdate: d.base_this_update, der: d.base_der },
      crlNumber: BigInt(d.crl_number),
      thisUpdate: d.this_update,
      nextUpdate: d.next_update,
      der: d.der,
      latestCrlNumber: BigInt(d.latest_crl_number),
    };
  }

  async getRequest(realm: string, id: string): Promise<RequestRecord | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const r = await this.#db.query('SELECT * FROM certificate_requests WHERE realm = $1 AND id = $2', [realm, id]);
    return r.rows[0] ? request(r.rows[0]) : undefined;
  }

  async listRequests(realm: string, status: string | undefined, first: number, max: number): Promise<RequestRecord[]> {
    const r = status
      ? await this.#db.query(
          'SELECT * FROM certificate_requests WHERE realm = $1 AND status = $2 ORDER BY created_at DESC LIMIT $3 OFFSET $4',
          [realm, status, max, first],
        )
      : await this.#db.query('SELECT * FROM certificate_requests WHERE realm = $1 ORDER BY created_at DESC LIMIT $2 OFFSET $3', [
          realm,
          max,
          first,
        ]);
    return r.rows.map(request);
  }

  async getEndEntity(realm: string, name: string): Promise<EndEntityRecord | undefined> {
    const r = await this.#db.query('SELECT * FROM end_entities WHERE realm = $1 AND name = $2', [realm, name]);
    return r.rows[0] ? entity(r.rows[0]) : undefined;
  }

  async listEndEntities(realm: string): Promise<EndEntityRecord[]> {
    return (await this.#db.query('SELECT * FROM end_entities WHERE realm = $1 ORDER BY name', [realm])).rows.map(entity);
  }
}
