/** What personal access tokens need from storage and from the identity provider (owned here: ports are owned by their consumer). */
import type { AuditEventInput } from '../audit/event.ts';
import type { Page } from '../kernel/page.ts';

export interface PatRecord {
  readonly id: string;
  readonly realm: string;
  /** Keycloak user id: the authority the token carries. */
  readonly userId: string;
  readonly username: string;
  readonly name: string | undefined;
  /** SHA-256 of the whole token. */
  readonly hash: Uint8Array;
  readonly expiresInDays: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly lastUsedAt: Date | undefined;
}

export type PatSort = 'expiresAt' | '-expiresAt' | 'createdAt' | '-createdAt' | 'username' | '-username' | 'lastUsedAt' | '-lastUsedAt';

export interface PatQuery extends Page {
  readonly sort: PatSort;
  readonly username?: string | undefined;
}

/** Which tokens to delete: all conditions given must hold; `ids` and `usernames` are alternatives (either matches). */
export interface PatSelection {
  readonly realm: string;
  readonly ids?: readonly string[] | undefined;
  readonly usernames?: readonly string[] | undefined;
  readonly userId?: string | undefined;
}

export interface PatStore {
  insert(r: PatRecord, audit: AuditEventInput): Promise<void>;
  /** The token and whether PATs are enabled in its realm, in one read (the hot path of every PAT call). */
  findForAuthentication(id: string): Promise<{ record: PatRecord; enabled: boolean } | undefined>;
  listOwn(realm: string, userId: string): Promise<PatRecord[]>;
  page(realm: string, q: PatQuery): Promise<{ items: PatRecord[]; total: number }>;
  /** Deletes the selected tokens with one audit event each, in one transaction; returns what was deleted. */
  delete(sel: PatSelection, audit: (r: PatRecord) => AuditEventInput): Promise<PatRecord[]>;
  /** Distinct users holding tokens, for the access sweep. */
  holders(): Promise<Array<{ realm: string; userId: string; username: string }>>;
  /**
   * Records a user's current username on their rows (a username changed in Keycloak's console: rows are the
   * user's by Keycloak user id, the stored name is for the admin views and revocation by username); returns how many.
   */
  renameUser(realm: string, userId: string, username: string): Promise<number>;
  /** Sets last_used_at (never backwards). */
  touch(id: string, at: Date): Promise<void>;
  /** Records an audit event outside any change (a refused use). */
  audit(event: AuditEventInput): Promise<void>;
}

/** A user as Keycloak has it now. */
export interface PatUser {
  readonly id: string;
  readonly username: string;
  readonly enabled: boolean;
}

export interface PatUserDirectory {
  /** The user, or undefined when deleted. */
  findUser(realm: string, userId: string): Promise<PatUser | undefined>;
  /** Effective realm roles (direct, through groups and composites), uncached. */
  effectiveRealmRoles(realm: string, userId: string): Promise<string[]>;
}
