/**
 * Authorising a certificate request yields its rules (after step-ca's
 * AuthorizeSign): the policy it is issued under, the subject and SANs to
 * certify (an end entity's, or the CSR's), the validity and the profile. The
 * validators then run once on exactly this (ca/issue.ts checkRequest).
 */
import type { Csr, CertificateProfile, NameAttribute, Policy, Sans } from '../ca/index.ts';
import { leafProfile, maxValiditySeconds } from '../ca/index.ts';
import { parseDuration } from '../kernel/duration.ts';
import { KeywardError } from '../kernel/errors.ts';
import { deepFreeze } from '../kernel/freeze.ts';
import type { Caller } from './access.ts';
import type { IssuanceContext } from './context.ts';
import type { EndEntityRecord } from './ports.ts';

/** A named policy of the realm. */
export interface NamedPolicy {
  readonly name: string;
  readonly policy: Policy;
}

export interface IssuanceRules {
  readonly policy: NamedPolicy;
  readonly subject: readonly NameAttribute[];
  readonly sans: Sans;
  /** Whole seconds (requests ask in days or as an ISO 8601 duration). */
  readonly validitySeconds: number;
  readonly profile: CertificateProfile;
  /** The end entity whose names are certified, if any. */
  readonly endEntity: EndEntityRecord | undefined;
}

const frozen = new WeakMap<object, Policy>();

/**
 * A frozen copy of a stored policy document, one per document object: the CA
 * domain compiles a frozen policy's SAN rules and encodes its key usages once,
 * not per certificate (the policy service hands out the same object while it
 * caches it). Stored documents were validated by parsePolicy when they were
 * written.
 */
function policyOf(document: unknown): Policy {
  if (typeof document !== 'object' || document === null) throw new TypeError('a stored policy document is an object');
  let p = frozen.get(document);
  if (!p) {
    p = deepFreeze(structuredClone(document as Policy));
    frozen.set(document, p);
  }
  return p;
}

/**
 * The policy a request names, or the caller's default policy (an API
 * client's, in this realm).
 * @throws KeywardError policy.required, policy.not_found
 */
export async function resolvePolicy(ctx: IssuanceContext, caller: Caller, named: string | undefined): Promise<NamedPolicy> {
  const { realm } = caller;
  let name = named;
  if (!name) {
    const ref = await ctx.apiClients.defaultPolicyOf(caller.principal);
    if (!ref) throw new KeywardError('policy.required', 'Name a policy: the caller has no default certificate policy');
    if (ref.realm !== realm)
      throw new KeywardError('policy.required', `Name a policy: the caller's default policy belongs to realm ${ref.realm}, not ${realm}`);
    name = ref.name;
  }
  const stored = await ctx.policies.find(realm, name);
  if (!stored) throw new KeywardError('policy.not_found', `Realm ${realm} has no policy ${name}`, { extras: { realm, name } });
  return { name, policy: policyOf(stored.document) };
}

/** What a request may say about its validity: days, or an ISO 8601 duration, or nothing (the policy's maximum). */
export interface RequestedValidity {
  readonly validityDays?: number | undefined;
  /** An ISO 8601 duration: `PT1H`, `P30D`. */
  readonly validity?: string | undefined;
}

/**
 * The requested validity in seconds, or the policy's maximum.
 * @throws KeywardError validity.conflict (both forms), validity.malformed, request.malformed (days)
 */
export function validityOf(policy: Policy, requested: RequestedValidity): number {
  if (requested.validity !== undefined && requested.validityDays !== undefined)
    throw new KeywardError('validity.conflict', 'Ask for validity (an ISO 8601 duration) or validityDays, not both', {
      extras: { field: '/validity' },
    });
  if (requested.validity !== undefined) return parseDuration(requested.validity);
  const days = requested.validityDays;
  if (days === undefined) return maxValiditySeconds(policy);
  if (!Number.isInteger(days) || days < 1)
    throw new KeywardError('request.malformed', 'validityDays must be a whole number of days, at least 1', {
      extras: { field: '/validityDays' },
    });
  return days * 86_400;
}

/** The realm's end entity `name`. */
export async function getEndEntity(ctx: IssuanceContext, realm: string, name: string): Promise<EndEntityRecord> {
  const e = await ctx.store.getEndEntity(realm, name);
  if (!e) throw new KeywardError('end_entity.not_found', `Realm ${realm} has no end entity ${name}`);
  return e;
}

/**
 * The rules of a request: its policy, what it certifies and for how long.
 * @example const rules = authorize(policy, csr, { validity: 'PT1H', endEntity });
 */
export function authorize(
  policy: NamedPolicy,
  csr: Csr,
  input: RequestedValidity & { readonly validitySeconds?: number | undefined; readonly endEntity?: EndEntityRecord | undefined },
): IssuanceRules {
  const entity = input.endEntity;
  return {
    policy,
    subject: entity ? entity.subject : csr.subject,
    sans: entity ? entity.sans : csr.sans,
    validitySeconds: input.validitySeconds ?? validityOf(policy.policy, input),
    profile: leafProfile(policy.policy),
    endEntity: entity,
  };
}
