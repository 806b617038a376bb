/**
 * API clients (as in MTG Certificate Lifecycle Manager): confidential Keycloak clients with a
 * service account and the client-credentials grant only, holding the home
 * realm's default role, optional extra home-realm roles, explicit cross-realm
 * role grants (never another realm's default role) and an optional default
 * certificate policy, which must come from a realm that has policies and in
 * which the client holds a role.
 *
 * The default policy is stored on the Keycloak client (attribute
 * `keyward.default-policy`) and mirrored into its description, which the admin
 * console shows. It is re-validated whenever it is read: a default policy
 * whose realm grant was revoked is reported, never silently used.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { keycloakOutageGrace, ROLES, type Authorizer } from '../authn/roles.ts';
import { KeywardError, type ErrorCode } from '../kernel/errors.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import { checkClientId } from './names.ts';
import type { ClientInfo, GrantInfo, IdentityAdmin, ProvisioningStore } from './ports.ts';
import type { PolicyService } from './policies.ts';
import type { RealmService } from './realms.ts';

export const DEFAULT_POLICY_ATTRIBUTE = 'keyward.default-policy';
/** `config` on clients that realm-config created: the only ones `--prune` may delete. */
export const SOURCE_ATTRIBUTE = 'keyward.source';
/**
 * The mark of the idempotent request that created a client (the serial it reserved, random): a retry finds the
 * client its first attempt created without recording its answer (http/idempotency.ts).
 */
export const CREATION_ATTRIBUTE = 'keyward.creation';
const DESCRIPTION_MARK = ' [Keyward default policy: ';

export interface CrossRealmRole {
  readonly realm: string;
  readonly role: string;
}

export interface PolicyRef {
  readonly realm: string;
  readonly name: string;
}

export interface ApiClientInput {
  readonly clientId: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly crossRealmRoles?: readonly CrossRealmRole[] | undefined;
  readonly defaultPolicy?: PolicyRef | undefined;
  /** Who declares it: the API (default) or realm-config files. */
  readonly source?: 'api' | 'config' | undefined;
  /** A secret to set instead of a generated one (realm-config, from an environment reference). */
  readonly secret?: string | undefined;
  /** Recorded on the client as {@link CREATION_ATTRIBUTE}, for {@link ApiClientService.findCreated}. */
  readonly creationMark?: string | undefined;
}

export interface ApiClientPatch {
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly crossRealmRoles?: readonly CrossRealmRole[] | undefined;
  /** `null` clears the default policy. */
  readonly defaultPolicy?: PolicyRef | null | undefined;
}

export interface DefaultPolicyView extends PolicyRef {
  /** `valid`, or the code that issuance would refuse it with now. */
  readonly status: 'valid' | 'policy.not_found' | 'policy.realm_has_no_policies' | 'policy.realm_not_granted';
}

export interface ApiClientView {
  readonly realm: string;
  readonly clientId: string;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly enabled: boolean;
  /** Created by Keyward (false: a console-made client marked with the keyward scope). */
  readonly managed: boolean;
  /** `config` when declared in realm-config files. */
  readonly source: 'api' | 'config' | 'console';
  /** Effective home-realm roles: direct, through the default role's composite, through groups. */
  readonly roles: readonly string[];
  /** Home-realm roles assigned directly (besides the default role). */
  readonly assignedRoles: readonly string[];
  readonly crossRealmRoles: readonly CrossRealmRole[];
  readonly defaultPolicy: DefaultPolicyView | undefined;
}

export function parsePolicyRef(value: string | undefined): PolicyRef | undefined {
  if (!value) return undefined;
  const i = value.indexOf('/');
  return i > 0 ? { realm: value.slice(0, i), name: value.slice(i + 1) } : undefined;
}

function userDescription(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const i = d.indexOf(DESCRIPTION_MARK);
  const s = i >= 0 ? d.slice(0, i) : d;
  return s || undefined;
}

function mirroredDescription(description: string | undefined, policy: PolicyRef | undefined): string {
  return (description ?? '') + (policy ? `${DESCRIPTION_MARK}${policy.realm}/${policy.name}]` : '');
}

export class ApiClientService {
  readonly #identity: IdentityAdmin;
  readonly #store: ProvisioningStore;
  readonly #realms: RealmService;
  readonly #policies: PolicyService;
  readonly #authz: Authorizer;
  /** The default policy attribute of a caller's client, cached like roles (KEYWARD_ROLE_CACHE_SECONDS). */
  readonly #defaults: TtlCache<string, PolicyRef | undefined>;

  constructor(deps: {
    identity: IdentityAdmin;
    store: ProvisioningStore;
    realms: RealmService;
    policies: PolicyService;
    authz: Authorizer;
    cacheSeconds?: number;
    /** Stale-if-error while Keycloak is unreachable (KEYWARD_ROLE_GRACE_SECONDS). */
    graceSeconds?: number;
  }) {
    this.#defaults = new TtlCache(1000 * (deps.cacheSeconds ?? 10), {
      staleIfError: deps.graceSeconds ? keycloakOutageGrace(deps.graceSeconds) : undefined,
    });
    this.#identity = deps.identity;
    this.#store = deps.store;
    this.#realms = deps.realms;
    this.#policies = deps.policies;
    this.#authz = deps.authz;
  }

  async #requireAdmin(by: Principal | 'system', realm: string): Promise<void> {
    if (by !== 'system') await this.#authz.require(by, realm, ROLES.admin);
  }

  /** Groups cross-realm roles by realm, checking each realm is managed and the caller administers it. */
  async #grantsByRealm(home: string, list: readonly CrossRealmRole[], by: Principal | 'system'): Promise<Map<string, string[]>> {
    const byRealm = new Map<string, string[]>();
    for (const { realm, role } of list) {
      if (realm === home)
        throw new KeywardError(
          'role.not_grantable',
          `Cross-realm roles must come from another realm than ${home}; use roles for home-realm roles`,
          { extras: { realm, role } },
        );
      if (role === `default-roles-${realm}`)
        throw new KeywardError('role.not_grantable', `A cross-realm grant never includes the default role of realm ${realm}`, {
          extras: { realm, role },
        });
      (byRealm.get(realm) ?? byRealm.set(realm, []).get(realm)!).push(role);
    }
    for (const realm of byRealm.keys()) {
      await this.#realms.getManaged(realm);
      await this.#requireAdmin(by, realm);
      const known = new Set((await this.#identity.listRealmRoles(realm)).map((r) => r.name));
      for (const role of byRealm.get(realm)!)
        if (!known.has(role)) throw new KeywardError('role.not_found', `Realm ${realm} has no role ${role}`, { extras: { realm, role } });
    }
    return byRealm;
  }

  /** Why `ref` cannot be the default policy of a client of `home` holding grants in `grantRealms`, or undefined. */
  async #policyProblem(
    home: string,
    grantRealms: ReadonlySet<string>,
    ref: PolicyRef,
  ): Promise<{ code: ErrorCode; detail: string } | undefined> {
    if (!(await this.#realms.isManaged(ref.realm)) || (await this.#policies.count(ref.realm)) === 0) {
      return { code: 'policy.realm_has_no_policies', detail: `Realm ${ref.realm} has no certificate policies` };
    }
    if (!(await this.#policies.find(ref.realm, ref.name)))
      return { code: 'policy.not_found', detail: `Realm ${ref.realm} has no policy ${ref.name}` };
    if (ref.realm !== home && !grantRealms.has(ref.realm)) {
      return {
        code: 'policy.realm_not_granted',
        detail: `The client holds no role in realm ${ref.realm}, so it cannot use its policy ${ref.name}`,
      };
    }
    return undefined;
  }

  async #checkPolicy(home: string, grantRealms: ReadonlySet<string>, ref: PolicyRef): Promise<void> {
    const problem = await this.#policyProblem(home, grantRealms, ref);
    if (problem) throw new KeywardError(problem.code, problem.detail, { extras: { policy: ref } });
  }

  async create(realm: string, input: ApiClientInput, by: Principal | 'system'): Promise<{ client: ApiClientView; secret: string }> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    checkClientId(input.clientId);
    const grants = await this.#grantsByRealm(realm, input.crossRealmRoles ?? [], by);
    if (input.defaultPolicy) await this.#checkPolicy(realm, new Set(grants.keys()), input.defaultPolicy);
    // A duplicate client id is refused by Keycloak itself (409 → api_client.exists), before any grant is made.
    const { client, secret, serviceAccountId } = await this.#identity.createApiClient(realm, {
      clientId: input.clientId,
      name: input.name,
      description: mirroredDescription(input.description, input.defaultPolicy),
      roles: [...new Set(input.roles ?? [])],
      attributes: {
        [SOURCE_ATTRIBUTE]: input.source ?? 'api',
        ...(input.defaultPolicy ? { [DEFAULT_POLICY_ATTRIBUTE]: `${input.defaultPolicy.realm}/${input.defaultPolicy.name}` } : {}),
        ...(input.creationMark ? { [CREATION_ATTRIBUTE]: input.creationMark } : {}),
      },
      secret: input.secret,
    });
    // The view from what was just made (no re-read of every realm's grants): one call for the effective
    // home-realm roles, read while the cross-realm grants and the audit event are written.
    const effective = this.#identity.effectiveRealmRoles(realm, serviceAccountId);
    effective.catch(() => {}); // awaited below, or dropped with the client
    const made: string[] = [];
    try {
      // Grants are found by client id: ones left in other realms by a client of this name deleted or renamed in
      // Keycloak's console belonged to another client and are not inherited by this one.
      for (const stale of await this.#grantsOf(realm, input.clientId))
        if (!grants.has(stale.realm)) await this.#identity.deleteGrant(stale.realm, realm, input.clientId);
      for (const [grantRealm, roles] of grants) {
        await this.#identity.putGrant(grantRealm, realm, input.clientId, roles);
        made.push(grantRealm);
      }
      await this.#store.transaction((tx) =>
        tx.audit({
          action: 'api_client.created',
          actor: by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by),
          realm,
          target: input.clientId,
          details: { roles: input.roles ?? [], crossRealmRoles: input.crossRealmRoles ?? [], defaultPolicy: input.defaultPolicy },
        }),
      );
    } catch (err) {
      await effective.catch(() => {});
      for (const g of made) await this.#identity.deleteGrant(g, realm, input.clientId).catch(() => {});
      await this.#identity.deleteClient(realm, client).catch(() => {});
      throw err;
    }
    this.#defaults.clear();
    this.#authz.invalidate();
    const roles = await effective;
    const view: ApiClientView = {
      realm,
      clientId: client.clientId,
      name: client.name,
      description: input.description || undefined,
      enabled: true,
      managed: true,
      source: input.source ?? 'api',
      roles,
      assignedRoles: [...new Set(input.roles ?? [])].sort(),
      crossRealmRoles: [...grants].flatMap(([r, rs]) => [...new Set(rs)].map((role) => ({ realm: r, role }))),
      defaultPolicy: input.defaultPolicy ? { ...input.defaultPolicy, status: 'valid' } : undefined,
    };
    return { client: view, secret };
  }

  async #client(realm: string, clientId: string): Promise<ClientInfo> {
    const c = await this.#identity.findClient(realm, clientId);
    if (!c || !c.hasKeywardScope)
      throw new KeywardError('api_client.not_found', `Realm ${realm} has no API client ${clientId}`, { extras: { realm, clientId } });
    return c;
  }

  async #grantsOf(realm: string, clientId: string): Promise<GrantInfo[]> {
    const others = (await this.#realms.list()).map((r) => r.name).filter((n) => n !== realm);
    const found = await Promise.all(others.map((b) => this.#identity.findGrant(b, realm, clientId)));
    return found.filter((g): g is GrantInfo => g !== undefined);
  }

  async #view(realm: string, c: ClientInfo): Promise<ApiClientView> {
    const saId = c.serviceAccountsEnabled ? await this.#identity.serviceAccountId(realm, c) : undefined;
    const [effective, direct, grants] = await Promise.all([
      saId ? this.#identity.effectiveRealmRoles(realm, saId) : Promise.resolve([]),
      saId ? this.#identity.directRealmRoles(realm, saId) : Promise.resolve([]),
      this.#grantsOf(realm, c.clientId),
    ]);
    const live = grants.filter((g) => g.enabled && g.roles.length > 0);
    const ref = parsePolicyRef(c.attributes[DEFAULT_POLICY_ATTRIBUTE]);
    let defaultPolicy: DefaultPolicyView | undefined;
    if (ref) {
      const problem = await this.#policyProblem(realm, new Set(live.map((g) => g.realm)), ref);
      defaultPolicy = { ...ref, status: problem ? (problem.code as DefaultPolicyView['status']) : 'valid' };
    }
    return {
      realm,
      clientId: c.clientId,
      name: c.name,
      description: userDescription(c.description),
      enabled: c.enabled,
      managed: c.attributes['keyward.managed'] === 'true',
      source: c.attributes['keyward.managed'] !== 'true' ? 'console' : c.attributes[SOURCE_ATTRIBUTE] === 'config' ? 'config' : 'api',
      roles: effective,
      assignedRoles: direct.filter((r) => r !== `default-roles-${realm}`),
      crossRealmRoles: live.flatMap((g) => g.roles.map((role) => ({ realm: g.realm, role }))),
      defaultPolicy,
    };
  }

  /** The client's view, or undefined; no authorisation (realm-config plans run as the system). */
  async find(realm: string, clientId: string): Promise<ApiClientView | undefined> {
    const c = await this.#identity.findClient(realm, clientId);
    return c?.hasKeywardScope ? this.#view(realm, c) : undefined;
  }

  /** Current secret (realm-config compares it with an environment reference). */
  async currentSecret(realm: string, clientId: string): Promise<string> {
    return this.#identity.readSecret(realm, await this.#client(realm, clientId));
  }

  /**
   * The client that a create with `creationMark` made, with its secret, or undefined when there is none: what an
   * idempotent retry answers when its first attempt created the client but could not record its answer.
   */
  async findCreated(
    realm: string,
    clientId: string,
    creationMark: string,
    by: Principal,
  ): Promise<{ client: ApiClientView; secret: string } | undefined> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const c = await this.#identity.findClient(realm, clientId);
    if (!c?.hasKeywardScope || c.attributes[CREATION_ATTRIBUTE] !== creationMark) return undefined;
    const [client, secret] = await Promise.all([this.#view(realm, c), this.#identity.readSecret(realm, c)]);
    return { client, secret };
  }

  async get(realm: string, clientId: string, by: Principal): Promise<ApiClientView> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    return this.#view(realm, await this.#client(realm, clientId));
  }

  async list(realm: string, options: { first: number; max: number; search?: string | undefined }, by: Principal): Promise<ApiClientView[]> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const clients = await this.#identity.listApiClients(realm, options);
    return Promise.all(clients.map((c) => this.#view(realm, c)));
  }

  async update(realm: string, clientId: string, patch: ApiClientPatch, by: Principal | 'system'): Promise<ApiClientView> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const c = await this.#client(realm, clientId);
    const current = await this.#grantsOf(realm, clientId);
    const wantedGrants = patch.crossRealmRoles ? await this.#grantsByRealm(realm, patch.crossRealmRoles, by) : undefined;
    const grantRealms = new Set(
      wantedGrants ? wantedGrants.keys() : current.filter((g) => g.enabled && g.roles.length).map((g) => g.realm),
    );
    const currentRef = parsePolicyRef(c.attributes[DEFAULT_POLICY_ATTRIBUTE]);
    const ref = patch.defaultPolicy === null ? undefined : (patch.defaultPolicy ?? currentRef);
    if (patch.defaultPolicy) await this.#checkPolicy(realm, grantRealms, patch.defaultPolicy);
    if (patch.roles) {
      const saId = await this.#identity.serviceAccountId(realm, c);
      const direct = (await this.#identity.directRealmRoles(realm, saId)).filter((r) => r !== `default-roles-${realm}`);
      const wanted = [...new Set(patch.roles)];
      await this.#identity.addRealmRoles(
        realm,
        saId,
        wanted.filter((r) => !direct.includes(r)),
      );
      await this.#identity.removeRealmRoles(
        realm,
        saId,
        direct.filter((r) => !wanted.includes(r)),
      );
    }
    if (wantedGrants) {
      for (const [b, roles] of wantedGrants) await this.#identity.putGrant(b, realm, clientId, roles);
      for (const g of current) if (!wantedGrants.has(g.realm)) await this.#identity.deleteGrant(g.realm, realm, clientId);
    }
    const description = patch.description !== undefined ? patch.description : userDescription(c.description);
    await this.#identity.updateClient(realm, c, {
      name: patch.name,
      description: mirroredDescription(description, ref),
      attributes: { [DEFAULT_POLICY_ATTRIBUTE]: ref ? `${ref.realm}/${ref.name}` : '' },
    });
    await this.#store.transaction((tx) =>
      tx.audit({
        action: 'api_client.updated',
        actor: by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by),
        realm,
        target: clientId,
        details: { ...patch },
      }),
    );
    this.#defaults.clear();
    this.#authz.invalidate();
    return this.#view(realm, await this.#client(realm, clientId));
  }

  async delete(realm: string, clientId: string, by: Principal | 'system'): Promise<void> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const c = await this.#client(realm, clientId);
    for (const g of await this.#grantsOf(realm, clientId)) await this.#identity.deleteGrant(g.realm, realm, clientId);
    await this.#identity.deleteClient(realm, c);
    this.#defaults.clear();
    await this.#store.transaction((tx) =>
      tx.audit({
        action: 'api_client.deleted',
        actor: by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by),
        realm,
        target: clientId,
      }),
    );
    this.#authz.invalidate();
  }

  /** Sets a known secret (realm-config with an environment reference). */
  async setSecret(realm: string, clientId: string, secret: string): Promise<void> {
    const c = await this.#client(realm, clientId);
    await this.#identity.setSecret(realm, c, secret);
  }

  async rotateSecret(realm: string, clientId: string, by: Principal): Promise<string> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const c = await this.#client(realm, clientId);
    const secret = await this.#identity.rotateSecret(realm, c);
    await this.#store.transaction((tx) =>
      tx.audit({ action: 'api_client.secret_rotated', actor: auditActor(by), realm, target: clientId }),
    );
    return secret;
  }

  /**
   * The default policy of the calling client, validated now; issuance uses it
   * when the request names no policy.
   */
  async defaultPolicyOf(p: Principal): Promise<PolicyRef | undefined> {
    if (p.kind !== 'client' || !p.clientId) return undefined;
    const clientId = p.clientId;
    const ref = await this.#defaults.get(`${p.realm}\u0000${clientId}`, async () => {
      const c = await this.#identity.findClient(p.realm, clientId);
      return parsePolicyRef(c?.attributes[DEFAULT_POLICY_ATTRIBUTE]);
    });
    if (!ref) return undefined;
    const granted = ref.realm === p.realm ? new Set<string>() : new Set((await this.#authz.rolesIn(p, ref.realm)).size ? [ref.realm] : []);
    await this.#checkPolicy(p.realm, granted, ref);
    return ref;
  }
}
