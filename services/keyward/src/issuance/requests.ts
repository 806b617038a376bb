/** Reading certificate requests: approvers see every request of the realm, requesters their own. */
import type { Principal } from '../authn/principal.ts';
import { ROLES } from '../authn/roles.ts';
import { KeywardError } from '../kernel/errors.ts';
import { ACCESS, enter } from './access.ts';
import type { IssuanceContext } from './context.ts';
import { certificateView, requestView, type RequestView } from './views.ts';

export async function listRequests(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  status: string | undefined,
  first: number,
  max: number,
): Promise<RequestView[]> {
  const caller = await enter(ctx, p, realm, ACCESS.listRequests);
  const isApprover = await caller.holdsAny([ROLES.approver]);
  const rows = await ctx.store.listRequests(realm, status, first, max);
  return rows.filter((r) => isApprover || caller.owns(r.requester)).map(requestView);
}

/** A request with its certificate once issued; not found unless the caller made it or is an approver. */
export async function getRequest(ctx: IssuanceContext, realm: string, p: Principal, id: string): Promise<RequestView> {
  const caller = await enter(ctx, p, realm, ACCESS.ownOrRole);
  const r = await ctx.store.getRequest(realm, id);
  if (!r || (!caller.owns(r.requester) && !(await caller.holdsAny([ROLES.approver])))) {
    throw new KeywardError('certificate_request.not_found', `Realm ${realm} has no certificate request ${id} visible to the caller`);
  }
  const view = requestView(r);
  if (r.serial) {
    const cert = await ctx.store.getCertificate(realm, r.serial);
    if (cert) return { ...view, certificate: await certificateView(ctx, cert) };
  }
  return view;
}
