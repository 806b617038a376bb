/**
 * The Keycloak adapter of provisioning (implements provisioning/ports.ts).
 *
 * Everything Keyward creates carries the client/role attribute
 * `keyward.managed=true`, so reconciliation deletes only what it owns
 * (as keycloak-config-cli records its remote state). Cross-realm grants
 * are recorded inside the granting realm as a "grant holder" client named
 * `keyward-grant.<fromRealm>.<clientId>` whose service account holds the
 * granted roles: realm admins see, edit and revoke them in their own console
 * (mirrored clients: only generally available Keycloak features, plain client credentials).
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import type ClientRepresentation from '@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js';
import { KeywardError, isKeywardError } from '../kernel/errors.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import type { ClientState, IdentityReader } from '../authn/ports.ts';
import type {
  ApiClientSpec,
  CertificatePin,
  ClientInfo,
  ConsoleClientSpec,
  GrantInfo,
  IdentityAdmin,
  RealmInfo,
  RoleInfo,
} from '../provisioning/ports.ts';
import { ensureConsoleClient } from './console_client.ts';
import { kc, keycloakStatus, realmMissing, translateKeycloakError } from './errors.ts';
import { MANAGED_ATTRIBUTE, ensureAudienceScope } from './scopes.ts';

export const GRANT_PREFIX = 'keyward-grant.';
const GRANT_REALM_ATTR = 'keyward.grant.realm';
const GRANT_CLIENT_ATTR = 'keyward.grant.client';

/**
 * How long a realm's role list (names → ids) is reused when roles are granted
 * by name. A name missing from it, or a grant Keycloak refuses because a
 * listed role is gone, re-reads the list at once, so a cached list never
 * refuses a role that exists nor grants one that does not.
 */
const ROLE_LIST_MS = 10_000;

/** Test-only fault injection: a step that throws simulates Keycloak failing half-way. */
export interface IdentityAdminFaults {
  afterClientCreated?: (realm: string, clientId: string) => void | Promise<void>;
}

/** Keycloak's client attributes of a certificate-authenticated client (its X509ClientAuthenticator, checked on 26.7.3). */
export function certificateAttributes(pin: CertificatePin): Record<string, string> {
  return {
    'x509.subjectdn': pin.subjectDn,
    'x509.casubjectdn': pin.caSubjectDn,
    'x509.allow.regex.pattern.comparison': 'false',
    'tls.client.certificate.bound.access.tokens': 'true',
  };
}

function flatAttributes(attrs: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) out[k] = Array.isArray(v) ? String(v[0] ?? '') : String(v);
  return out;
}

/** Promise.all that waits for every call to end (so compensation never races one still running), then throws the first failure. */
async function settled<T extends readonly unknown[]>(...calls: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(calls);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** How long the effective roles of a just-created service account wait for effectiveRealmRoles (read once). */
const FRESH_ROLES_MS = 10_000;

/** `fallback` when the call failed because its realm no longer exists in Keycloak. */
async function absentIfRealmMissing<T>(call: Promise<T>, fallback: T): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isKeywardError(err, 'realm.missing_in_keycloak')) return fallback;
    throw err;
  }
}

export class KeycloakIdentityAdmin implements IdentityAdmin, IdentityReader {
  readonly #kc: KcAdminClient;
  readonly #audience: string;
  readonly #faults: IdentityAdminFaults;
  readonly #scopeIds = new Map<string, string>();
  readonly #roleLists = new TtlCache<string, Array<{ id?: string; name?: string; composite?: boolean }>>(ROLE_LIST_MS);
  /** Effective realm roles of service accounts createApiClient just made, by realm and user id, until read once. */
  readonly #freshRoles = new Map<string, { roles: string[]; expires: number }>();

  constructor(client: KcAdminClient, audience: string, faults: IdentityAdminFaults = {}) {
    this.#kc = client;
    this.#audience = audience;
    this.#faults = faults;
  }

  async findRealm(realm: string): Promise<RealmInfo | undefined> {
    const r = await kc(`read realm ${realm}`, async () => {
      try {
        return await this.#kc.realms.findOne({ realm });
      } catch (err) {
        if (keycloakStatus(err) === 404 || keycloakStatus(err) === 403) return undefined;
        throw err;
      }
    });
    return r ? { name: r.realm!, displayName: r.displayName || undefined, enabled: r.enabled ?? true } : undefined;
  }

  async ensureRealm(realm: string, displayName: string | undefined): Promise<boolean> {
    if (await this.findRealm(realm)) return false;
    await kc(`create realm ${realm}`, () =>
      this.#kc.realms.create({
        realm,
        enabled: true,
        ...(displayName ? { displayName } : {}),
        adminEventsEnabled: true,
        adminEventsDetailsEnabled: true,
        attributes: { [MANAGED_ATTRIBUTE]: 'true' },
      }),
    );
    return true;
  }

  async updateRealmDisplayName(realm: string, displayName: string | undefined): Promise<void> {
    await kc(`update realm ${realm}`, () => this.#kc.realms.update({ realm }, { displayName: displayName ?? '' }));
  }

  async ensureRealmRoles(realm: string, roles: readonly RoleInfo[]): Promise<void> {
    this.#roleLists.delete(realm);
    const existing = new Set((await this.listRealmRoles(realm)).map((r) => r.name));
    for (const role of roles) {
      if (existing.has(role.name)) continue;
      await kc(`create role ${role.name} in realm ${realm}`, async () => {
        try {
          await this.#kc.roles.create({
            realm,
            name: role.name,
            description: role.description ?? '',
            attributes: { [MANAGED_ATTRIBUTE]: ['true'] },
          });
        } catch (err) {
          if (keycloakStatus(err) !== 409) throw err; // created concurrently: fine
        }
      });
    }
  }

  async listRealmRoles(realm: string): Promise<RoleInfo[]> {
    const roles = await kc(`list roles of realm ${realm}`, () =>
      this.#kc.roles.find({ realm, briefRepresentation: true, max: 10_000 } as never),
    );
    return roles.map((r) => ({ name: r.name!, description: r.description || undefined }));
  }

  async #defaultRoleId(realm: string): Promise<string> {
    const r = await kc(`read realm ${realm}`, () => this.#kc.realms.findOne({ realm }));
    if (!r?.defaultRole?.id) throw realmMissing(realm, `read the default role of realm ${realm}`);
    return r.defaultRole.id;
  }

  async getDefaultRoles(realm: string): Promise<string[]> {
    const id = await this.#defaultRoleId(realm);
    const composites = await kc(`read the default role of realm ${realm}`, () => this.#kc.roles.getCompositeRolesForRealm({ realm, id }));
    return composites.map((r) => r.name!).sort();
  }

  async setDefaultRoles(realm: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    if (add.length === 0 && remove.length === 0) return;
    const id = await this.#defaultRoleId(realm);
    const all = await this.listRealmRoleReps(realm);
    const pick = (names: readonly string[]) =>
      names.map((n) => {
        const r = all.find((x) => x.name === n);
        if (!r) throw new KeywardError('role.not_found', `Realm ${realm} has no role ${n}`, { extras: { role: n, realm } });
        return { id: r.id!, name: r.name! };
      });
    if (add.length) await kc(`add default roles in realm ${realm}`, () => this.#kc.roles.createComposite({ realm, roleId: id }, pick(add)));
    if (remove.length)
      await kc(`remove default roles in realm ${realm}`, () => this.#kc.roles.delCompositeRoles({ realm, id }, pick(remove)));
  }

  private async listRealmRoleReps(realm: string) {
    return kc(`list roles of realm ${realm}`, () => this.#kc.roles.find({ realm, max: 10_000 } as never));
  }

  async ensureAudienceScope(realm: string): Promise<void> {
    this.#scopeIds.set(realm, await ensureAudienceScope(this.#kc, realm, this.#audience));
  }

  async ensureCliClient(realm: string): Promise<void> {
    const clientId = 'keyward-cli';
    const found = (await kc(`find client ${clientId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId }))).find(
      (c) => c.clientId === clientId,
    );
    if (found) return;
    const scopeId = await this.#scopeId(realm);
    let id: string;
    try {
      ({ id } = await this.#kc.clients.create({
        realm,
        clientId,
        name: 'Keyward command line',
        description: 'Public client for `keyward login` (OAuth 2.0 device authorization grant), managed by Keyward',
        enabled: true,
        protocol: 'openid-connect',
        publicClient: true,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
        attributes: { [MANAGED_ATTRIBUTE]: 'true', 'oauth2.device.authorization.grant.enabled': 'true' },
      }));
    } catch (err) {
      if (keycloakStatus(err) === 409) return; // created concurrently
      throw await kc(`create client ${clientId}`, () => Promise.reject(err)).catch((e) => e);
    }
    await kc(`add the keyward scope to ${clientId}`, () => this.#kc.clients.addDefaultClientScope({ realm, id, clientScopeId: scopeId }));
  }

  async ensureConsoleClient(realm: string, spec: ConsoleClientSpec): Promise<void> {
    await ensureConsoleClient(this.#kc, realm, this.#audience, spec);
  }

  async #scopeId(realm: string): Promise<string> {
    let id = this.#scopeIds.get(realm);
    if (!id) {
      id = await ensureAudienceScope(this.#kc, realm, this.#audience);
      this.#scopeIds.set(realm, id);
    }
    return id;
  }

  #info(c: ClientRepresentation, hasKeywardScope: boolean): ClientInfo {
    return {
      id: c.id!,
      clientId: c.clientId!,
      name: c.name || undefined,
      description: c.description || undefined,
      enabled: c.enabled ?? true,
      attributes: flatAttributes(c.attributes),
      hasKeywardScope,
      serviceAccountsEnabled: c.serviceAccountsEnabled ?? false,
      authenticator: c.clientAuthenticatorType,
    };
  }

  async #hasScope(realm: string, id: string): Promise<boolean> {
    const scopes = await kc(`list client scopes of a client in realm ${realm}`, () =>
      this.#kc.clients.listDefaultClientScopes({ realm, id }),
    );
    return scopes.some((s) => s.name === this.#audience);
  }

  /** Roles by name, from the realm's role list (reused for ROLE_LIST_MS; `fresh` reads it again). */
  async #rolesByName(realm: string, names: readonly string[], fresh = false): Promise<Array<{ id: string; name: string }>> {
    if (names.length === 0) return [];
    if (fresh) this.#roleLists.delete(realm);
    let all = await this.#roleLists.get(realm, () => this.listRealmRoleReps(realm));
    if (!fresh && names.some((n) => !all.some((x) => x.name === n))) {
      this.#roleLists.delete(realm); // created since the list was read?
      all = await this.#roleLists.get(realm, () => this.listRealmRoleReps(realm));
    }
    return names.map((n) => {
      const r = all.find((x) => x.name === n);
      if (!r) throw new KeywardError('role.not_found', `Realm ${realm} has no role ${n}`, { extras: { role: n, realm } });
      return { id: r.id!, name: r.name! };
    });
  }

  /** Grants realm roles by name; when Keycloak says a listed role is gone (404), once more from a fresh list. */
  async #grantRealmRoles(realm: string, userId: string, names: readonly string[], what: string): Promise<void> {
    const roles = await this.#rolesByName(realm, names);
    if (!roles.length) return;
    try {
      await this.#kc.users.addRealmRoleMappings({ realm, id: userId, roles });
    } catch (err) {
      if (keycloakStatus(err) !== 404) throw translateKeycloakError(what, err);
      const again = await this.#rolesByName(realm, names, true);
      await kc(what, () => this.#kc.users.addRealmRoleMappings({ realm, id: userId, roles: again }));
    }
  }

  /**
   * Creates the client, then — together, as far as they are independent —
   * adds the keyward scope and reads the service account; grants the roles,
   * reads the secret and reads the service account's effective roles. A
   * failure removes the client once every call has ended.
   *
   * The effective roles are what effectiveRealmRoles answers next for this
   * service account without another call: the new account's own (its
   * default role and what that brings, read while the grant runs) plus the
   * granted roles. Only when no granted role is composite — else the grant
   * could bring more, and effectiveRealmRoles reads Keycloak.
   */
  async createApiClient(realm: string, spec: ApiClientSpec): Promise<{ client: ClientInfo; secret: string; serviceAccountId: string }> {
    await this.#rolesByName(realm, spec.roles); // validate before creating anything
    const simple = (await this.#roleLists.get(realm, () => this.listRealmRoleReps(realm))).every(
      (r) => !r.composite || !spec.roles.includes(r.name!),
    );
    const scopeId = await this.#scopeId(realm);
    let id: string;
    try {
      ({ id } = await this.#kc.clients.create({
        realm,
        clientId: spec.clientId,
        name: spec.name ?? spec.clientId,
        description: spec.description ?? '',
        enabled: true,
        protocol: 'openid-connect',
        publicClient: false,
        clientAuthenticatorType: spec.certificate ? 'client-x509' : 'client-secret',
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
        attributes: {
          [MANAGED_ATTRIBUTE]: 'true',
          ...spec.attributes,
          ...(spec.certificate ? certificateAttributes(spec.certificate) : {}),
        },
        // A certificate client has no secret: Keycloak would generate one for a confidential client.
        ...(spec.certificate ? { secret: '' } : spec.secret ? { secret: spec.secret } : {}),
      }));
    } catch (err) {
      if (keycloakStatus(err) === 409)
        throw new KeywardError('api_client.exists', `Realm ${realm} already has a client ${spec.clientId}`, { cause: err });
      throw await kc(`create client ${spec.clientId}`, () => Promise.reject(err)).catch((e) => e);
    }
    try {
      await this.#faults.afterClientCreated?.(realm, spec.clientId);
      const [, sa] = await settled(
        kc(`add the keyward scope to ${spec.clientId}`, () =>
          this.#kc.clients.addDefaultClientScope({ realm, id, clientScopeId: scopeId }),
        ),
        kc(`read the service account of ${spec.clientId}`, () => this.#kc.clients.getServiceAccountUser({ realm, id })),
      );
      const [, read, own] = await settled(
        this.#grantRealmRoles(realm, sa.id!, spec.roles, `grant roles to ${spec.clientId}`),
        spec.secret || spec.certificate
          ? Promise.resolve(undefined)
          : kc(`read the secret of ${spec.clientId}`, () => this.#kc.clients.getClientSecret({ realm, id })),
        simple
          ? kc(`read the roles of ${spec.clientId}`, () => this.#kc.users.listCompositeRealmRoleMappings({ realm, id: sa.id! }))
          : Promise.resolve(undefined),
      );
      const secret = spec.certificate ? '' : (spec.secret ?? read!.value!);
      if (own) {
        const now = Date.now();
        for (const [k, v] of this.#freshRoles) if (v.expires <= now) this.#freshRoles.delete(k);
        this.#freshRoles.set(`${realm}\u0000${sa.id!}`, {
          roles: [...new Set([...own.map((r) => r.name!), ...spec.roles])].sort(),
          expires: now + FRESH_ROLES_MS,
        });
      }
      const client: ClientInfo = {
        id,
        clientId: spec.clientId,
        name: spec.name ?? spec.clientId,
        description: spec.description || undefined,
        enabled: true,
        attributes: {
          [MANAGED_ATTRIBUTE]: 'true',
          ...spec.attributes,
          ...(spec.certificate ? certificateAttributes(spec.certificate) : {}),
        },
        hasKeywardScope: true,
        serviceAccountsEnabled: true,
        authenticator: spec.certificate ? 'client-x509' : 'client-secret',
      };
      return { client, secret, serviceAccountId: sa.id! };
    } catch (err) {
      // Compensate: a half-made client must not stay in Keycloak.
      await this.#kc.clients.del({ realm, id }).catch(() => {});
      throw err;
    }
  }

  async findClient(realm: string, clientId: string): Promise<ClientInfo | undefined> {
    const found = await kc(`find client ${clientId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId }));
    const c = found.find((x) => x.clientId === clientId);
    if (!c) return undefined;
    return this.#info(c, await this.#hasScope(realm, c.id!));
  }

  /**
   * Whether an API client may still act: two reads (the client by clientId,
   * its service-account user by id), made together. The caller caches the answer.
   */
  async clientState(realm: string, clientId: string, serviceAccountUserId: string): Promise<ClientState> {
    const [clients, user] = await Promise.all([
      kc(`find client ${clientId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId })),
      kc(`read a service account of realm ${realm}`, async () => {
        try {
          return await this.#kc.users.findOne({ realm, id: serviceAccountUserId });
        } catch (err) {
          if (keycloakStatus(err) === 404) return undefined;
          throw err;
        }
      }),
    ]);
    const client = clients.find((c) => c.clientId === clientId);
    if (!client) return 'not_found';
    if (client.enabled === false) return 'disabled';
    // Switching service accounts off deletes the service-account user, and with it what the token names.
    if (!user || user.enabled === false || client.serviceAccountsEnabled === false) return 'service_account_disabled';
    return 'active';
  }

  async listApiClients(realm: string, options: { first: number; max: number; search?: string | undefined }): Promise<ClientInfo[]> {
    const all = await kc(`list clients of realm ${realm}`, () =>
      this.#kc.clients.find({ realm, ...(options.search ? { clientId: options.search, search: true } : {}), max: 10_000 } as never),
    );
    // Device clients carry the keyward scope too (their tokens are for Keyward) but are managed as devices.
    const candidates = all.filter(
      (c) => c.serviceAccountsEnabled && !c.clientId!.startsWith(GRANT_PREFIX) && flatAttributes(c.attributes)['keyward.device'] !== 'true',
    );
    const withScope = await Promise.all(
      candidates.map(async (c) => ((await this.#hasScope(realm, c.id!)) ? this.#info(c, true) : undefined)),
    );
    return withScope
      .filter((c): c is ClientInfo => c !== undefined)
      .sort((a, b) => a.clientId.localeCompare(b.clientId))
      .slice(options.first, options.first + options.max);
  }

  async updateClient(
    realm: string,
    client: ClientInfo,
    changes: { name?: string | undefined; description?: string | undefined; attributes?: Record<string, string> },
  ): Promise<void> {
    const current = await kc(`read client ${client.clientId}`, () => this.#kc.clients.findOne({ realm, id: client.id }));
    if (!current) throw new KeywardError('api_client.not_found', `Realm ${realm} has no API client ${client.clientId}`);
    const update: ClientRepresentation = { ...current };
    if (changes.name !== undefined) update.name = changes.name;
    if (changes.description !== undefined) update.description = changes.description;
    if (changes.attributes) update.attributes = { ...current.attributes, ...changes.attributes };
    await kc(`update client ${client.clientId}`, () => this.#kc.clients.update({ realm, id: client.id }, update));
  }

  async deleteClient(realm: string, client: ClientInfo): Promise<void> {
    await kc(`delete client ${client.clientId}`, async () => {
      try {
        await this.#kc.clients.del({ realm, id: client.id });
      } catch (err) {
        if (keycloakStatus(err) !== 404) throw err;
      }
    });
  }

  async rotateSecret(realm: string, client: ClientInfo): Promise<string> {
    const s = await kc(`rotate the secret of ${client.clientId}`, () => this.#kc.clients.generateNewClientSecret({ realm, id: client.id }));
    return s.value!;
  }

  async readSecret(realm: string, client: ClientInfo): Promise<string> {
    const s = await kc(`read the secret of ${client.clientId}`, () => this.#kc.clients.getClientSecret({ realm, id: client.id }));
    return s.value ?? '';
  }

  async setClientAuthentication(realm: string, client: ClientInfo, pin: CertificatePin | undefined): Promise<string | undefined> {
    const current = await kc(`read client ${client.clientId}`, () => this.#kc.clients.findOne({ realm, id: client.id }));
    if (!current) throw new KeywardError('api_client.not_found', `Realm ${realm} has no API client ${client.clientId}`);
    const attributes: Record<string, unknown> = { ...current.attributes };
    if (pin) Object.assign(attributes, certificateAttributes(pin));
    else for (const k of Object.keys(certificateAttributes({ subjectDn: '', caSubjectDn: '' }))) attributes[k] = '';
    await kc(`set how ${client.clientId} authenticates`, () =>
      this.#kc.clients.update(
        { realm, id: client.id },
        { ...current, clientAuthenticatorType: pin ? 'client-x509' : 'client-secret', attributes, ...(pin ? { secret: '' } : {}) },
      ),
    );
    return pin ? undefined : this.rotateSecret(realm, client);
  }

  async setSecret(realm: string, client: ClientInfo, secret: string): Promise<void> {
    const current = await kc(`read client ${client.clientId}`, () => this.#kc.clients.findOne({ realm, id: client.id }));
    await kc(`set the secret of ${client.clientId}`, () => this.#kc.clients.update({ realm, id: client.id }, { ...current, secret }));
  }

  async serviceAccountId(realm: string, client: ClientInfo): Promise<string> {
    const sa = await kc(`read the service account of ${client.clientId}`, () =>
      this.#kc.clients.getServiceAccountUser({ realm, id: client.id }),
    );
    return sa.id!;
  }

  /** A user as Keycloak has it now (client-certificate and PAT checks), or undefined when deleted. */
  async findUser(realm: string, userId: string): Promise<{ id: string; username: string; enabled: boolean } | undefined> {
    const u = await kc(`read a user of realm ${realm}`, async () => {
      try {
        return await this.#kc.users.findOne({ realm, id: userId });
      } catch (err) {
        if (keycloakStatus(err) === 404) return undefined;
        throw err;
      }
    });
    return u ? { id: u.id!, username: u.username!, enabled: u.enabled ?? true } : undefined;
  }

  async effectiveRealmRoles(realm: string, userId: string): Promise<string[]> {
    const key = `${realm}\u0000${userId}`;
    const fresh = this.#freshRoles.get(key);
    if (fresh) {
      this.#freshRoles.delete(key);
      if (fresh.expires > Date.now()) return [...fresh.roles];
    }
    const roles = await kc(`read the roles of a user in realm ${realm}`, () =>
      this.#kc.users.listCompositeRealmRoleMappings({ realm, id: userId }),
    );
    return roles.map((r) => r.name!).sort();
  }

  async directRealmRoles(realm: string, userId: string): Promise<string[]> {
    const roles = await kc(`read the roles of a user in realm ${realm}`, () => this.#kc.users.listRealmRoleMappings({ realm, id: userId }));
    return roles.map((r) => r.name!).sort();
  }

  async addRealmRoles(realm: string, userId: string, roles: readonly string[]): Promise<void> {
    await this.#grantRealmRoles(realm, userId, roles, `grant roles in realm ${realm}`);
  }

  async removeRealmRoles(realm: string, userId: string, roles: readonly string[]): Promise<void> {
    const reps = await this.#rolesByName(realm, roles, true);
    if (reps.length)
      await kc(`remove roles in realm ${realm}`, () => this.#kc.users.delRealmRoleMappings({ realm, id: userId, roles: reps }));
  }

  static grantHolderId(fromRealm: string, clientId: string): string {
    return `${GRANT_PREFIX}${fromRealm}.${clientId}`;
  }

  async #grantInfo(realm: string, holder: ClientRepresentation): Promise<GrantInfo | undefined> {
    const attrs = flatAttributes(holder.attributes);
    const fromRealm = attrs[GRANT_REALM_ATTR];
    const clientId = attrs[GRANT_CLIENT_ATTR];
    if (!fromRealm || !clientId) return undefined;
    // A holder is found by its name (findGrant): one renamed in the console grants nothing any more, and its
    // attributes must not make it a grant to another client either.
    if (holder.clientId !== KeycloakIdentityAdmin.grantHolderId(fromRealm, clientId)) return undefined;
    let roles: string[] = [];
    try {
      const sa = await this.#kc.clients.getServiceAccountUser({ realm, id: holder.id! });
      roles = (await this.directRealmRoles(realm, sa.id!)).filter((r) => r !== `default-roles-${realm}`);
    } catch (err) {
      if (keycloakStatus(err) === undefined) throw await kc('read a grant', () => Promise.reject(err)).catch((e) => e);
      roles = []; // service accounts switched off in the console: the grant holds nothing
    }
    return { fromRealm, clientId, realm, roles, holderClientId: holder.clientId!, enabled: holder.enabled ?? true };
  }

  async listGrants(realm: string): Promise<GrantInfo[]> {
    // A granting realm deleted in Keycloak's console grants nothing any more.
    const all = await absentIfRealmMissing(
      kc(`list grants in realm ${realm}`, () =>
        this.#kc.clients.find({ realm, clientId: GRANT_PREFIX, search: true, max: 10_000 } as never),
      ),
      [],
    );
    const infos = await Promise.all(all.filter((c) => c.clientId!.startsWith(GRANT_PREFIX)).map((c) => this.#grantInfo(realm, c)));
    return infos.filter((g): g is GrantInfo => g !== undefined);
  }

  async findGrant(realm: string, fromRealm: string, clientId: string): Promise<GrantInfo | undefined> {
    const holderId = KeycloakIdentityAdmin.grantHolderId(fromRealm, clientId);
    const found = await absentIfRealmMissing(
      kc(`find grant ${holderId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId: holderId })),
      [],
    );
    const holder = found.find((c) => c.clientId === holderId);
    return holder ? this.#grantInfo(realm, holder) : undefined;
  }

  async putGrant(realm: string, fromRealm: string, clientId: string, roles: readonly string[]): Promise<GrantInfo> {
    const defaultRole = `default-roles-${realm}`;
    if (roles.includes(defaultRole))
      throw new KeywardError('role.not_grantable', `A cross-realm grant never includes the default role ${defaultRole}`);
    const reps = await this.#rolesByName(realm, roles, true);
    const holderId = KeycloakIdentityAdmin.grantHolderId(fromRealm, clientId);
    let holder = (await kc(`find grant ${holderId}`, () => this.#kc.clients.find({ realm, clientId: holderId }))).find(
      (c) => c.clientId === holderId,
    );
    let createdId: string | undefined;
    if (!holder) {
      const { id } = await kc(`create grant ${holderId} in realm ${realm}`, () =>
        this.#kc.clients.create({
          realm,
          clientId: holderId,
          name: `Grant to ${clientId} (realm ${fromRealm})`,
          description:
            `Keyward cross-realm grant: API client ${clientId} of realm ${fromRealm} holds this client's service-account roles ` +
            `in realm ${realm}. Remove a role on the Service account roles tab, disable or delete this client to revoke.`,
          enabled: true,
          protocol: 'openid-connect',
          publicClient: false,
          serviceAccountsEnabled: true,
          standardFlowEnabled: false,
          implicitFlowEnabled: false,
          directAccessGrantsEnabled: false,
          attributes: { [MANAGED_ATTRIBUTE]: 'true', [GRANT_REALM_ATTR]: fromRealm, [GRANT_CLIENT_ATTR]: clientId },
        }),
      );
      createdId = id;
      holder = (await kc(`read grant ${holderId}`, () => this.#kc.clients.findOne({ realm, id })))!;
    }
    try {
      const sa = await kc(`read the service account of ${holderId}`, () =>
        this.#kc.clients.getServiceAccountUser({ realm, id: holder!.id! }),
      );
      const current = await this.directRealmRoles(realm, sa.id!);
      const all = await this.listRealmRoleReps(realm);
      const remove = current
        .filter((r) => !roles.includes(r))
        .map((n) => all.find((x) => x.name === n))
        .filter((r) => r?.id)
        .map((r) => ({ id: r!.id!, name: r!.name! }));
      const add = reps.filter((r) => !current.includes(r.name));
      if (remove.length)
        await kc(`update grant ${holderId}`, () => this.#kc.users.delRealmRoleMappings({ realm, id: sa.id!, roles: remove }));
      if (add.length) await kc(`update grant ${holderId}`, () => this.#kc.users.addRealmRoleMappings({ realm, id: sa.id!, roles: add }));
      if (holder.enabled === false)
        await kc(`enable grant ${holderId}`, () => this.#kc.clients.update({ realm, id: holder!.id! }, { ...holder, enabled: true }));
    } catch (err) {
      if (createdId) await this.#kc.clients.del({ realm, id: createdId }).catch(() => {});
      throw err;
    }
    return { fromRealm, clientId, realm, roles: [...roles].sort(), holderClientId: holderId, enabled: true };
  }

  async deleteGrant(realm: string, fromRealm: string, clientId: string): Promise<boolean> {
    const holderId = KeycloakIdentityAdmin.grantHolderId(fromRealm, clientId);
    const holder = (await kc(`find grant ${holderId}`, () => this.#kc.clients.find({ realm, clientId: holderId }))).find(
      (c) => c.clientId === holderId,
    );
    if (!holder) return false;
    await kc(`delete grant ${holderId}`, () => this.#kc.clients.del({ realm, id: holder.id! }));
    return true;
  }
}
