/** What device onboarding needs from storage and from the identity provider (ports owned by their consumer). */
import type { AuditActor, AuditEventInput } from '../audit/event.ts';

/** A certificate as device onboarding records it. */
export interface DeviceCertificate {
  readonly fingerprint: string;
  readonly certificatePem: string;
  /** `CN=…, O=…` in certificate order. */
  readonly subject: string;
  readonly issuer: string;
  /** Lower-case hex. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** RFC 2253 form (what Keycloak's X.509 client authenticator compares). */
  readonly subjectRfc2253: string;
}

export interface PendingDevice extends DeviceCertificate {
  /** Row id; rendered as `CERTIFICATE-<id>`. */
  readonly id: string;
  readonly realm: string;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  readonly sourceAddress: string;
  readonly via: 'tls' | 'upload';
}

export interface TrustedDevice extends DeviceCertificate {
  readonly realm: string;
  readonly alias: string;
  /** The id it had while pending. */
  readonly id: string;
  /** Keycloak's internal id of the device client. */
  readonly keycloakClientId: string;
  readonly clientId: string;
  readonly serviceAccountId: string;
  readonly deviceGroup: string | undefined;
  readonly deviceRole: string | undefined;
  readonly acceptedAt: Date;
  readonly acceptedBy: AuditActor;
}

export type PushOutcome =
  | { readonly outcome: 'queued' | 'seen'; readonly pending: PendingDevice }
  | { readonly outcome: 'full' }
  | { readonly outcome: 'rejected'; readonly until: Date };

/** What approving a device acceptance does: the store moves the pending certificate into the trust store. */
export interface DeviceAcceptance {
  readonly device: TrustedDevice;
}

export interface DeviceStore {
  /**
   * Records a pushed certificate in one transaction: refused while it is
   * remembered as rejected; `seen` (lastSeen and source updated) when already
   * pending; else `queued` unless the realm already has `maxPending` entries.
   */
  push(
    realm: string,
    cert: DeviceCertificate,
    at: { at: Date; sourceAddress: string; via: 'tls' | 'upload'; id: string; maxPending: number },
    audit: AuditEventInput,
  ): Promise<PushOutcome>;
  listPending(realm: string): Promise<PendingDevice[]>;
  getPending(realm: string, id: string): Promise<PendingDevice | undefined>;
  /** Deletes the pending entry and remembers the fingerprint as rejected until `until`; false when there was none. */
  reject(realm: string, id: string, until: Date, audit: AuditEventInput): Promise<boolean>;
  /** Inserts the trusted entry and deletes the pending one, atomically; `alias_in_use` on a unique violation of the alias. */
  accept(
    device: TrustedDevice,
    audit: readonly AuditEventInput[],
  ): Promise<'accepted' | 'alias_in_use' | 'pending_not_found' | 'already_trusted'>;
  findTrustedByFingerprint(fingerprint: string): Promise<TrustedDevice | undefined>;
  findTrusted(realm: string, alias: string): Promise<TrustedDevice | undefined>;
  findTrustedByClient(realm: string, clientId: string): Promise<TrustedDevice | undefined>;
  listTrusted(realm: string): Promise<TrustedDevice[]>;
  deleteTrusted(realm: string, alias: string, audit: AuditEventInput): Promise<boolean>;
  setClientId(realm: string, alias: string, clientId: string, audit: AuditEventInput): Promise<void>;
}

/** The Keycloak side of a device. */
export interface DeviceClientSpec {
  readonly clientId: string;
  /** Shown in the console as the client's name: the alias. */
  readonly name: string;
  readonly description: string;
  /** RFC 2253 subject DN for Keycloak's `client-x509` authenticator. */
  readonly subjectDn: string;
  readonly fingerprint: string;
  /** The device's certificate, for Keycloak's truststore (its TLS listener checks it in the handshake). */
  readonly certificatePem?: string | undefined;
  readonly deviceGroup: string | undefined;
  readonly deviceRole: string | undefined;
}

export interface DeviceClientState {
  readonly id: string;
  readonly clientId: string;
  readonly enabled: boolean;
}

export interface DeviceDirectory {
  /** Whether a client with this clientId exists in the realm. */
  clientExists(realm: string, clientId: string): Promise<boolean>;
  /**
   * Creates the device client, its service account placed in the device
   * group (and role sub-group), as one unit: on failure nothing is left.
   * `exists` when the clientId was taken meanwhile.
   */
  createDeviceClient(realm: string, spec: DeviceClientSpec): Promise<{ id: string; serviceAccountId: string } | 'exists'>;
  /** The client now (renamed or disabled in the console included), or undefined when deleted. */
  deviceClient(realm: string, id: string): Promise<DeviceClientState | undefined>;
  renameClient(realm: string, id: string, clientId: string): Promise<'renamed' | 'exists'>;
  deleteClient(realm: string, id: string): Promise<void>;
}
