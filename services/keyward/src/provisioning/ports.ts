/**
 * What provisioning needs from the identity provider, owned by its consumer
 * (ports belong to the domain that uses them). The Keycloak adapter
 * (keycloak/identity_admin.ts) implements it; tests of the domain use the real adapter against a real
 * Keycloak.
 */
import type { AuditEventInput } from '../audit/event.ts';
import type { Principal } from '../authn/principal.ts';
import type { NameAttribute } from '../ca/index.ts';

export interface RealmInfo {
  readonly name: string;
  readonly displayName: string | undefined;
  readonly enabled: boolean;
}

export interface RoleInfo {
  readonly name: string;
  readonly description: string | undefined;
}

export interface ApiClientSpec {
  readonly clientId: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  /** Extra home-realm roles for the service account (the realm's default role comes by itself). */
  readonly roles: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  /** A known secret to set; Keycloak generates one when absent. */
  readonly secret?: string | undefined;
  /** Authenticate with a certificate instead of a secret (Keycloak's `client-x509`, RFC 8705 §2); no secret then. */
  readonly certificate?: CertificatePin | undefined;
}

/**
 * What Keycloak's X.509 client authenticator pins (RFC 8705 §2.1.1, PKI method): the exact subject DN of the
 * client's certificate and of the CA it must chain to, as RFC 4514 strings (compared exactly, never as regular
 * expressions); its tokens are bound to the certificate (RFC 8705 §3).
 */
export interface CertificatePin {
  readonly subjectDn: string;
  readonly caSubjectDn: string;
}

export interface ClientInfo {
  /** Keycloak's internal id. */
  readonly id: string;
  readonly clientId: string;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly enabled: boolean;
  readonly attributes: Readonly<Record<string, string>>;
  /** Whether Keyward's audience scope is among its default client scopes. */
  readonly hasKeywardScope: boolean;
  readonly serviceAccountsEnabled: boolean;
  /** Keycloak's client authenticator: `client-secret`, `client-x509`, … */
  readonly authenticator?: string | undefined;
}

export interface GrantInfo {
  /** Realm of the grantee client. */
  readonly fromRealm: string;
  readonly clientId: string;
  /** Realm that grants the roles. */
  readonly realm: string;
  readonly roles: readonly string[];
  /** The Keycloak client in the granting realm that records the grant. */
  readonly holderClientId: string;
  readonly enabled: boolean;
}

/** What the web console's client in a realm must be: where the console lives and the client's secret. */
export interface ConsoleClientSpec {
  readonly publicUrl: string;
  readonly secret: string;
}

export interface IdentityAdmin {
  findRealm(realm: string): Promise<RealmInfo | undefined>;
  /** Creates the realm if missing; returns whether it was created. */
  ensureRealm(realm: string, displayName: string | undefined): Promise<boolean>;
  updateRealmDisplayName(realm: string, displayName: string | undefined): Promise<void>;
  ensureRealmRoles(realm: string, roles: readonly RoleInfo[]): Promise<void>;
  listRealmRoles(realm: string): Promise<RoleInfo[]>;
  /** Names of the roles inside `default-roles-<realm>`. */
  getDefaultRoles(realm: string): Promise<string[]>;
  setDefaultRoles(realm: string, add: readonly string[], remove: readonly string[]): Promise<void>;
  /** Ensures the client scope carrying Keyward's audience; idempotent. */
  ensureAudienceScope(realm: string): Promise<void>;
  /** Ensures the public client `keyward-cli` (device authorization grant) used by `keyward login`; idempotent. */
  ensureCliClient(realm: string): Promise<void>;
  /** Creates the web console's confidential client `keyward-console`, or puts it back as `spec` says; idempotent. */
  ensureConsoleClient(realm: string, spec: ConsoleClientSpec): Promise<void>;

  /** Creates client + service account + role mappings as one unit: on failure nothing is left behind. */
  createApiClient(realm: string, spec: ApiClientSpec): Promise<{ client: ClientInfo; secret: string; serviceAccountId: string }>;
  findClient(realm: string, clientId: string): Promise<ClientInfo | undefined>;
  /** Clients that carry Keyward's audience scope (created by Keyward or ticked in the console). */
  listApiClients(realm: string, options: { first: number; max: number; search?: string | undefined }): Promise<ClientInfo[]>;
  updateClient(
    realm: string,
    client: ClientInfo,
    changes: { name?: string | undefined; description?: string | undefined; attributes?: Record<string, string> },
  ): Promise<void>;
  deleteClient(realm: string, client: ClientInfo): Promise<void>;
  rotateSecret(realm: string, client: ClientInfo): Promise<string>;
  setSecret(realm: string, client: ClientInfo, secret: string): Promise<void>;
  readSecret(realm: string, client: ClientInfo): Promise<string>;
  /**
   * Switches how the client authenticates: with a pinned certificate (its secret removed), or, with undefined,
   * back to a secret (a new one, returned).
   */
  setClientAuthentication(realm: string, client: ClientInfo, pin: CertificatePin | undefined): Promise<string | undefined>;
  /** The service-account user id of a client. */
  serviceAccountId(realm: string, client: ClientInfo): Promise<string>;
  /** Effective realm roles of a user: direct, through groups and through composites (default role included). */
  effectiveRealmRoles(realm: string, userId: string): Promise<string[]>;
  /** Direct realm roles of a user. */
  directRealmRoles(realm: string, userId: string): Promise<string[]>;
  addRealmRoles(realm: string, userId: string, roles: readonly string[]): Promise<void>;
  removeRealmRoles(realm: string, userId: string, roles: readonly string[]): Promise<void>;

  /** Cross-realm grants recorded inside `realm` (the granting realm). */
  listGrants(realm: string): Promise<GrantInfo[]>;
  findGrant(realm: string, fromRealm: string, clientId: string): Promise<GrantInfo | undefined>;
  /** Creates or updates the grant holder in `realm` so that it holds exactly `roles`. */
  putGrant(realm: string, fromRealm: string, clientId: string, roles: readonly string[]): Promise<GrantInfo>;
  deleteGrant(realm: string, fromRealm: string, clientId: string): Promise<boolean>;
}

/** A realm that Keyward manages, as recorded in Keyward's store. */
export interface ManagedRealm {
  readonly name: string;
  readonly displayName: string | undefined;
  /** Roles Keyward put into `default-roles-<realm>` (so it can take them out again). */
  readonly defaultRoles: readonly string[];
  readonly source: 'api' | 'config';
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface StoredPolicy {
  readonly realm: string;
  readonly name: string;
  readonly document: unknown;
  readonly source: 'api' | 'config';
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface ProvisioningTx {
  upsertRealm(realm: {
    name: string;
    displayName: string | undefined;
    defaultRoles: readonly string[];
    source: 'api' | 'config';
  }): Promise<'created' | 'updated'>;
  /** Marks a realm as no longer managed, keeping everything stored for it; false when it was not managed. */
  unmanageRealm(name: string): Promise<boolean>;
  putPolicy(realm: string, name: string, document: unknown, source: 'api' | 'config'): Promise<'created' | 'updated'>;
  deletePolicy(realm: string, name: string): Promise<boolean>;
  audit(event: AuditEventInput): Promise<void>;
}

export interface ProvisioningStore {
  listRealms(): Promise<ManagedRealm[]>;
  findRealm(name: string): Promise<ManagedRealm | undefined>;
  listPolicies(realm: string): Promise<StoredPolicy[]>;
  findPolicy(realm: string, name: string): Promise<StoredPolicy | undefined>;
  transaction<T>(fn: (tx: ProvisioningTx) => Promise<T>): Promise<T>;
}

/** A certificate issued to an API client (RFC 8705 §2 client authentication). */
export interface IssuedClientCertificate {
  readonly serialNumber: string;
  readonly certificate: string;
  /** Issuing CA first. */
  readonly chain: readonly string[];
  readonly notAfter: string;
  readonly subject: string;
}

/**
 * Certificates for API clients, owned by provisioning and implemented at the composition root over the one
 * issuance pipeline: the certificate is requested by the client itself, so its renewal (by the certificate, on the
 * HTTPS listener) acts with the client's authority.
 */
export interface ApiClientCertificateIssuer {
  /**
   * The trust anchor of the realm's API-client certificates (the root its issuing CA chains to), its subject as an
   * RFC 4514 string; the chain is put into Keycloak's truststore directory when one is configured
   * (KEYWARD_KEYCLOAK_TRUSTSTORE_DIR).
   */
  signingCa(realm: string): Promise<{ readonly subjectDn: string }>;
  issue(
    realm: string,
    client: Principal,
    input: {
      readonly policy: string;
      readonly subject: readonly NameAttribute[];
      readonly csr?: string | undefined;
      readonly spki?: Uint8Array | undefined;
    },
  ): Promise<IssuedClientCertificate>;
}
