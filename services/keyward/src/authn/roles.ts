/**
 * Keyward's realm roles (DESIGN.md domain model) and the call-time authorizer.
 *
 * Roles are read from Keycloak, not from the token, and cached for
 * `roleCacheSeconds` (KEYWARD_ROLE_CACHE_SECONDS, default 10 s): that is the
 * bounded staleness after a realm admin changes a role or revokes a
 * cross-realm grant in the console. Master-realm operators are recognised from
 * their token's roles (master tokens live 60 s by default).
 */
import { KeywardError } from '../kernel/errors.ts';
import type { IdentityAdmin } from '../provisioning/ports.ts';
import { describePrincipal, type Principal } from './principal.ts';

export const ROLES = {
  requester: 'keyward-requester',
  approver: 'keyward-approver',
  revoker: 'keyward-revoker',
  entityAdmin: 'keyward-entity-admin',
  admin: 'keyward-admin',
  /** The seed's "User Administrator" (seed 002): PAT and client-certificate settings and users' tokens, nothing else. */
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

export interface AuthorizerOptions {
  readonly identity: IdentityAdmin;
  readonly cacheSeconds: number;
  readonly now?: () => number;
}

export class Authorizer {
  readonly #identity: IdentityAdmin;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { roles: ReadonlySet<string>; expires: number; pending?: Promise<ReadonlySet<string>> }>();

  constructor(options: AuthorizerOptions) {
    this.#identity = options.identity;
    this.#ttl = options.cacheSeconds * 1000;
    this.#now = options.now ?? Date.now;
  }

  isOperator(p: Principal): boolean {
    return p.realm === 'master' && p.credential === 'bearer' && p.credentialRoles.includes(OPERATOR_ROLE);
  }

  /** The principal's effective realm roles in `realm`: its own roles at home, a cross-realm grant elsewhere. */
  async rolesIn(p: Principal, realm: string): Promise<ReadonlySet<string>> {
    const key = `${realm}\u0000${p.realm}\u0000${p.subject}\u0000${p.clientId ?? ''}`;
    const hit = this.#cache.get(key);
    const now = this.#now();
    if (hit && hit.expires > now) return hit.roles;
    if (hit?.pending) return hit.pending;
    const pending = this.#load(p, realm).then(
      (roles) => {
        this.#cache.set(key, { roles, expires: this.#now() + this.#ttl });
        if (this.#cache.size > 50_000) this.#evict();
        return roles;
      },
      (err) => {
        this.#cache.delete(key);
        throw err;
      },
    );
    this.#cache.set(key, { roles: hit?.roles ?? new Set(), expires: 0, pending });
    return pending;
  }

  async #load(p: Principal, realm: string): Promise<ReadonlySet<string>> {
    if (p.realm === realm) return new Set(await this.#identity.effectiveRealmRoles(realm, p.subject));
    if (p.kind !== 'client' || !p.clientId) return new Set();
    const grant = await this.#identity.findGrant(realm, p.realm, p.clientId);
    return new Set(grant?.enabled ? grant.roles : []);
  }

  #evict(): void {
    const now = this.#now();
    for (const [k, v] of this.#cache) if (v.expires <= now && !v.pending) this.#cache.delete(k);
  }

  /** Drops cached roles (after Keyward itself changed them). */
  invalidate(): void {
    this.#cache.clear();
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
