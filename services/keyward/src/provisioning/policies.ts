/**
 * Certificate policy definitions per realm (enforcement lives in ca/). The
 * document is validated by the CA's policy parser, injected here, so the
 * schema has exactly one owner.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import { KeywardError } from '../kernel/errors.ts';
import { TtlCache } from '../kernel/ttl_cache.ts';
import { POLICY_NAME } from './names.ts';
import type { ProvisioningStore, StoredPolicy } from './ports.ts';
import type { RealmService } from './realms.ts';

export type PolicyValidator = (document: unknown) => unknown;

export interface PolicyView {
  readonly realm: string;
  readonly name: string;
  readonly policy: unknown;
  readonly source: 'api' | 'config';
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const policyView = (p: StoredPolicy): PolicyView => ({
  realm: p.realm,
  name: p.name,
  policy: p.document,
  source: p.source,
  createdAt: p.createdAt.toISOString(),
  updatedAt: p.updatedAt.toISOString(),
});

export class PolicyService {
  readonly #store: ProvisioningStore;
  readonly #realms: RealmService;
  readonly #authz: Authorizer;
  readonly #validate: PolicyValidator;
  /** A realm's policies for the issuance hot path; dropped at once when another replica announces a change, else 5 s. */
  readonly #cache = new TtlCache<string, StoredPolicy[]>(5_000);

  /** Forgets the cached policies of a realm (another replica changed them), or of every realm. */
  forget(realm?: string): void {
    if (realm === undefined) this.#cache.clear();
    else this.#cache.delete(realm);
  }

  constructor(store: ProvisioningStore, realms: RealmService, authz: Authorizer, validate: PolicyValidator) {
    this.#store = store;
    this.#realms = realms;
    this.#authz = authz;
    this.#validate = validate;
  }

  static checkName(name: string): void {
    if (!POLICY_NAME.test(name))
      throw new KeywardError('policy.invalid', `"${name.slice(0, 120)}" is not a valid policy name (letters, digits, . _ -, at most 100)`, {
        extras: { path: '/name' },
      });
  }

  /** Validates a policy document; returns the normalised document. */
  validate(document: unknown): unknown {
    return this.#validate(document);
  }

  async put(
    realm: string,
    name: string,
    document: unknown,
    by: Principal | 'system',
    source: 'api' | 'config' = 'api',
  ): Promise<{ policy: PolicyView; created: boolean }> {
    await this.#realms.getManaged(realm);
    if (by !== 'system') await this.#authz.require(by, realm, ROLES.admin);
    PolicyService.checkName(name);
    const normalised = this.#validate(document);
    const outcome = await this.#store.transaction(async (tx) => {
      const o = await tx.putPolicy(realm, name, normalised, source);
      await tx.audit({
        action: o === 'created' ? 'policy.created' : 'policy.updated',
        actor: by === 'system' ? { kind: 'system', id: source } : auditActor(by),
        realm,
        target: name,
        details: { policy: normalised },
      });
      return o;
    });
    this.#cache.delete(realm);
    return { policy: policyView((await this.#store.findPolicy(realm, name))!), created: outcome === 'created' };
  }

  async get(realm: string, name: string, by: Principal): Promise<PolicyView> {
    await this.#realms.getManaged(realm);
    await this.#requireReader(by, realm);
    const p = await this.#store.findPolicy(realm, name);
    if (!p) throw new KeywardError('policy.not_found', `Realm ${realm} has no policy ${name}`, { extras: { realm, name } });
    return policyView(p);
  }

  /** Any Keyward role in the realm may read its policies (requesters need to know the rules). */
  async #requireReader(by: Principal, realm: string): Promise<void> {
    if (this.#authz.isOperator(by)) return;
    const roles = await this.#authz.rolesIn(by, realm);
    if (![...roles].some((r) => r.startsWith('keyward-'))) await this.#authz.require(by, realm, ROLES.admin);
  }

  async list(realm: string, by: Principal): Promise<PolicyView[]> {
    await this.#realms.getManaged(realm);
    await this.#requireReader(by, realm);
    return (await this.#store.listPolicies(realm)).map(policyView);
  }

  async delete(realm: string, name: string, by: Principal | 'system'): Promise<void> {
    await this.#realms.getManaged(realm);
    if (by !== 'system') await this.#authz.require(by, realm, ROLES.admin);
    const deleted = await this.#store.transaction(async (tx) => {
      const d = await tx.deletePolicy(realm, name);
      if (d)
        await tx.audit({
          action: 'policy.deleted',
          actor: by === 'system' ? { kind: 'system', id: 'config' } : auditActor(by),
          realm,
          target: name,
        });
      return d;
    });
    this.#cache.delete(realm);
    if (!deleted) throw new KeywardError('policy.not_found', `Realm ${realm} has no policy ${name}`, { extras: { realm, name } });
  }

  /** Internal lookups for default-policy validation and issuance. */
  async find(realm: string, name: string): Promise<StoredPolicy | undefined> {
    return (await this.#cache.get(realm, () => this.#store.listPolicies(realm))).find((p) => p.name === name);
  }

  async count(realm: string): Promise<number> {
    return (await this.#cache.get(realm, () => this.#store.listPolicies(realm))).length;
  }
}
