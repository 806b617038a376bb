/** PostgreSQL implementation of the device-onboarding port (migration 011). */
import type { AuditLog } from './audit_log.ts';
import { recordEvent } from '../events/outbox.ts';
import type { DeviceCertificate, DeviceStore, PendingDevice, PushOutcome, TrustedDevice } from '../devices/ports.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { AuditEventInput } from '../audit/event.ts';
import { insertInto, isUniqueViolation, type Database, type Queryable } from './database.ts';

interface CertRow {
  fingerprint: string;
  certificate_pem: string;
  subject: string;
  subject_rfc2253: string;
  issuer: string;
  serial: string;
  not_before: Date;
  not_after: Date;
}
interface PendingRow extends CertRow {
  id: string;
  realm: string;
  first_seen: Date;
  last_seen: Date;
  source_address: string;
  via: 'tls' | 'upload';
}
interface TrustedRow extends CertRow {
  realm: string;
  alias: string;
  id: string;
  keycloak_client_id: string;
  client_id: string;
  service_account_id: string;
  device_group: string | null;
  device_role: string | null;
  accepted_at: Date;
  accepted_by: TrustedDevice['acceptedBy'];
}

const cert = (r: CertRow): DeviceCertificate => ({
  fingerprint: r.fingerprint,
  certificatePem: r.certificate_pem,
  subject: r.subject,
  subjectRfc2253: r.subject_rfc2253,
  issuer: r.issuer,
  serial: r.serial,
  notBefore: r.not_before,
  notAfter: r.not_after,
});
const pending = (r: PendingRow): PendingDevice => ({
  ...cert(r),
  id: r.id,
  realm: r.realm,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  sourceAddress: r.source_address,
  via: r.via,
});
const trusted = (r: TrustedRow): TrustedDevice => ({
  ...cert(r),
  realm: r.realm,
  alias: r.alias,
  id: r.id,
  keycloakClientId: r.keycloak_client_id,
  clientId: r.client_id,
  serviceAccountId: r.service_account_id,
  deviceGroup: r.device_group ?? undefined,
  deviceRole: r.device_role ?? undefined,
  acceptedAt: r.accepted_at,
  acceptedBy: r.accepted_by,
});

/**
 * Moves a pending certificate into the trust store inside the caller's
 * transaction (also used when an approval applies an acceptance).
 * @throws 409 `device.alias_in_use`, 404 `device.pending_not_found`, 409 `device.already_trusted`
 */
export async function applyAcceptance(q: Queryable, d: TrustedDevice): Promise<void> {
  const gone = await q.query('DELETE FROM pending_device_certificates WHERE realm = $1 AND id = $2', [d.realm, d.id]);
  if (gone.rowCount !== 1)
    throw new KeywardError('device.pending_not_found', `No pending client certificate CERTIFICATE-${d.id}`, {
      extras: { uuid: `CERTIFICATE-${d.id}` },
    });
  await q.query('SAVEPOINT device_accept');
  try {
    const insert = insertInto('trusted_device_certificates', {
      realm: d.realm,
      alias: d.alias,
      id: d.id,
      fingerprint: d.fingerprint,
      certificate_pem: d.certificatePem,
      subject: d.subject,
      subject_rfc2253: d.subjectRfc2253,
      issuer: d.issuer,
      serial: d.serial,
      not_before: d.notBefore,
      not_after: d.notAfter,
      keycloak_client_id: d.keycloakClientId,
      client_id: d.clientId,
      service_account_id: d.serviceAccountId,
      device_group: d.deviceGroup ?? null,
      device_role: d.deviceRole ?? null,
      accepted_at: d.acceptedAt,
      accepted_by: JSON.stringify(d.acceptedBy),
    });
    await q.query(insert.sql, insert.params);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await q.query('ROLLBACK TO SAVEPOINT device_accept');
    const constraint = (err as { constraint?: string }).constraint ?? '';
    if (constraint.includes('fingerprint')) throw new KeywardError('device.already_trusted', 'The certificate is already trusted');
    throw new KeywardError('device.alias_in_use', `Client certificate alias already in use: ${d.alias}`, { extras: { alias: d.alias } });
  }
}

export class PgDeviceStore implements DeviceStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  constructor(db: Database, audit: AuditLog) {
    this.#db = db;
    this.#audit = audit;
  }

  async push(
    realm: string,
    c: DeviceCertificate,
    o: { at: Date; sourceAddress: string; via: 'tls' | 'upload'; id: string; maxPending: number },
    audit: AuditEventInput,
  ): Promise<PushOutcome> {
    return this.#db.tx(async (q) => {
      const rejected = (
        await q.query<{ until: Date }>(
          'SELECT until FROM rejected_device_certificates WHERE realm = $1 AND fingerprint = $2 AND until > $3',
          [realm, c.fingerprint, o.at],
        )
      ).rows[0];
      if (rejected) return { outcome: 'rejected', until: rejected.until };
      const seen = (
        await q.query<PendingRow>(
          `UPDATE pending_device_certificates SET last_seen = $3, source_address = $4 WHERE realm = $1 AND fingerprint = $2 RETURNING *`,
          [realm, c.fingerprint, o.at, o.sourceAddress],
        )
      ).rows[0];
      if (seen) return { outcome: 'seen', pending: pending(seen) };
      // Serialise inserts per realm so the cap holds under concurrent pushes.
      await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keyward.devices.${realm}`]);
      const count = Number(
        (await q.query<{ n: string }>('SELECT count(*) AS n FROM pending_device_certificates WHERE realm = $1', [realm])).rows[0]!.n,
      );
      if (count >= o.maxPending) return { outcome: 'full' };
      const insert = insertInto('pending_device_certificates', {
        id: o.id,
        realm,
        fingerprint: c.fingerprint,
        certificate_pem: c.certificatePem,
        subject: c.subject,
        subject_rfc2253: c.subjectRfc2253,
        issuer: c.issuer,
        serial: c.serial,
        not_before: c.notBefore,
        not_after: c.notAfter,
        first_seen: o.at,
        last_seen: o.at,
        source_address: o.sourceAddress,
        via: o.via,
      });
      const inserted = (
        await q.query<PendingRow & { inserted: boolean }>(
          `${insert.sql}
           ON CONFLICT (realm, fingerprint) DO UPDATE SET last_seen = EXCLUDED.last_seen, source_address = EXCLUDED.source_address
           RETURNING *, (xmax = 0) AS inserted`,
          insert.params,
        )
      ).rows[0]!;
      if (!inserted.inserted) return { outcome: 'seen', pending: pending(inserted) };
      await this.#audit.record(q, audit);
      await recordEvent(q, {
        type: 'device.pending',
        realm,
        subject: o.id,
        data: { id: o.id, subject: c.subject, issuer: c.issuer, serial: c.serial, fingerprint: c.fingerprint, via: o.via },
      });
      return { outcome: 'queued', pending: pending(inserted) };
    });
  }

  async listPending(realm: string): Promise<PendingDevice[]> {
    return (
      await this.#db.query<PendingRow>('SELECT * FROM pending_device_certificates WHERE realm = $1 ORDER BY first_seen, id', [realm])
    ).rows.map(pending);
  }

  async getPending(realm: string, id: string): Promise<PendingDevice | undefined> {
    const r = (await this.#db.query<PendingRow>('SELECT * FROM pending_device_certificates WHERE realm = $1 AND id = $2', [realm, id]))
      .rows[0];
    return r ? pending(r) : undefined;
  }

  async reject(realm: string, id: string, until: Date, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const r = (
        await q.query<{ fingerprint: string }>(
          'DELETE FROM pending_device_certificates WHERE realm = $1 AND id = $2 RETURNING fingerprint',
          [realm, id],
        )
      ).rows[0];
      if (!r) return false;
      await q.query(
        `INSERT INTO rejected_device_certificates (realm, fingerprint, until) VALUES ($1, $2, $3)
         ON CONFLICT (realm, fingerprint) DO UPDATE SET until = EXCLUDED.until`,
        [realm, r.fingerprint, until],
      );
      await q.query('DELETE FROM rejected_device_certificates WHERE realm = $1 AND until <= now()', [realm]);
      await this.#audit.record(q, audit);
      return true;
    });
  }

  async accept(
    d: TrustedDevice,
    audit: readonly AuditEventInput[],
  ): Promise<'accepted' | 'alias_in_use' | 'pending_not_found' | 'already_trusted'> {
    try {
      await this.#db.tx(async (q) => {
        await applyAcceptance(q, d);
        for (const e of audit) await this.#audit.record(q, e);
      });
      return 'accepted';
    } catch (err) {
      if (err instanceof KeywardError) {
        if (err.code === 'device.alias_in_use') return 'alias_in_use';
        if (err.code === 'device.pending_not_found') return 'pending_not_found';
        if (err.code === 'device.already_trusted') return 'already_trusted';
      }
      throw err;
    }
  }

  async findTrustedByFingerprint(fingerprint: string): Promise<TrustedDevice | undefined> {
    const r = (await this.#db.query<TrustedRow>('SELECT * FROM trusted_device_certificates WHERE fingerprint = $1', [fingerprint])).rows[0];
    return r ? trusted(r) : undefined;
  }

  async findTrusted(realm: string, alias: string): Promise<TrustedDevice | undefined> {
    const r = (
      await this.#db.query<TrustedRow>('SELECT * FROM trusted_device_certificates WHERE realm = $1 AND alias = $2', [realm, alias])
    ).rows[0];
    return r ? trusted(r) : undefined;
  }

  async findTrustedByClient(realm: string, clientId: string): Promise<TrustedDevice | undefined> {
    const r = (
      await this.#db.query<TrustedRow>('SELECT * FROM trusted_device_certificates WHERE realm = $1 AND client_id = $2', [realm, clientId])
    ).rows[0];
    return r ? trusted(r) : undefined;
  }

  async listTrusted(realm: string): Promise<TrustedDevice[]> {
    return (
      await this.#db.query<TrustedRow>('SELECT * FROM trusted_device_certificates WHERE realm = $1 ORDER BY alias', [realm])
    ).rows.map(trusted);
  }

  async deleteTrusted(realm: string, alias: string, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const r = await q.query('DELETE FROM trusted_device_certificates WHERE realm = $1 AND alias = $2', [realm, alias]);
      if (r.rowCount !== 1) return false;
      await this.#audit.record(q, audit);
      return true;
    });
  }

  async setClientId(realm: string, alias: string, clientId: string, audit: AuditEventInput): Promise<void> {
    await this.#db.tx(async (q) => {
      await q.query('UPDATE trusted_device_certificates SET client_id = $3 WHERE realm = $1 AND alias = $2', [realm, alias, clientId]);
      await this.#audit.record(q, audit);
    });
  }
}
