/**
 * The rules of a request before there is a CSR (an ACME order, RFC 8555
 * §7.4): the caller may request in the realm, the policy exists (named, or
 * the caller's default), the names are inside its SAN rules and the
 * validity within its maximum. Nothing is stored: a refused order leaves no
 * trace but its answer. The same checks run again on the CSR at issuance.
 *
 *   enter → policy → SAN rules → validity
 */
import type { Principal } from '../../authn/principal.ts';
import { maxValiditySeconds, NO_SANS, validateSans, validateValidity } from '../../ca/index.ts';
import { ACCESS, enter } from '../access.ts';
import type { IssuanceContext } from '../context.ts';
import { resolvePolicy } from '../rules.ts';

export interface PreflightInput {
  readonly policy?: string | undefined;
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  /** Requested validity in seconds; undefined: the policy's maximum. */
  readonly validitySeconds?: number | undefined;
}

export interface Preflight {
  /** The policy the request falls under. */
  readonly policy: string;
  readonly maxValiditySeconds: number;
  readonly approvalRequired: boolean;
}

/**
 * @example const { policy } = await preflight(ctx, 'demo', principal, { dns: ['app.demo.internal'], ip: [] });
 * @throws KeywardError realm.not_found, auth.forbidden, policy.required, policy.not_found, policy.san_not_allowed,
 *   policy.validity_exceeded
 */
export async function preflight(ctx: IssuanceContext, realm: string, p: Principal, input: PreflightInput): Promise<Preflight> {
  const caller = await enter(ctx, p, realm, ACCESS.issue);
  const policy = await resolvePolicy(ctx, caller, input.policy);
  validateSans(policy.policy, { ...NO_SANS, dns: input.dns, ip: input.ip });
  if (input.validitySeconds !== undefined) validateValidity(policy.policy, input.validitySeconds);
  return {
    policy: policy.name,
    maxValiditySeconds: maxValiditySeconds(policy.policy),
    approvalRequired: policy.policy.approval === 'required',
  };
}
