/**
 * What following identity needs, owned by its consumer: Keycloak's admin
 * events and the current state of requesters (keycloak/identity_directory.ts
 * implements it), and where the synchronisation stands (storage/identity_follow_store.ts).
 */
import type { AuditEventInput } from '../audit/event.ts';

/** One Keycloak admin event (`GET /admin/realms/{realm}/admin-events`), as much of it as Keyward reads. */
export interface AdminEvent {
  readonly id: string;
  /** Keycloak's time, epoch milliseconds. */
  readonly time: number;
  /** CREATE, UPDATE, DELETE, ACTION. */
  readonly operationType: string;
  /** CLIENT, USER, REALM_ROLE_MAPPING, … */
  readonly resourceType: string;
  /** e.g. `clients/<id>`, `users/<id>`. */
  readonly resourcePath: string;
}

/** A requester's state in Keycloak now. */
export type RequesterState = 'active' | 'disabled' | 'deleted';

export interface IdentityDirectory {
  /** Turns admin events on in a realm (with representations off), keeping the rest of its event settings; idempotent. */
  ensureAdminEvents(realm: string): Promise<void>;
  /** The realm's admin events from `fromTime` (epoch ms, inclusive), oldest first, `max` from offset `first`. */
  adminEvents(realm: string, fromTime: number, first: number, max: number): Promise<AdminEvent[]>;
  /**
   * An API or device client, by its clientId and its service-account user id (a client deleted and made again under
   * the same clientId is another client): its state and, when it exists, Keycloak's internal id.
   */
  clientState(realm: string, clientId: string, serviceAccountId: string): Promise<{ state: RequesterState; id?: string | undefined }>;
  userState(realm: string, userId: string): Promise<RequesterState>;
  /** Whether `grantingRealm` still grants roles to client `clientId` of `fromRealm` (its grant holder exists, is enabled, holds roles). */
  grantInForce(grantingRealm: string, fromRealm: string, clientId: string): Promise<{ inForce: boolean; holderId?: string | undefined }>;
  /** Keycloak's internal id → clientId in a realm, when the client still exists. */
  clientIdOf(realm: string, id: string): Promise<string | undefined>;
}

/** The requester of certificates still in force (valid, or held), and the realm whose CA issued them. */
export interface RequesterInForce {
  /** The realm whose CA issued the certificates (differs from `realm` for a cross-realm grant). */
  readonly certificateRealm: string;
  /** The requester's home realm. */
  readonly realm: string;
  /** `client` or `user` (the requester kind's first part). */
  readonly kind: 'client' | 'user';
  /** Keycloak user id (a client's service-account user). */
  readonly id: string;
  /** clientId for clients, username for users. */
  readonly name: string | undefined;
}

/** A certificate of a requester that is still in force. */
export interface CertificateInForce {
  readonly serial: string;
  readonly realm: string;
  readonly policy: string;
  readonly held: boolean;
  /** Who put it on hold: `identity` when Keyward did because its requester was disabled (only those are released again). */
  readonly holdSource: string | undefined;
}

export interface SyncCursor {
  readonly time: number;
  /** Ids of the events already processed at exactly `time`. */
  readonly ids: readonly string[];
}

export interface FollowStore {
  cursor(realm: string): Promise<SyncCursor | undefined>;
  saveCursor(realm: string, cursor: SyncCursor): Promise<void>;
  /** Requesters of certificates in force, those of `realm` only (home or issuing) when given. */
  requesters(realm?: string): Promise<RequesterInForce[]>;
  certificatesOf(r: RequesterInForce): Promise<CertificateInForce[]>;
  /** Users' client certificates not revoked, by owner: realm and user id. */
  clientCertificateOwners(): Promise<{ realm: string; userId: string; username: string }[]>;
  /**
   * Revokes a user's client certificates (one atomic UPDATE … WHERE revoked_at IS NULL RETURNING), auditing each
   * revoked one with `audit(id)`; returns the ids revoked by this call.
   */
  revokeClientCertificatesOf(realm: string, userId: string, at: Date, audit: (id: string) => AuditEventInput): Promise<string[]>;
  /** Records the `identity.requester_removed` lifecycle event (webhooks' outbox) for a requester whose certificates were revoked. */
  requesterRemoved(
    r: RequesterInForce,
    why: 'deleted' | 'grant_revoked' | 'disabled',
    serials: readonly string[],
    cause: unknown,
  ): Promise<void>;
}
