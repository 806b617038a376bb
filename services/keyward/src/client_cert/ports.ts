/** What client-certificate credentials need from storage and from the identity provider. */
import type { AuditEventInput } from '../audit/event.ts';

export interface ClientCertificateSettings {
  readonly enabled: boolean;
  readonly maxExpirationDays: number;
}

export interface ClientCertificateRecord {
  readonly id: string;
  readonly realm: string;
  readonly userId: string;
  readonly username: string;
  readonly name: string | undefined;
  readonly serial: string;
  readonly caId: string;
  readonly fingerprint: string;
  readonly mode: 'generated' | 'csr';
  readonly certificatePem: string;
  readonly keyBlob: unknown;
  readonly expiresInDays: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly revokedAt: Date | undefined;
}

export interface TrustedClientCa {
  readonly realm: string;
  readonly name: string;
  readonly certificatePem: string;
  readonly subject: string;
  readonly fingerprint: string;
  readonly createdAt: Date;
}

export interface ClientCertStore {
  getSettings(realm: string): Promise<ClientCertificateSettings | undefined>;
  insert(rec: ClientCertificateRecord, audit: AuditEventInput): Promise<void>;
  get(id: string): Promise<ClientCertificateRecord | undefined>;
  findByFingerprint(fingerprint: string): Promise<ClientCertificateRecord | undefined>;
  list(realm: string, userId: string | undefined): Promise<ClientCertificateRecord[]>;
  /**
   * Records a user's current username on their rows (a username changed in Keycloak's console: rows are the
   * user's by Keycloak user id, the stored name is for the admin views and revocation by username); returns how many.
   */
  renameUser(realm: string, userId: string, username: string): Promise<number>;
  /** Sets revoked_at when not yet revoked; returns whether it changed. */
  revoke(id: string, at: Date, audit: AuditEventInput): Promise<boolean>;
  putTrustedCa(ca: TrustedClientCa, audit: AuditEventInput): Promise<'created' | 'updated'>;
  deleteTrustedCa(realm: string, name: string, audit: AuditEventInput): Promise<boolean>;
  listTrustedCas(realm: string | undefined): Promise<TrustedClientCa[]>;
}

/** A user as Keycloak has it now. */
export interface UserState {
  readonly id: string;
  readonly username: string;
  readonly enabled: boolean;
}

export interface UserDirectory {
  findUser(realm: string, userId: string): Promise<UserState | undefined>;
}
