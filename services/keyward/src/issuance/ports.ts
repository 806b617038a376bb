/**
 * What issuance needs from storage, owned by its consumer.
 * storage/issuance_store.ts implements it on PostgreSQL. The CA concepts
 * (names, SANs, stored CAs, revocation reasons) are the CA domain's own.
 */
import type { NameAttribute, RevocationReason, RevokedCertificate, Sans, StoredCa } from '../ca/index.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { EventInput } from '../events/catalogue.ts';
import type { Page } from '../kernel/page.ts';

export interface RequesterRef {
  readonly kind: string;
  readonly realm: string;
  readonly id: string;
  readonly name: string | undefined;
  /** The ACME account and order (their URLs) a certificate was ordered through (RFC 8555), if it was. */
  readonly acme?: { readonly account: string; readonly order: string } | undefined;
}

export interface CertificateRecord {
  readonly serial: string;
  readonly realm: string;
  readonly caId: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly policy: string;
  readonly endEntity: string | undefined;
  readonly requestId: string | undefined;
  readonly requester: RequesterRef;
  readonly keyType: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly status: 'valid' | 'revoked';
  readonly revokedAt: Date | undefined;
  readonly revocationReason: RevocationReason | undefined;
  readonly der: Uint8Array;
  readonly createdAt: Date;
}

export interface CertificateFilter extends Page {
  readonly status?: 'valid' | 'revoked' | 'expired' | undefined;
  readonly subject?: string | undefined;
  readonly san?: string | undefined;
  readonly requester?: string | undefined;
  readonly policy?: string | undefined;
  readonly endEntity?: string | undefined;
  readonly expiringBefore?: Date | undefined;
  /** Valid, not expired, and expiring within this many seconds from now. */
  readonly expiringWithinSeconds?: number | undefined;
  /** Listing order: newest first (default), or soonest expiry first (notAfter, then serial). */
  readonly sort?: 'createdAt' | 'notAfter' | undefined;
  /**
   * Keyset paging: only certificates after this one (a serial, normalised) in the listing order
   * (newest first, then serial), so a page deep in a long listing costs what the first page costs.
   */
  readonly after?: string | undefined;
}

export interface RequestRecord {
  readonly id: string;
  readonly realm: string;
  readonly status: 'pending' | 'issued' | 'rejected';
  readonly csrPem: string;
  readonly policy: string;
  /** The validity asked for, in seconds. */
  readonly validitySeconds: number;
  readonly endEntity: string | undefined;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly requester: RequesterRef;
  readonly decidedBy: RequesterRef | undefined;
  readonly reason: string | undefined;
  readonly serial: string | undefined;
  readonly createdAt: Date;
  readonly decidedAt: Date | undefined;
}

export interface EndEntityRecord {
  readonly realm: string;
  readonly name: string;
  readonly subject: readonly NameAttribute[];
  readonly sans: Sans;
  readonly policy: string;
  readonly createdBy: RequesterRef;
  readonly createdAt: Date;
}

export interface StoredCrl {
  readonly caId: string;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly der: Uint8Array;
  readonly revocations: number;
}

/** A CA's delta CRL (RFC 5280 §5.2.4) and the complete CRL it is based on. */
export interface StoredDeltaCrl {
  readonly caId: string;
  readonly base: { readonly crlNumber: bigint; readonly thisUpdate: Date; readonly der: Uint8Array };
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly der: Uint8Array;
  /** The newest complete CRL's number when this delta was signed: a newer complete CRL means the revocations changed. */
  readonly latestCrlNumber: bigint;
}

/** A certificate without its DER: what an inventory lists. */
export type CertificateSummary = Omit<CertificateRecord, 'der'>;

/** A certificate as issuance writes it; the store adds its status and creation time. */
export type NewCertificateRecord = Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason' | 'createdAt'>;

/** What one store transaction can do: the changes of one action and their audit events, all or none. */
export interface IssuanceTx {
  insertCertificate(rec: NewCertificateRecord): Promise<void>;
  /** Marks revoked when valid; returns the record as it is afterwards, or undefined when unknown. */
  revoke(
    realm: string,
    serial: string,
    reason: RevocationReason,
    at: Date,
    /** For a hold: who puts it (`identity`), so that only such holds are released by the same mechanism. */
    holdSource?: string,
  ): Promise<{ record: CertificateRecord; changed: boolean } | undefined>;
  /**
   * Releases a held certificate (revoked with certificateHold) back to valid; returns the record as it is afterwards
   * (`changed` false when it was not held), or undefined when unknown.
   */
  release(
    realm: string,
    serial: string,
    at: Date,
    /** Release only a hold put by this source (unset: any hold). */
    onlyHoldSource?: string,
  ): Promise<{ record: CertificateRecord; changed: boolean } | undefined>;
  /** When each of these certificates of a CA was last released from hold (those never released are absent). */
  releasedAt(caId: string, serials: readonly string[]): Promise<Map<string, Date>>;
  saveDeltaCrl(delta: StoredDeltaCrl): Promise<void>;
  insertRequest(rec: Omit<RequestRecord, 'decidedBy' | 'reason' | 'serial' | 'decidedAt'>): Promise<void>;
  /** Atomically moves a pending request on (UPDATE … WHERE status = 'pending'); undefined when it was not pending. */
  decideRequest(
    realm: string,
    id: string,
    status: 'issued' | 'rejected',
    by: RequesterRef,
    at: Date,
    extra: { reason?: string; serial?: string },
  ): Promise<RequestRecord | undefined>;
  insertEndEntity(rec: EndEntityRecord): Promise<void>;
  deleteEndEntity(realm: string, name: string): Promise<boolean>;
  /**
   * The next CRL number of a CA, taking the CA's CRL lock until the transaction ends: CRLs of one CA are signed one
   * at a time across replicas, so a CRL read after this lists every revocation any lower-numbered CRL listed.
   */
  nextCrlNumber(caId: string): Promise<bigint>;
  /** The CA's revoked certificates as committed now (read after {@link nextCrlNumber}, under its lock). */
  listRevoked(caId: string): Promise<RevokedCertificate[]>;
  /** The same list in CRL order, read through a cursor `batch` rows at a time (one snapshot), for the streamed CRL. */
  revokedBatches(caId: string, batch?: number): AsyncIterable<readonly RevokedCertificate[]>;
  saveCrl(crl: StoredCrl): Promise<void>;
  audit(event: AuditEventInput): Promise<void>;
  /** Records a lifecycle event in the transactional outbox (events/outbox.ts): sent only if this transaction commits. */
  event(event: EventInput): Promise<void>;
}

export interface IssuanceStore {
  transaction<T>(fn: (tx: IssuanceTx) => Promise<T>): Promise<T>;
  /** Stores an issued certificate, its audit event and its lifecycle event atomically in one round trip (the hot path). */
  insertIssued(rec: NewCertificateRecord, audit: AuditEventInput, event: EventInput): Promise<void>;
  findActiveCa(realm: string | undefined, kind: StoredCa['kind']): Promise<StoredCa | undefined>;
  findCaById(id: string): Promise<StoredCa | undefined>;
  /** Inserts a CA; resolves false when another replica created the active one first. */
  insertCa(ca: StoredCa): Promise<boolean>;
  /** The realm's CAs of `kind` in `states`, newest first. */
  listCas(realm: string, kind: StoredCa['kind'], states: readonly StoredCa['state'][]): Promise<StoredCa[]>;
  /**
   * Rotation, in one transaction: the active CA `previousId` becomes
   * retiring and `next` (active) takes its place, with its audit event;
   * resolves false when `previousId` was no longer active (rotated meanwhile).
   */
  rotateCa(previousId: string, next: StoredCa, parentId: string, at: Date, audit: AuditEventInput): Promise<boolean>;
  /** Marks retired every retiring CA none of whose certificates is valid after `now`; answers them. */
  retireCas(now: Date): Promise<StoredCa[]>;
  getCertificate(realm: string, serial: string): Promise<CertificateRecord | undefined>;
  /** Lookup by issuing CA and serial (OCSP). */
  findBySerial(caId: string, serial: string): Promise<CertificateRecord | undefined>;
  searchCertificates(realm: string, filter: CertificateFilter, now: Date): Promise<CertificateRecord[]>;
  /**
   * Every certificate the filter finds (paging ignored), in its order, read through a database cursor `batch` rows at a
   * time in one snapshot: an export of any size in bounded memory. The cursor closes when the reader stops.
   */
  streamCertificates(realm: string, filter: CertificateFilter, now: Date, batch?: number): AsyncIterable<readonly CertificateSummary[]>;
  listRevoked(caId: string): Promise<RevokedCertificate[]>;
  countRevoked(caId: string): Promise<number>;
  latestCrl(caId: string): Promise<StoredCrl | undefined>;
  latestDeltaCrl(caId: string): Promise<StoredDeltaCrl | undefined>;
  getRequest(realm: string, id: string): Promise<RequestRecord | undefined>;
  listRequests(realm: string, status: string | undefined, first: number, max: number): Promise<RequestRecord[]>;
  getEndEntity(realm: string, name: string): Promise<EndEntityRecord | undefined>;
  listEndEntities(realm: string): Promise<EndEntityRecord[]>;
}
