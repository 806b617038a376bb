/**
 * What issuance needs from storage, owned by its consumer (STYLE.md rule 8).
 * storage/issuance_store.ts implements it on PostgreSQL.
 */
import type { AuditEventInput } from '../audit/event.ts';
import type { Page } from '../kernel/page.ts';

export interface StoredCa {
  readonly id: string;
  /** undefined for the installation's root. */
  readonly realm: string | undefined;
  readonly kind: 'root' | 'issuing' | 'client_auth';
  readonly subject: string;
  readonly certificatePem: string;
  /** PEM of the parents above this CA (empty for a root). */
  readonly chainPem: string;
  readonly keyBlob: unknown;
  readonly keyType: string;
  readonly notAfter: Date;
  readonly imported: boolean;
}

export interface RequesterRef {
  readonly kind: string;
  readonly realm: string;
  readonly id: string;
  readonly name: string | undefined;
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
  readonly revocationReason: string | undefined;
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
}

export interface RequestRecord {
  readonly id: string;
  readonly realm: string;
  readonly status: 'pending' | 'issued' | 'rejected';
  readonly csrPem: string;
  readonly policy: string;
  readonly validityDays: number;
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
  readonly subject: readonly { readonly type: string; readonly value: string }[];
  readonly sans: {
    readonly dns: readonly string[];
    readonly ip: readonly string[];
    readonly uri: readonly string[];
    readonly email: readonly string[];
  };
  readonly policy: string;
  readonly createdBy: RequesterRef;
  readonly createdAt: Date;
}

export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: string;
}

export interface StoredCrl {
  readonly caId: string;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly der: Uint8Array;
  readonly revocations: number;
}

export interface IssuanceTx {
  insertCertificate(rec: Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason' | 'createdAt'>): Promise<void>;
  /** Marks revoked when valid; returns the record as it is afterwards, or undefined when unknown. */
  revoke(realm: string, serial: string, reason: string, at: Date): Promise<{ record: CertificateRecord; changed: boolean } | undefined>;
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
  /** Stores a newly signed CRL with the next number; numbers only grow. */
  nextCrlNumber(caId: string): Promise<bigint>;
  saveCrl(crl: StoredCrl): Promise<void>;
  audit(event: AuditEventInput): Promise<void>;
}

export interface IssuanceStore {
  transaction<T>(fn: (tx: IssuanceTx) => Promise<T>): Promise<T>;
  /** Stores an issued certificate and its audit event atomically in one round trip (the hot path). */
  insertIssued(
    rec: Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason' | 'createdAt'>,
    audit: AuditEventInput,
  ): Promise<void>;
  findActiveCa(realm: string | undefined, kind: StoredCa['kind']): Promise<StoredCa | undefined>;
  findCaById(id: string): Promise<StoredCa | undefined>;
  /** Inserts a CA; resolves false when another replica created the active one first. */
  insertCa(ca: StoredCa): Promise<boolean>;
  getCertificate(realm: string, serial: string): Promise<CertificateRecord | undefined>;
  /** Lookup by issuing CA and serial (OCSP). */
  findBySerial(caId: string, serial: string): Promise<CertificateRecord | undefined>;
  searchCertificates(realm: string, filter: CertificateFilter, now: Date): Promise<CertificateRecord[]>;
  listRevoked(caId: string): Promise<RevokedEntry[]>;
  countRevoked(caId: string): Promise<number>;
  latestCrl(caId: string): Promise<StoredCrl | undefined>;
  getRequest(realm: string, id: string): Promise<RequestRecord | undefined>;
  listRequests(realm: string, status: string | undefined, first: number, max: number): Promise<RequestRecord[]>;
  getEndEntity(realm: string, name: string): Promise<EndEntityRecord | undefined>;
  listEndEntities(realm: string): Promise<EndEntityRecord[]>;
}

/** Subject alternative names by kind. */
export interface SanSet {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
}

export interface DnAttribute {
  readonly type: string;
  readonly value: string;
}

/** A CSR whose proof of possession has been verified. */
export interface ParsedCsr {
  readonly subject: readonly DnAttribute[];
  readonly sans: SanSet;
  /** `EC-P256`, `RSA-2048`, … or a description of an unsupported key. */
  readonly keyType: string;
  readonly pem: string;
  /** The certified public key (SubjectPublicKeyInfo DER). */
  readonly spki: Uint8Array;
}

export interface NewCa {
  readonly subject: string;
  readonly certificatePem: string;
  readonly keyBlob: unknown;
  readonly keyType: string;
  readonly notAfter: Date;
}

export interface IssueParams {
  readonly csr: ParsedCsr;
  /** The policy the certificate is issued under (its validators run once more at signing). */
  readonly policy?: unknown;
  readonly subject: readonly DnAttribute[];
  readonly sans: SanSet;
  readonly keyUsage: readonly string[];
  readonly extendedKeyUsage: readonly string[];
  readonly serial: string;
  readonly notBefore: Date;
  /** notBefore + validityDays, capped at the CA's own notAfter. */
  readonly notAfter: Date;
  readonly validityDays: number;
  readonly crlUrl?: string | undefined;
  readonly ocspUrl?: string | undefined;
}

export type OcspStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: Date; readonly reason: string }
  | { readonly status: 'unknown' };

/** The certificate-authority crypto, as issuance needs it (implemented over ca/ in crypto/ca_engine.ts). */
export interface CaEngine {
  /** Parses a PEM or DER CSR and verifies its signature: `csr.malformed`, `csr.bad_signature`. */
  parseCsr(input: string | Uint8Array): ParsedCsr;
  /** {@link parseCsr}, the signature possibly checked on another thread (the issuance hot path). */
  parseCsrAsync(input: string | Uint8Array): Promise<ParsedCsr>;
  /**
   * Runs the policy validators (key type and size, subject, SANs, validity) on
   * what would be certified: `policy.key_not_allowed`, `policy.subject_not_allowed`,
   * `policy.san_not_allowed`, `policy.validity_exceeded`.
   */
  enforce(policy: unknown, request: { keyType: string; subject: readonly DnAttribute[]; sans: SanSet; validityDays: number }): void;
  createRoot(name: string, now: Date): Promise<NewCa>;
  /** A CA under `parent` for a realm; `label` names its purpose ("Issuing CA", "Client Authentication CA"). */
  createIssuing(realm: string, parent: StoredCa, now: Date, label?: string): Promise<NewCa>;
  /** A fresh key pair for certificates whose key Keyward generates (seed 000). */
  generateKey(): { readonly spki: Uint8Array; readonly pkcs8: Uint8Array; readonly keyType: string };
  /** Seals a private key under the KEK, like CA keys. */
  seal(pkcs8: Uint8Array): unknown;
  unseal(blob: unknown): Uint8Array;
  /** Validates an operator-supplied parent CA (PEM certificate and key): `ca.invalid`. */
  importParent(certificatePem: string, keyPem: string): Promise<NewCa>;
  issue(ca: StoredCa, params: IssueParams): Promise<{ readonly der: Uint8Array; readonly pem: string }>;
  crl(ca: StoredCa, entries: readonly RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array>;
  /** Answers an OCSP request (DER) for certificates of `ca`. */
  ocsp(ca: StoredCa, requestDer: Uint8Array, lookup: (serialHex: string) => Promise<OcspStatus>, now: Date): Promise<Uint8Array>;
}
