/**
 * What the ACME front door needs from storage, owned by its consumer
 * (storage/acme_store.ts implements it on PostgreSQL, shared by every
 * replica). Every change commits with its audit event.
 */
import type { AuditEventInput } from '../audit/event.ts';
import type { AcmeIdentifier, ProblemDocument } from './problem.ts';

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

/** The API client an ACME account acts as: its home realm, client id and service-account user id. */
export interface ClientRef {
  readonly realm: string;
  readonly clientId: string;
  readonly subject: string;
}

export interface EabKeyRecord {
  readonly kid: string;
  /** The directory's realm. */
  readonly realm: string;
  readonly client: ClientRef;
  /** The HMAC key (decoded); only the store sees it sealed. */
  readonly hmacKey: Uint8Array;
  readonly createdAt: Date;
  readonly usedAt: Date | undefined;
  readonly accountId: string | undefined;
  readonly revokedAt: Date | undefined;
}

export interface AccountRecord {
  readonly id: string;
  readonly realm: string;
  readonly thumbprint: string;
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly status: AccountStatus;
  readonly contact: readonly string[];
  readonly eabKid: string;
  readonly client: ClientRef;
  readonly createdAt: Date;
}

export interface OrderRecord {
  readonly id: string;
  readonly realm: string;
  readonly accountId: string;
  /** The policy of the directory it was ordered from; undefined: the API client's default policy. */
  readonly policy: string | undefined;
  readonly status: OrderStatus;
  readonly identifiers: readonly AcmeIdentifier[];
  readonly notBefore: Date | undefined;
  readonly notAfter: Date | undefined;
  readonly expiresAt: Date;
  readonly error: ProblemDocument | undefined;
  /** The certificate request waiting for approval, when the policy needs one. */
  readonly requestId: string | undefined;
  readonly serial: string | undefined;
  readonly replaces: string | undefined;
  readonly createdAt: Date;
}

export interface AuthorizationRecord {
  readonly id: string;
  readonly orderId: string;
  readonly accountId: string;
  readonly realm: string;
  readonly identifier: AcmeIdentifier;
  readonly wildcard: boolean;
  readonly status: AuthorizationStatus;
  readonly expiresAt: Date;
}

export interface ChallengeRecord {
  readonly id: string;
  readonly authzId: string;
  readonly type: ChallengeType;
  readonly token: string;
  readonly status: ChallengeStatus;
  /** When it became valid; while `processing`, when its validation started (a replica that stopped is taken over). */
  readonly validatedAt: Date | undefined;
  readonly error: ProblemDocument | undefined;
}

export interface NewOrder {
  readonly order: OrderRecord;
  readonly authorizations: readonly { readonly authz: AuthorizationRecord; readonly challenges: readonly ChallengeRecord[] }[];
}

export interface AcmeStore {
  /** Stores a fresh nonce valid until `expiresAt`. */
  addNonce(nonce: string, expiresAt: Date): Promise<void>;
  /** Consumes a nonce: true exactly once, while it has not expired (DELETE … RETURNING, across replicas). */
  consumeNonce(nonce: string, now: Date): Promise<boolean>;
  /** Drops expired nonces; answers how many. */
  expireNonces(now: Date): Promise<number>;

  insertEabKey(rec: EabKeyRecord, audit: AuditEventInput): Promise<void>;
  findEabKey(kid: string): Promise<EabKeyRecord | undefined>;
  listEabKeys(realm: string, client: ClientRef): Promise<EabKeyRecord[]>;
  /** Marks a key revoked when it is the client's and not revoked yet, deactivating the account it bound; false otherwise. */
  revokeEabKey(realm: string, kid: string, client: ClientRef, at: Date, audit: AuditEventInput): Promise<boolean>;

  /**
   * Creates an account bound to an unused, unrevoked EAB key, consuming the key in the same transaction
   * (UPDATE … WHERE used_at IS NULL). Resolves `eab_used` when another request consumed it first, `exists`
   * when the key already has an account in the realm (that account is answered instead).
   */
  createAccount(rec: AccountRecord, audit: AuditEventInput): Promise<'created' | 'eab_used' | 'exists'>;
  findAccount(realm: string, id: string): Promise<AccountRecord | undefined>;
  findAccountByThumbprint(realm: string, thumbprint: string): Promise<AccountRecord | undefined>;
  updateAccount(
    realm: string,
    id: string,
    change: { contact?: readonly string[]; status?: AccountStatus; jwk?: Record<string, unknown>; thumbprint?: string },
    audit: AuditEventInput,
  ): Promise<AccountRecord | undefined>;

  insertOrder(order: NewOrder, audit: AuditEventInput): Promise<void>;
  findOrder(realm: string, id: string): Promise<OrderRecord | undefined>;
  listOrders(realm: string, accountId: string, max: number): Promise<OrderRecord[]>;
  authorizationsOf(orderId: string): Promise<AuthorizationRecord[]>;
  findAuthorization(realm: string, id: string): Promise<AuthorizationRecord | undefined>;
  challengesOf(authzId: string): Promise<ChallengeRecord[]>;
  findChallenge(realm: string, id: string): Promise<{ challenge: ChallengeRecord; authz: AuthorizationRecord } | undefined>;
  /**
   * Moves an order from one status to another atomically (UPDATE … WHERE status = from); the updated order, or
   * undefined when it was not in `from`.
   */
  moveOrder(
    realm: string,
    id: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    extra: { error?: ProblemDocument; requestId?: string; serial?: string },
    audit?: AuditEventInput,
  ): Promise<OrderRecord | undefined>;
  /**
   * pending → processing, once, recording when (`at`); false when it was not pending. With `staleBefore`, also
   * takes over a validation still `processing` since before that time (its replica stopped).
   */
  startChallenge(id: string, at: Date, staleBefore?: Date): Promise<boolean>;
  /**
   * Records a validation outcome: the challenge, its authorization, and the order (ready when every
   * authorization is valid, invalid when one is invalid), with the audit event, in one transaction.
   */
  finishChallenge(
    challengeId: string,
    outcome: { status: 'valid' | 'invalid'; error?: ProblemDocument | undefined; at: Date },
    audit: AuditEventInput,
  ): Promise<void>;
  /** Deactivates an authorization (and invalidates its pending order); the updated record. */
  deactivateAuthorization(realm: string, id: string, audit: AuditEventInput): Promise<AuthorizationRecord | undefined>;
  /** The order whose certificate has this serial. */
  findOrderBySerial(realm: string, serial: string): Promise<OrderRecord | undefined>;
  audit(event: AuditEventInput): Promise<void>;
}
