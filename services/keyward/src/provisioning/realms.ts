/**
 * Managed realms: a realm is managed when declared in realm-config or through
 * `PUT /v1/realms/{realm}`. Keyward makes sure it exists in Keycloak with
 * Keyward's roles, the `keyward` audience scope, its clients (`keyward-cli`,
 * the web console's `keyward-console`), and the configured roles in
 * `default-roles-<realm>`; it removes from the default role only roles it put
 * there itself.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLE_DESCRIPTIONS, type Authorizer } from '../authn/roles.ts';
import { KeywardError } from '../kernel/errors.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import { checkRealmName } from './names.ts';
import type { ConsoleClientSpec, IdentityAdmin, ManagedRealm, ProvisioningStore } from './ports.ts';

export interface RealmSpec {
  readonly displayName?: string | undefined;
  readonly defaultRoles?: readonly string[] | undefined;
}

/** Whether the realm still exists in Keycloak: realm admins may delete it in Keycloak's console. */
export type RealmStatus = 'ok' | 'missing in Keycloak';

export interface RealmView {
  readonly name: string;
  readonly status: RealmStatus;
  readonly displayName: string | undefined;
  /** Roles inside `default-roles-<realm>` as Keycloak has them now. */
  readonly defaultRoles: readonly string[];
  /** The subset that Keyward manages. */
  readonly managedDefaultRoles: readonly string[];
  readonly roles: readonly string[];
  /**
   * Keyward's roles (keyward-requester …) that the realm lacks in Keycloak: deleted or renamed in the console.
   * A renamed role keeps its holders under its new name, which means nothing to Keyward. PUT re-creates them.
   */
  readonly missingRoles: readonly string[];
  readonly source: 'api' | 'config';
  readonly createdAt: string;
  readonly updatedAt: string;
}

export class RealmService {
  readonly #identity: IdentityAdmin;
  readonly #store: ProvisioningStore;
  readonly #authz: Authorizer;
  readonly #consoleClient: ((realm: string) => ConsoleClientSpec) | undefined;
  /** Managed realms change rarely: dropped at once when another replica announces a change, else after 5 s. */
  readonly #cache = new TtlCache<string, ManagedRealm | undefined>(5_000);
  readonly #all = new TtlCache<'all', ManagedRealm[]>(5_000);

  /** `consoleClient`: what the web console's client of a realm must be (unset: no console client is made). */
  constructor(
    identity: IdentityAdmin,
    store: ProvisioningStore,
    authz: Authorizer,
    options: { consoleClient?: ((realm: string) => ConsoleClientSpec) | undefined } = {},
  ) {
    this.#identity = identity;
    this.#store = store;
    this.#authz = authz;
    this.#consoleClient = options.consoleClient;
  }

  /** The managed realm, or 404 `realm.not_found`. */
  async getManaged(name: string): Promise<ManagedRealm> {
    const r = await this.#cache.get(name, () => this.#store.findRealm(name));
    if (!r) throw new KeywardError('realm.not_found', `Realm ${name} is not managed by Keyward`, { extras: { realm: name } });
    return r;
  }

  async isManaged(name: string): Promise<boolean> {
    return (await this.#cache.get(name, () => this.#store.findRealm(name))) !== undefined;
  }

  /** Creates or updates a managed realm (operators only, or the system when applying realm-config). */
  async put(
    name: string,
    spec: RealmSpec,
    by: Principal | 'system',
    source: 'api' | 'config' = 'api',
  ): Promise<{ realm: RealmView; created: boolean }> {
    if (by !== 'system') this.#authz.requireOperator(by);
    checkRealmName(name);
    const previous = await this.#store.findRealm(name);
    const createdInKeycloak = await this.#identity.ensureRealm(name, spec.displayName);
    if (!createdInKeycloak && spec.displayName !== undefined) {
      const info = await this.#identity.findRealm(name);
      if (info && info.displayName !== spec.displayName) await this.#identity.updateRealmDisplayName(name, spec.displayName);
    }
    await this.#identity.ensureRealmRoles(
      name,
      Object.entries(ROLE_DESCRIPTIONS).map(([n, description]) => ({ name: n, description })),
    );
    await this.#identity.ensureAudienceScope(name);
    await this.#identity.ensureCliClient(name);
    // Certificates follow identity through the realm's admin events (follow/identity_follow.ts).
    await this.#identity.ensureAdminEvents(name);
    // The web console's client: re-created when deleted in Keycloak, put back when its redirect or secret drifted.
    if (this.#consoleClient) await this.#identity.ensureConsoleClient(name, this.#consoleClient(name));
    const wanted = [...new Set(spec.defaultRoles ?? previous?.defaultRoles ?? [])].sort();
    const current = await this.#identity.getDefaultRoles(name);
    const add = wanted.filter((r) => !current.includes(r));
    const remove = (previous?.defaultRoles ?? []).filter((r) => !wanted.includes(r) && current.includes(r));
    await this.#identity.setDefaultRoles(name, add, remove);
    const result = await this.#store.transaction(async (tx) => {
      const outcome = await tx.upsertRealm({
        name,
        displayName: spec.displayName ?? previous?.displayName,
        defaultRoles: wanted,
        source: previous?.source ?? source,
      });
      await tx.audit({
        action: outcome === 'created' ? 'realm.managed' : 'realm.updated',
        actor: by === 'system' ? { kind: 'system', id: source } : auditActor(by),
        realm: name,
        target: name,
        details: { displayName: spec.displayName, defaultRoles: wanted, createdInKeycloak },
      });
      return outcome;
    });
    this.#authz.invalidate();
    this.#cache.delete(name);
    this.#all.clear();
    return { realm: await this.view(name), created: result === 'created' };
  }

  async view(name: string): Promise<RealmView> {
    const r = await this.getManaged(name);
    const status = await this.status(name);
    const [defaults, roles] =
      status === 'ok' ? await Promise.all([this.#identity.getDefaultRoles(name), this.#identity.listRealmRoles(name)]) : [[], []];
    return {
      name: r.name,
      status,
      displayName: r.displayName,
      defaultRoles: defaults,
      managedDefaultRoles: r.defaultRoles,
      roles: roles.map((x) => x.name).sort(),
      missingRoles: status === 'ok' ? Object.keys(ROLE_DESCRIPTIONS).filter((n) => !roles.some((x) => x.name === n)) : [],
      source: r.source,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }

  async list(): Promise<ManagedRealm[]> {
    return this.#all.get('all', () => this.#store.listRealms());
  }

  /** Forgets what is cached of a realm (another replica changed it), or of all realms. */
  forget(name?: string): void {
    if (name === undefined) this.#cache.clear();
    else this.#cache.delete(name);
    this.#all.clear();
  }

  /** Whether a managed realm still exists in Keycloak (read now: listings are where a missing realm is reported). */
  async status(name: string): Promise<RealmStatus> {
    return (await this.#identity.findRealm(name)) ? 'ok' : 'missing in Keycloak';
  }

  /**
   * Stops managing a realm (operators only): Keyward forgets it for API
   * clients, policies, tokens and issuance, and leaves Keycloak alone (the
   * realm, if it still exists there, keeps Keyward's roles and clients). Its CA,
   * certificates, policies and audit history stay stored; `put` manages it again.
   */
  async unmanage(name: string, by: Principal): Promise<void> {
    this.#authz.requireOperator(by);
    await this.getManaged(name);
    const status = await this.status(name);
    await this.#store.transaction(async (tx) => {
      if (!(await tx.unmanageRealm(name))) {
        throw new KeywardError('realm.not_found', `Realm ${name} is not managed by Keyward`, { extras: { realm: name } });
      }
      await tx.audit({ action: 'realm.unmanaged', actor: auditActor(by), realm: name, target: name, details: { status } });
    });
    this.#authz.invalidate();
    this.#cache.delete(name);
    this.#all.clear();
  }
}
