/**
 * Personal access tokens, as IBM Copy Services Manager has them.
 *
 * - Disabled by default per realm; an admin (`keyward-admin` or
 *   `keyward-user-admin`) enables them and sets the maximum expiry (default
 *   366 days), under dual control when the realm has it on (settings/).
 * - Any user with access to the realm (any keyward-* role, directly, through
 *   a group or through a composite such as the default role) creates named
 *   tokens; the token is shown once.
 * - A call with `Authorization: Bearer kwp_…` carries the permissions the user
 *   has **at the time of the call** (roles read from Keycloak, role cache
 *   KEYWARD_ROLE_CACHE_SECONDS).
 * - When the user loses access — deleted or disabled in Keycloak, or holding
 *   no keyward-* role any more — their tokens are deleted: at the next use
 *   (the user lookup is never cached, so a deleted user's token stops at once)
 *   and by a background sweep (KEYWARD_PAT_SWEEP_SECONDS).
 * - While PATs are disabled, tokens are kept but refused (401
 *   `pat.disabled_in_use`); they work again when re-enabled, unless expired or
 *   revoked. Changing the maximum never changes existing tokens: each keeps
 *   the expiry it was created with; the admin view flags those above the
 *   current maximum (`exceedsMaximum`).
 * - A token created with a long-lived credential (a PAT, a client
 *   certificate) may not outlive that credential.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import { SYSTEM_ACTOR } from '../audit/event.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/log.ts';
import type { AuditEventInput } from '../audit/event.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { ProtectedSettings } from '../settings/protected_settings.ts';
import type { PatQuery, PatRecord, PatSort, PatStore, PatUserDirectory } from './ports.ts';
import { generatePat, patId, patMatches } from './token.ts';

const DAY = 86_400_000;
/** lastUsedAt is written at most once per this interval per token (no write per request). */
export const LAST_USED_RESOLUTION_MS = 60_000;
/** A refused use of the same token for the same reason is audited at most once per this interval. */
const DENIAL_AUDIT_INTERVAL_MS = 60_000;
/** Refusals of tokens that name no stored token, audited per interval at most (the rest are counted). */
const UNKNOWN_AUDIT_BUDGET = 60;
const KEYWARD_ROLES: ReadonlySet<string> = new Set(Object.values(ROLES));
const ADMINS = [ROLES.admin, ROLES.userAdmin] as const;

/** Access to Keyward in a realm: holding any keyward-* role there. */
export const hasAccess = (roles: Iterable<string>): boolean => [...roles].some((r) => KEYWARD_ROLES.has(r));

export type RemovalReason = 'user_deleted' | 'user_disabled' | 'no_keyward_role';

/** A token as its owner sees it (never the secret). */
export interface PatView {
  readonly id: string;
  readonly name: string | null;
  readonly createdAt: string;
  readonly expiresInDays: number;
  readonly expiresAt: string;
  /** Precise to LAST_USED_RESOLUTION_MS; null when never used. */
  readonly lastUsedAt: string | null;
  readonly status: 'active' | 'expired';
}

/** A row of the admin view: IBM CSM's columns, plus status and whether it exceeds today's maximum. */
export interface PatAdminView extends PatView {
  readonly username: string;
  readonly exceedsMaximum: boolean;
}

export interface CreatedPat extends PatView {
  /** Shown once, here. */
  readonly token: string;
}

export class PersonalAccessTokenService {
  readonly #store: PatStore;
  readonly #settings: ProtectedSettings;
  readonly #realms: RealmService;
  readonly #authz: Authorizer;
  readonly #users: PatUserDirectory;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  /** id → when this replica last wrote its lastUsedAt. */
  readonly #touched = new Map<string, number>();
  /** `id reason` → when this replica last audited a refusal. */
  readonly #denials = new Map<string, { at: number; suppressed: number }>();
  readonly #unknown = { start: 0, used: 0, suppressed: 0 };

  constructor(deps: {
    store: PatStore;
    settings: ProtectedSettings;
    realms: RealmService;
    authz: Authorizer;
    users: PatUserDirectory;
    clock: Clock;
    log?: Logger | undefined;
  }) {
    this.#store = deps.store;
    this.#settings = deps.settings;
    this.#realms = deps.realms;
    this.#authz = deps.authz;
    this.#users = deps.users;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  #view(r: PatRecord): PatView {
    return {
      id: r.id,
      name: r.name ?? null,
      createdAt: r.createdAt.toISOString(),
      expiresInDays: r.expiresInDays,
      expiresAt: r.expiresAt.toISOString(),
      lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
      status: r.expiresAt <= this.#clock.now() ? 'expired' : 'active',
    };
  }

  // ------------------------------------------------------------ the user's own tokens

  /**
   * Creates a token for the calling user.
   * @throws 403 `pat.users_only`, `pat.disabled`, `auth.forbidden` (no keyward-* role); 422 `pat.expiry_exceeded` with `maximum`
   */
  async create(p: Principal, input: { name?: string | undefined; expiresInDays: number }): Promise<CreatedPat> {
    if (p.kind !== 'user')
      throw new KeywardError('pat.users_only', "Personal access tokens carry a user's authority: create them with a user's token");
    await this.#realms.getManaged(p.realm);
    const settings = await this.#settings.value(p.realm, 'personal_access_tokens');
    if (!settings.enabled)
      throw new KeywardError(
        'pat.disabled',
        `Personal access tokens are disabled in realm ${p.realm}; a keyward-admin or keyward-user-admin enables them`,
      );
    if (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1) {
      throw new KeywardError('request.malformed', 'expiresInDays must be a whole number of days, at least 1', {
        extras: { field: '/expiresInDays' },
      });
    }
    if (!hasAccess(await this.#authz.rolesIn(p, p.realm))) {
      throw new KeywardError('auth.forbidden', `User ${p.username ?? p.subject} holds no keyward-* role in realm ${p.realm}`, {
        extras: { realm: p.realm },
      });
    }
    const now = this.#clock.now();
    if (input.expiresInDays > settings.maxExpirationDays) {
      throw new KeywardError('pat.expiry_exceeded', `expiresInDays may be at most ${settings.maxExpirationDays} in realm ${p.realm}`, {
        extras: { maximum: settings.maxExpirationDays },
      });
    }
    if (p.credentialExpiresAt) {
      // A PAT cannot create another PAT with a longer life than its own (nor can a client certificate).
      const remaining = Math.max(0, Math.floor((p.credentialExpiresAt.getTime() - now.getTime()) / DAY));
      if (input.expiresInDays > remaining) {
        throw new KeywardError(
          'pat.expiry_exceeded',
          `A token created with a ${p.credential === 'pat' ? 'personal access token' : 'client certificate'} may not outlive it:` +
            ` expiresInDays may be at most ${remaining} (it expires ${p.credentialExpiresAt.toISOString()})`,
          { extras: { maximum: remaining } },
        );
      }
    }
    const name = input.name?.trim() || undefined;
    const { id, token, hash } = generatePat();
    const r: PatRecord = {
      id,
      realm: p.realm,
      userId: p.subject,
      username: p.username ?? p.subject,
      name,
      hash,
      expiresInDays: input.expiresInDays,
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.expiresInDays * DAY),
      lastUsedAt: undefined,
    };
    await this.#store.insert(r, {
      action: 'personal_access_token.created',
      actor: auditActor(p),
      realm: p.realm,
      target: id,
      details: { name, expiresInDays: r.expiresInDays, expiresAt: r.expiresAt.toISOString(), createdWith: p.credential },
    });
    return { ...this.#view(r), token };
  }

  /** The caller's tokens and the realm's rules. */
  async listOwn(p: Principal): Promise<{ items: PatView[]; enabled: boolean; maximumExpirationDays: number }> {
    if (p.kind !== 'user') throw new KeywardError('pat.users_only', 'Only users hold personal access tokens');
    await this.#realms.getManaged(p.realm);
    const [rows, s] = await Promise.all([this.#store.listOwn(p.realm, p.subject), this.#settings.value(p.realm, 'personal_access_tokens')]);
    return { items: rows.map((r) => this.#view(r)), enabled: s.enabled, maximumExpirationDays: s.maxExpirationDays };
  }

  /** Revokes one of the caller's own tokens. @throws 404 `pat.not_found` */
  async revokeOwn(p: Principal, id: string): Promise<void> {
    const deleted =
      p.kind === 'user' && /^[0-9a-f]{16}$/.test(id)
        ? await this.#store.delete({ realm: p.realm, ids: [id], userId: p.subject }, (r) => this.#revoked(r, auditActor(p), 'owner'))
        : [];
    if (deleted.length === 0) throw new KeywardError('pat.not_found', `The caller has no personal access token ${id.slice(0, 40)}`);
  }

  #revoked(r: PatRecord, actor: AuditEventInput['actor'], reason: 'owner' | 'admin' | RemovalReason): AuditEventInput {
    return {
      action: 'personal_access_token.revoked',
      actor,
      realm: r.realm,
      target: r.id,
      details: { owner: r.username, userId: r.userId, name: r.name, reason },
    };
  }

  // ------------------------------------------------------------ the admin view (IBM CSM: "Viewing Users with Personal Access Tokens")

  async adminList(
    realm: string,
    p: Principal,
    q: Partial<PatQuery> = {},
  ): Promise<{ items: PatAdminView[]; total: number; first: number; max: number; maximumExpirationDays: number }> {
    await this.#realms.getManaged(realm);
    await this.#authz.requireAny(p, realm, ADMINS);
    const query: PatQuery = { first: q.first ?? 0, max: Math.min(q.max ?? 100, 1000), sort: q.sort ?? 'expiresAt', username: q.username };
    if (!SORTS.includes(query.sort)) throw new TypeError(`unknown sort ${query.sort}`);
    const [{ items, total }, s] = await Promise.all([
      this.#store.page(realm, query),
      this.#settings.value(realm, 'personal_access_tokens'),
    ]);
    return {
      items: items.map((r) => ({ ...this.#view(r), username: r.username, exceedsMaximum: r.expiresInDays > s.maxExpirationDays })),
      total,
      first: query.first,
      max: query.max,
      maximumExpirationDays: s.maxExpirationDays,
    };
  }

  /** Revokes the tokens of one or more users, or by id, at once (IBM CSM: "Revoking Personal Access Tokens for Users"). */
  async adminRevoke(
    realm: string,
    p: Principal,
    sel: { usernames?: readonly string[] | undefined; ids?: readonly string[] | undefined },
  ): Promise<PatAdminView[]> {
    await this.#realms.getManaged(realm);
    await this.#authz.requireAny(p, realm, ADMINS);
    if (!sel.usernames?.length && !sel.ids?.length) {
      throw new KeywardError('request.malformed', 'Name the tokens to revoke: usernames, ids, or both', {
        extras: { field: '/usernames' },
      });
    }
    const deleted = await this.#store.delete({ realm, ids: sel.ids, usernames: sel.usernames }, (r) =>
      this.#revoked(r, auditActor(p), 'admin'),
    );
    const { maxExpirationDays } = await this.#settings.value(realm, 'personal_access_tokens');
    return deleted.map((r) => ({ ...this.#view(r), username: r.username, exceedsMaximum: r.expiresInDays > maxExpirationDays }));
  }

  // ------------------------------------------------------------ removal with access

  /** Deletes every token of a user who lost access; returns how many. */
  async removeUser(realm: string, userId: string, reason: RemovalReason): Promise<number> {
    const deleted = await this.#store.delete({ realm, userId }, (r) => this.#revoked(r, SYSTEM_ACTOR, reason));
    if (deleted.length) this.#log?.info('personal access tokens removed with access', { realm, userId, reason, count: deleted.length });
    return deleted.length;
  }

  /**
   * The background sweep: every user holding tokens is looked up in Keycloak;
   * tokens of users who were deleted, disabled or hold no keyward-* role
   * (roles read fresh, not from the role cache) are deleted. A Keycloak
   * failure leaves that user's tokens alone until the next sweep.
   */
  async sweep(): Promise<{ checked: number; removed: number; failed: number }> {
    const holders = await this.#store.holders();
    let removed = 0;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < holders.length) {
        const h = holders[next++]!;
        try {
          const reason = await this.#lostAccess(h.realm, h.userId, h.username);
          if (reason) removed += await this.removeUser(h.realm, h.userId, reason);
        } catch (err) {
          failed++;
          this.#log?.warn('personal access token sweep could not check a user; will retry', { realm: h.realm, userId: h.userId, err });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, holders.length) }, worker));
    return { checked: holders.length, removed, failed };
  }

  async #lostAccess(realm: string, userId: string, username: string): Promise<RemovalReason | undefined> {
    const user = await this.#users.findUser(realm, userId);
    if (!user) return 'user_deleted';
    if (user.username !== username) await this.#store.renameUser(realm, userId, user.username);
    if (!user.enabled) return 'user_disabled';
    if (!hasAccess(await this.#users.effectiveRealmRoles(realm, userId))) return 'no_keyward_role';
    return undefined;
  }

  // ------------------------------------------------------------ authentication

  /**
   * The principal a `kwp_…` token stands for, with the user's current
   * authority. Unknown ids and wrong secrets get the same answer after the
   * same work (a hash and one indexed read).
   * @throws 401 `pat.invalid`, `pat.expired`, `pat.disabled_in_use`
   */
  async authenticate(token: string): Promise<Principal> {
    const id = patId(token);
    const found = id === undefined ? undefined : await this.#store.findForAuthentication(id);
    if (!patMatches(token, found?.record.hash)) {
      if (found) this.#deny(found.record, 'wrong_secret');
      else this.#denyUnknown(id);
      throw new KeywardError('pat.invalid', 'The personal access token is invalid or revoked', {
        headers: { 'WWW-Authenticate': 'Bearer realm="keyward", error="invalid_token"' },
      });
    }
    const r = found!.record;
    const now = this.#clock.now();
    if (r.expiresAt <= now) {
      this.#deny(r, 'expired');
      throw new KeywardError('pat.expired', `The personal access token expired on ${r.expiresAt.toISOString()}`, {
        headers: { 'WWW-Authenticate': 'Bearer realm="keyward", error="invalid_token"' },
      });
    }
    if (!found!.enabled) {
      this.#deny(r, 'disabled');
      throw new KeywardError(
        'pat.disabled_in_use',
        `Personal access tokens are disabled in realm ${r.realm}; the token works again when they are re-enabled`,
        { headers: { 'WWW-Authenticate': 'Bearer realm="keyward", error="invalid_token"' } },
      );
    }
    // Never cached: a deleted or disabled user's token stops at once.
    const user = await this.#users.findUser(r.realm, r.userId);
    // A username changed in Keycloak's console: the token is the user's by id; the admin views follow the new name.
    if (user && user.username !== r.username) await this.#store.renameUser(r.realm, r.userId, user.username);
    const principal: Principal = Object.freeze({
      credential: 'pat',
      kind: 'user',
      realm: r.realm,
      subject: r.userId,
      clientId: undefined,
      username: user?.username ?? r.username,
      credentialRoles: [],
      credentialExpiresAt: r.expiresAt,
    });
    const reason: RemovalReason | undefined = !user
      ? 'user_deleted'
      : !user.enabled
        ? 'user_disabled'
        : hasAccess(await this.#authz.rolesIn(principal, r.realm))
          ? undefined
          : 'no_keyward_role';
    if (reason) {
      await this.removeUser(r.realm, r.userId, reason);
      throw new KeywardError(
        'pat.invalid',
        `User ${r.username} no longer has access to realm ${r.realm} (${reason.replace(/_/g, ' ')});` +
          ' their personal access tokens were deleted',
        { headers: { 'WWW-Authenticate': 'Bearer realm="keyward", error="invalid_token"' } },
      );
    }
    this.#touch(r, now);
    return principal;
  }

  /** Records the use without a write per request: at most once per LAST_USED_RESOLUTION_MS per token. */
  #touch(r: PatRecord, now: Date): void {
    const t = now.getTime();
    const stored = r.lastUsedAt?.getTime() ?? 0;
    const mine = this.#touched.get(r.id) ?? 0;
    if (t - Math.max(stored, mine) < LAST_USED_RESOLUTION_MS) return;
    this.#touched.set(r.id, t);
    if (this.#touched.size > 10_000) for (const [k, v] of this.#touched) if (t - v >= LAST_USED_RESOLUTION_MS) this.#touched.delete(k);
    this.#store.touch(r.id, now).catch((err) => {
      this.#touched.delete(r.id);
      this.#log?.warn('could not record the last use of a personal access token', { patId: r.id, err });
    });
  }

  /**
   * Audits a refused use of a known token, off the request path (so the answer
   * takes the same time whether or not the id exists) and at most once a minute
   * per token and reason (a script retrying an expired token cannot flood the trail).
   */
  #deny(r: PatRecord, reason: 'wrong_secret' | 'expired' | 'disabled'): void {
    const suppressed = this.#admit(`${r.id} ${reason}`);
    if (suppressed === undefined) return;
    this.#record({
      action: 'personal_access_token.use_denied',
      actor: { kind: 'user:pat', id: r.userId, realm: r.realm, name: r.username },
      realm: r.realm,
      target: r.id,
      details: { reason, name: r.name, ...(suppressed ? { suppressedSinceLast: suppressed } : {}) },
    });
  }

  /**
   * Audits a token that names no stored token: malformed, or an unknown id
   * (never issued, or revoked — its id then matches the revocation event). It
   * names no realm or user; besides the per-id limit, at most
   * UNKNOWN_AUDIT_BUDGET such events a minute are written, the rest counted.
   */
  #denyUnknown(id: string | undefined): void {
    const t = this.#clock.now().getTime();
    const w = this.#unknown;
    if (t - w.start >= DENIAL_AUDIT_INTERVAL_MS) {
      w.start = t;
      w.used = 0;
    }
    if (w.used >= UNKNOWN_AUDIT_BUDGET) {
      w.suppressed++;
      return;
    }
    const suppressed = this.#admit(`unknown ${id ?? 'malformed'}`);
    if (suppressed === undefined) return;
    w.used++;
    const total = suppressed + w.suppressed;
    w.suppressed = 0;
    this.#record({
      action: 'personal_access_token.use_denied',
      actor: { kind: 'anonymous', id: 'unknown' },
      target: id,
      details: { reason: id === undefined ? 'malformed' : 'unknown_token', ...(total ? { suppressedSinceLast: total } : {}) },
    });
  }

  /** The number of refusals suppressed since the last audited one for `key`, or undefined when this one is suppressed too. */
  #admit(key: string): number | undefined {
    const t = this.#clock.now().getTime();
    const last = this.#denials.get(key);
    if (last && t - last.at < DENIAL_AUDIT_INTERVAL_MS) {
      last.suppressed++;
      return undefined;
    }
    this.#denials.set(key, { at: t, suppressed: 0 });
    if (this.#denials.size > 10_000) for (const [k, v] of this.#denials) if (t - v.at >= DENIAL_AUDIT_INTERVAL_MS) this.#denials.delete(k);
    return last?.suppressed ?? 0;
  }

  #record(event: AuditEventInput): void {
    this.#store
      .audit(event)
      .catch((err) => this.#log?.warn('could not audit a refused personal access token', { patId: event.target, err }));
  }
}

const SORTS: readonly PatSort[] = [
  'expiresAt',
  '-expiresAt',
  'createdAt',
  '-createdAt',
  'username',
  '-username',
  'lastUsedAt',
  '-lastUsedAt',
];
export const PAT_SORTS = SORTS;
