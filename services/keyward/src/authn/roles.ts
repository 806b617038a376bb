/**
 * Keyward's realm roles and the call-time authorizer.
 *
 * Roles are read from Keycloak, not from the token, and cached for
 * `roleCacheSeconds` (KEYWARD_ROLE_CACHE_SECONDS, default 10 s): that is the
 * bounded staleness after a realm admin changes a role, revokes a cross-realm
 * grant, or disables or deletes an API client in the console. Master-realm
 * operators are recognised from their token's roles (master tokens live 60 s
 * by default).
 */
import { KeywardError, isKeywardError } from '../kernel/errors.ts';
import { TtlCache, type StaleIfError } from '../kernel/ttl_cache.ts';
import type { ClientState, IdentityReader } from './ports.ts';
import { describePrincipal, type Principal } from './principal.ts';

export const ROLES = {
  requester: 'keyward-requester',
  approver: 'keyward-approver',
  revoker: 'keyward-revoker',
  entityAdmin: 'keyward-entity-admin',
  admin: 'keyward-admin',
  /** IBM CSM's "User Administrator": PAT and client-certificate settings and users' tokens, nothing else. */
  userAdmin: 'keyward-user-admin',
} as const;

export type KeywardRole = (typeof ROLES)[keyof typeof ROLES];

export const ROLE_DESCRIPTIONS: Record<KeywardRole, string> = {
  'keyward-requester': 'Keyward: request certificates',
  'keyward-approver': 'Keyward: approve certificate requests of others',
  'keyward-revoker': 'Keyward: revoke any certificate of the realm',
  'keyward-entity-admin': 'Keyward: manage end entities',
  'keyward-admin': 'Keyward: manage API clients, policies, settings and device trust',
  'keyward-user-admin': "Keyward: manage personal-access-token and client-certificate settings and users' tokens",
};

export const OPERATOR_ROLE = 'keyward-operator';

/** Why an API client's token was refused although it verified. */
export type ClientRefusal = Exclude<ClientState, 'active'>;

export interface AuthorizerOptions {
  readonly identity: IdentityReader;
  readonly cacheSeconds: number;
  /**
   * While Keycloak is unreachable, how long past `cacheSeconds` the last known
   * roles and client states are still used (stale-if-error); 0: not at all.
   */
  readonly graceSeconds?: number | undefined;
  readonly now?: () => number;
  /**
   * Told when an API client's valid token is refused because the client is
   * disabled or deleted in Keycloak: at most once per client and reason per
   * minute (a refused client retrying in a loop must not flood the audit trail).
   */
  readonly onClientRefused?: ((p: Principal, reason: ClientRefusal) => Promise<void> | void) | undefined;
}

const REFUSAL_REPORT_MS = 60_000;

/** Stale-if-error for what is read from Keycloak at call time: only an outage (503 keycloak.unavailable) qualifies. */
export function keycloakOutageGrace(graceSeconds: number): StaleIfError {
  return { graceMs: graceSeconds * 1000, isOutage: (err) => isKeywardError(err, 'keycloak.unavailable') };
}

export class Authorizer {
  readonly #identity: IdentityReader;
  readonly #now: () => number;
  readonly #roles: TtlCache<string, ReadonlySet<string>>;
  readonly #clients: TtlCache<string, ClientState>;
  readonly #onRefused: ((p: Principal, reason: ClientRefusal) => Promise<void> | void) | undefined;
  readonly #reported = new Map<string, number>();
  #clientLookups = 0;

  constructor(options: AuthorizerOptions) {
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    const ttl = options.cacheSeconds * 1000;
    const staleIfError = options.graceSeconds ? keycloakOutageGrace(options.graceSeconds) : undefined;
    this.#roles = new TtlCache(ttl, { max: 50_000, now: this.#now, staleIfError });
    this.#clients = new TtlCache(ttl, { max: 50_000, now: this.#now, staleIfError });
    this.#onRefused = options.onClientRefused;
  }

  isOperator(p: Principal): boolean {
    return p.realm === 'master' && (p.credential === 'bearer' || p.credential === 'session') && p.credentialRoles.includes(OPERATOR_ROLE);
  }

  /** The principal's effective realm roles in `realm`: its own roles at home, a cross-realm grant elsewhere. */
  rolesIn(p: Principal, realm: string): Promise<ReadonlySet<string>> {
    const key = `${realm}\u0000${p.realm}\u0000${p.subject}\u0000${p.clientId ?? ''}`;
    return this.#roles.get(key, () => this.#load(p, realm));
  }

  async #load(p: Principal, realm: string): Promise<ReadonlySet<string>> {
    if (p.realm === realm) return new Set(await this.#identity.effectiveRealmRoles(realm, p.subject));
    if (p.kind !== 'client' || !p.clientId) return new Set();
    const grant = await this.#identity.findGrant(realm, p.realm, p.clientId);
    return new Set(grant?.enabled ? grant.roles : []);
  }

  /**
   * Throws 401 unless the API client behind a client-credentials token still
   * exists and is enabled in Keycloak, with an enabled service-account user.
   * A token stays cryptographically valid until it expires (five minutes by
   * default, often more), so a realm admin who disables a leaked client must
   * not have to wait for that: the state is read with the same cache and the
   * same bounded staleness as roles. Master-realm operators are recognised
   * from their short-lived tokens alone (60 s by default) and are not looked up.
   */
  async requireActiveClient(p: Principal): Promise<void> {
    if (p.kind !== 'client' || !p.clientId || p.realm === 'master') return;
    const clientId = p.clientId;
    const state = await this.#clients.get(`${p.realm}\u0000${clientId}\u0000${p.subject}`, () => {
      this.#clientLookups++;
      return this.#identity.clientState(p.realm, clientId, p.subject);
    });
    if (state === 'active') return;
    await this.#report(p, state); // recorded before the refusal is answered

    const detail =
      state === 'not_found'
        ? `API client ${clientId} no longer exists in realm ${p.realm}`
        : state === 'disabled'
          ? `API client ${clientId} is disabled in realm ${p.realm}`
          : `The service account of API client ${clientId} is disabled in realm ${p.realm}`;
    throw new KeywardError(state === 'not_found' ? 'token.client_not_found' : 'token.client_disabled', detail, {
      headers: { 'WWW-Authenticate': `Bearer realm="keyward", error="invalid_token", error_description="${detail}"` },
      extras: { realm: p.realm, clientId },
    });
  }

  async #report(p: Principal, reason: ClientRefusal): Promise<void> {
    if (!this.#onRefused) return;
    const key = `${p.realm}\u0000${p.clientId}\u0000${reason}`;
    const now = this.#now();
    if ((this.#reported.get(key) ?? -Infinity) > now - REFUSAL_REPORT_MS) return;
    if (this.#reported.size > 10_000) for (const [k, at] of this.#reported) if (at <= now - REFUSAL_REPORT_MS) this.#reported.delete(k);
    this.#reported.set(key, now);
    await this.#onRefused(p, reason);
  }

  /** How often an API client's state was read from Keycloak since start (the rest came from the cache). */
  get clientLookups(): number {
    return this.#clientLookups;
  }

  /** Whether Keycloak was unreachable within the last few seconds, so that last known roles are being served. */
  get degraded(): boolean {
    return this.#roles.degraded || this.#clients.degraded;
  }

  /** How many role and client-state answers were served from the grace period since start. */
  get staleServed(): number {
    return this.#roles.staleServed + this.#clients.staleServed;
  }

  /** Drops cached roles and client states (after Keyward itself changed them). */
  invalidate(): void {
    this.#roles.clear();
    this.#clients.clear();
  }

  async hasRole(p: Principal, realm: string, role: string): Promise<boolean> {
    return (await this.rolesIn(p, realm)).has(role);
  }

  /** Throws 403 `auth.forbidden` unless the principal holds `role` in `realm`; operators pass for keyward-admin. */
  async require(p: Principal, realm: string, role: KeywardRole): Promise<void> {
    if (role === ROLES.admin && this.isOperator(p)) return;
    if (await this.hasRole(p, realm, role)) return;
    throw new KeywardError('auth.forbidden', `${describePrincipal(p)} does not hold ${role} in realm ${realm}`, {
      extras: { realm, role },
    });
  }

  /** Throws 403 `auth.forbidden` unless the principal is an operator or holds one of `roles` in `realm`. */
  async requireAny(p: Principal, realm: string, roles: readonly KeywardRole[]): Promise<void> {
    if (this.isOperator(p)) return;
    const held = await this.rolesIn(p, realm);
    if (roles.some((r) => held.has(r))) return;
    throw new KeywardError('auth.forbidden', `${describePrincipal(p)} holds none of ${roles.join(', ')} in realm ${realm}`, {
      extras: { realm, roles },
    });
  }

  requireOperator(p: Principal): void {
    if (!this.isOperator(p))
      throw new KeywardError('auth.forbidden', `${describePrincipal(p)} is not a Keyward operator (master realm role ${OPERATOR_ROLE})`, {
        extras: { role: OPERATOR_ROLE },
      });
  }
}
