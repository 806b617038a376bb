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
 *
 * Secretless clients (`authentication: certificate`): Keycloak authenticates
 * them by mutual TLS (its `client-x509` authenticator, RFC 8705 §2.1.1, the
 * PKI method) and binds their tokens to the certificate (RFC 8705 §3,
 * `cnf.x5t#S256`). Keyward pins the exact subject DN of the client's
 * certificate and the DN of the CA that signs it (no regular expression), and
 * issues the certificate through the one issuance pipeline, requested by the
 * client itself under a policy of its realm. The subject is
 * `CN=<clientId> <generation>`: renewal keeps it, so renewed certificates keep
 * working; revoking any certificate of a generation moves the client to a new
 * generation at once, so Keycloak refuses every certificate of the old one
 * (Keycloak's X.509 client authenticator checks no CRL or OCSP itself).
 */
import { randomBytes } from 'node:crypto';
import { auditActor, type Principal } from '../authn/principal.ts';
import { formatName, formatRfc4514, generateCaKey, spkiOf, type NameAttribute } from '../ca/index.ts';
import { keycloakOutageGrace, ROLES, type Authorizer } from '../authn/roles.ts';
import { KeywardError, type ErrorCode } from '../kernel/errors.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import { checkClientId } from './names.ts';
import type {
  ApiClientCertificateIssuer,
  CertificatePin,
  ClientInfo,
  GrantInfo,
  IdentityAdmin,
  IssuedClientCertificate,
  ProvisioningStore,
} from './ports.ts';
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
/**
 * The current certificate generation of a certificate-authenticated client (the last word of its certificates' CN):
 * 64 random bits, so that no other realm under the same root can guess the pinned subject.
 */
export const GENERATION_ATTRIBUTE = 'keyward.certificate.generation';
/** The policy its certificates are issued under. */
export const CERTIFICATE_POLICY_ATTRIBUTE = 'keyward.certificate.policy';

export type ClientAuthentication = 'secret' | 'certificate';

/** How a client gets its certificate: from a CSR (its key stays with the client), or with a key Keyward generates. */
export interface CertificateRequestInput {
  /** The policy of the client's realm to issue under (default: its default policy, when that is of its realm). */
  readonly certificatePolicy?: string | undefined;
  /** PEM CSR; without one Keyward generates an EC P-256 key and returns it once. */
  readonly csr?: string | undefined;
}

/** A certificate just issued to a client; `privateKey` only when Keyward generated the key (shown once). */
export interface ClientCertificateIssued extends IssuedClientCertificate {
  readonly privateKey?: string | undefined;
}

/** The subject of a certificate client's certificates. */
export const certificateSubject = (clientId: string, generation: string): NameAttribute[] => [
  { type: 'CN', value: `${clientId} ${generation}` },
];

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
  /** `secret` (default) or `certificate` (mutual TLS, no secret). */
  readonly authentication?: ClientAuthentication | undefined;
  readonly certificatePolicy?: string | undefined;
  readonly csr?: string | undefined;
}

export interface ApiClientPatch {
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly crossRealmRoles?: readonly CrossRealmRole[] | undefined;
  /** `null` clears the default policy. */
  readonly defaultPolicy?: PolicyRef | null | undefined;
  /**
   * Switch to (or stay with) `certificate`: a new certificate is issued (from `csr`, or with a generated key);
   * switch to `secret`: a new secret is generated and the certificate pin removed.
   */
  readonly authentication?: ClientAuthentication | undefined;
  readonly certificatePolicy?: string | undefined;
  readonly csr?: string | undefined;
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
  /** `certificate`: Keycloak authenticates it by mutual TLS (`client-x509`) and binds its tokens to the certificate. */
  readonly authentication: ClientAuthentication;
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
  readonly #certificates: ApiClientCertificateIssuer | undefined;
  /** The default policy attribute of a caller's client, cached like roles (KEYWARD_ROLE_CACHE_SECONDS). */
  readonly #defaults: TtlCache<string, PolicyRef | undefined>;

  constructor(deps: {
    identity: IdentityAdmin;
    store: ProvisioningStore;
    realms: RealmService;
    policies: PolicyService;
    authz: Authorizer;
    /** Certificates for secretless clients (absent: only secret clients can be made). */
    certificates?: ApiClientCertificateIssuer | undefined;
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
    this.#certificates = deps.certificates;
  }

  #issuer(): ApiClientCertificateIssuer {
    if (!this.#certificates) throw new TypeError('ApiClientService was built without a certificate issuer');
    return this.#certificates;
  }

  /** The policy a certificate client's certificates are issued under. */
  #certificatePolicy(realm: string, input: CertificateRequestInput, fallback: PolicyRef | undefined, current?: string): string {
    const name = input.certificatePolicy ?? current ?? (fallback?.realm === realm ? fallback.name : undefined);
    if (!name)
      throw new KeywardError(
        'api_client.certificate_policy_required',
        `A certificate client needs a certificate policy of realm ${realm} (certificatePolicy, or a default policy of that realm)`,
      );
    return name;
  }

  /** The pin of a generation: the certificate's exact subject DN and the DN of the CA that signs it. */
  async #pin(realm: string, clientId: string, generation: string): Promise<CertificatePin> {
    const { subjectDn } = await this.#issuer().signingCa(realm);
    return { subjectDn: formatRfc4514(certificateSubject(clientId, generation)), caSubjectDn: subjectDn };
  }

  /** Issues the client's certificate through the issuance pipeline, requested by the client itself. */
  async #issueCertificate(
    realm: string,
    clientId: string,
    serviceAccountId: string,
    policy: string,
    generation: string,
    csr: string | undefined,
  ): Promise<ClientCertificateIssued> {
    const client: Principal = Object.freeze({
      credential: 'bearer',
      kind: 'client',
      realm,
      subject: serviceAccountId,
      clientId,
      username: `service-account-${clientId}`,
      credentialRoles: [],
    });
    this.#authz.invalidate(); // the client's roles as Keycloak has them now
    const subject = certificateSubject(clientId, generation);
    if (csr) return this.#issuer().issue(realm, client, { policy, subject, csr });
    const key = await generateCaKey('EC-P256');
    const issued = await this.#issuer().issue(realm, client, { policy, subject, spki: spkiOf(key) });
    return { ...issued, privateKey: key.export({ format: 'pem', type: 'pkcs8' }).toString() };
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

  async create(
    realm: string,
    input: ApiClientInput,
    by: Principal | 'system',
  ): Promise<{ client: ApiClientView; secret: string | undefined; certificate?: ClientCertificateIssued | undefined }> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    checkClientId(input.clientId);
    const grants = await this.#grantsByRealm(realm, input.crossRealmRoles ?? [], by);
    if (input.defaultPolicy) await this.#checkPolicy(realm, new Set(grants.keys()), input.defaultPolicy);
    const byCertificate = input.authentication === 'certificate';
    const generation = randomBytes(8).toString('hex');
    const certificatePolicy = byCertificate ? this.#certificatePolicy(realm, input, input.defaultPolicy) : undefined;
    const pin = byCertificate ? await this.#pin(realm, input.clientId, generation) : undefined;
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
        ...(byCertificate ? { [GENERATION_ATTRIBUTE]: generation, [CERTIFICATE_POLICY_ATTRIBUTE]: certificatePolicy! } : {}),
      },
      secret: byCertificate ? undefined : input.secret,
      certificate: pin,
    });
    let certificate: ClientCertificateIssued | undefined;
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
      if (byCertificate)
        certificate = await this.#issueCertificate(realm, input.clientId, serviceAccountId, certificatePolicy!, generation, input.csr);
      await this.#store.transaction((tx) =>
        tx.audit({
          action: 'api_client.created',
          actor: by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by),
          realm,
          target: input.clientId,
          details: {
            roles: input.roles ?? [],
            crossRealmRoles: input.crossRealmRoles ?? [],
            defaultPolicy: input.defaultPolicy,
            authentication: byCertificate ? 'certificate' : 'secret',
            ...(certificate ? { certificate: certificate.serialNumber, subject: certificate.subject } : {}),
          },
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
      authentication: byCertificate ? 'certificate' : 'secret',
      source: input.source ?? 'api',
      roles,
      assignedRoles: [...new Set(input.roles ?? [])].sort(),
      crossRealmRoles: [...grants].flatMap(([r, rs]) => [...new Set(rs)].map((role) => ({ realm: r, role }))),
      defaultPolicy: input.defaultPolicy ? { ...input.defaultPolicy, status: 'valid' } : undefined,
    };
    return byCertificate ? { client: view, secret: undefined, certificate } : { client: view, secret };
  }

  async #client(realm: string, clientId: string): Promise<ClientInfo> {
    const c = await this.#identity.findClient(realm, clientId);
    if (!c || !c.hasKeywardScope || c.attributes['keyward.device'] === 'true')
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
      authentication: c.authenticator === 'client-x509' ? 'certificate' : 'secret',
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
    return c?.hasKeywardScope && c.attributes['keyward.device'] !== 'true' ? this.#view(realm, c) : undefined;
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

  async update(
    realm: string,
    clientId: string,
    patch: ApiClientPatch,
    by: Principal | 'system',
  ): Promise<ApiClientView & { secret?: string | undefined; certificate?: ClientCertificateIssued | undefined }> {
    await this.#realms.getManaged(realm);
    await this.#requireAdmin(by, realm);
    const c = await this.#client(realm, clientId);
    const switched = patch.authentication ? await this.#setAuthentication(realm, c, patch, by) : {};
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
        details: { ...patch, csr: undefined },
      }),
    );
    this.#defaults.clear();
    this.#authz.invalidate();
    return { ...(await this.#view(realm, await this.#client(realm, clientId))), ...switched };
  }

  /**
   * Switches a client between secret and certificate authentication (audited as api_client.authentication_changed).
   * To `certificate`: the client keeps its generation when it already authenticates by certificate (a further
   * certificate, e.g. after a revocation moved it to a new generation), else starts a new one.
   */
  async #setAuthentication(
    realm: string,
    c: ClientInfo,
    patch: ApiClientPatch,
    by: Principal | 'system',
  ): Promise<{ secret?: string | undefined; certificate?: ClientCertificateIssued | undefined }> {
    const from: ClientAuthentication = c.authenticator === 'client-x509' ? 'certificate' : 'secret';
    const actor = by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by);
    if (patch.authentication === 'secret') {
      if (from === 'secret') return {};
      const secret = await this.#identity.setClientAuthentication(realm, c, undefined);
      await this.#identity.updateClient(realm, c, { attributes: { [GENERATION_ATTRIBUTE]: '', [CERTIFICATE_POLICY_ATTRIBUTE]: '' } });
      await this.#store.transaction((tx) =>
        tx.audit({ action: 'api_client.authentication_changed', actor, realm, target: c.clientId, details: { from, to: 'secret' } }),
      );
      return { secret };
    }
    const current = c.attributes[GENERATION_ATTRIBUTE];
    const generation = from === 'certificate' && current ? current : randomBytes(8).toString('hex');
    const policy = this.#certificatePolicy(
      realm,
      patch,
      parsePolicyRef(c.attributes[DEFAULT_POLICY_ATTRIBUTE]),
      c.attributes[CERTIFICATE_POLICY_ATTRIBUTE] || undefined,
    );
    const saId = await this.#identity.serviceAccountId(realm, c);
    if (from === 'secret' || generation !== current) {
      await this.#identity.setClientAuthentication(realm, c, await this.#pin(realm, c.clientId, generation));
      await this.#identity.updateClient(realm, c, {
        attributes: { [GENERATION_ATTRIBUTE]: generation, [CERTIFICATE_POLICY_ATTRIBUTE]: policy },
      });
    }
    const certificate = await this.#issueCertificate(realm, c.clientId, saId, policy, generation, patch.csr);
    await this.#store.transaction((tx) =>
      tx.audit({
        action: from === 'secret' ? 'api_client.authentication_changed' : 'api_client.certificate_issued',
        actor,
        realm,
        target: c.clientId,
        details: { from, to: 'certificate', certificate: certificate.serialNumber, subject: certificate.subject },
      }),
    );
    return { certificate };
  }

  /**
   * A certificate of `realm` was revoked: when it belongs to the current generation of a certificate client, the
   * client moves to a new generation at once, so Keycloak refuses every certificate of the old one (its X.509 client
   * authenticator pins the subject DN and checks no CRL or OCSP). Audited as api_client.certificate_unpinned.
   */
  async certificateRevoked(
    realm: string,
    rec: { serial: string; subject: string; requester: { kind: string; name?: string | undefined } },
  ) {
    if (!rec.requester.kind.startsWith('client:') || !rec.requester.name) return;
    const c = await this.#identity.findClient(realm, rec.requester.name);
    const generation = c?.attributes[GENERATION_ATTRIBUTE];
    if (!c || c.authenticator !== 'client-x509' || !generation) return;
    if (rec.subject !== formatName(certificateSubject(c.clientId, generation))) return;
    const next = randomBytes(8).toString('hex');
    await this.#identity.setClientAuthentication(realm, c, await this.#pin(realm, c.clientId, next));
    await this.#identity.updateClient(realm, c, { attributes: { [GENERATION_ATTRIBUTE]: next } });
    await this.#store.transaction((tx) =>
      tx.audit({
        action: 'api_client.certificate_unpinned',
        actor: { kind: 'system', id: 'revocation' },
        realm,
        target: c.clientId,
        details: { revoked: rec.serial, generation: next },
      }),
    );
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
