/**
 * Who may do what with certificates: the roles each issuance action needs,
 * stated once, and the one step that checks them.
 *
 * Every action starts with {@link enter}: the realm must be managed by
 * Keyward, and the caller must hold the action's role (or one that also
 * grants it). Record-level visibility — a requester sees their own requests
 * and certificates — is {@link Caller.owns}.
 */
import type { Principal } from '../authn/principal.ts';
import { ROLES, type KeywardRole } from '../authn/roles.ts';
import type { IssuanceContext } from './context.ts';
import type { RequesterRef } from './ports.ts';

/** What an action requires: `role`, or any of `orAnyOf`, or (with `operators`) a Keyward operator. */
export interface AccessRule {
  /** The role an unauthorised caller is told to get. */
  readonly role?: KeywardRole | undefined;
  readonly orAnyOf?: readonly KeywardRole[] | undefined;
  readonly operators?: boolean | undefined;
}

/** Roles that see every certificate of a realm, not only their own. */
const SEE_ALL_CERTIFICATES: readonly KeywardRole[] = [ROLES.revoker, ROLES.admin, ROLES.approver];

/** The roles of the issuance actions. */
export const ACCESS = Object.freeze({
  /** Record-level: own records, or the roles the action checks itself. */
  ownOrRole: {},
  issue: { role: ROLES.requester },
  listRequests: { role: ROLES.requester, orAnyOf: [ROLES.approver] },
  decideRequest: { role: ROLES.approver },
  manageEndEntities: { role: ROLES.entityAdmin },
  readEndEntities: { role: ROLES.requester, orAnyOf: [ROLES.entityAdmin] },
  searchCertificates: { role: ROLES.requester, orAnyOf: SEE_ALL_CERTIFICATES, operators: true },
  revokeOwn: { role: ROLES.requester },
  revokeAny: { role: ROLES.revoker },
} satisfies Record<string, AccessRule>);

/** The caller of an action in a realm, once {@link enter} let them in. */
export interface Caller {
  readonly principal: Principal;
  readonly realm: string;
  readonly isOperator: boolean;
  /** True when the caller holds any of `roles` in the realm (roles are looked up once per action). */
  holdsAny(roles: readonly KeywardRole[]): Promise<boolean>;
  /** True when the caller made the request or certificate `ref` names. */
  owns(ref: RequesterRef): boolean;
  /** Whether the caller sees every certificate of the realm, not only their own. */
  seesAllCertificates(): Promise<boolean>;
}

/**
 * The first step of every action: the realm is managed, the caller holds the
 * rule's role. The refusal names the rule's `role`.
 * @example const caller = await enter(ctx, principal, realm, ACCESS.issue);
 * @throws KeywardError realm.not_found, auth.forbidden
 */
export async function enter(ctx: IssuanceContext, principal: Principal, realm: string, rule: AccessRule): Promise<Caller> {
  await ctx.realms.getManaged(realm);
  let roles: Promise<ReadonlySet<string>> | undefined;
  const holdsAny = async (list: readonly KeywardRole[]): Promise<boolean> => {
    if (!list.length) return false;
    roles ??= ctx.authz.rolesIn(principal, realm);
    const held = await roles;
    return list.some((r) => held.has(r));
  };
  const caller: Caller = {
    principal,
    realm,
    isOperator: ctx.authz.isOperator(principal),
    holdsAny,
    owns: (ref) => ref.realm === principal.realm && ref.id === principal.subject,
    seesAllCertificates: () => holdsAny(SEE_ALL_CERTIFICATES),
  };
  if (!rule.role) return caller;
  if ((rule.operators && caller.isOperator) || (await holdsAny([rule.role, ...(rule.orAnyOf ?? [])]))) return caller;
  await ctx.authz.require(principal, realm, rule.role); // throws auth.forbidden naming the role
  return caller;
}

/** A second rule within one action (revoking someone else's certificate needs keyward-revoker). */
export async function requireRole(ctx: IssuanceContext, caller: Caller, role: KeywardRole): Promise<void> {
  await ctx.authz.require(caller.principal, caller.realm, role);
}
