/**
 * Deciding a pending certificate request: another keyward-approver approves
 * (the request is checked again under its policy as it is now, then signed)
 * or rejects it. A request is decided exactly once: the decision is an
 * `UPDATE … WHERE status = 'pending'`, and a concurrent decision rolls the
 * other back.
 */
import { auditActor, describePrincipal, type Principal } from '../../authn/principal.ts';
import { parseCsr } from '../../ca/index.ts';
import { KeywardError } from '../../kernel/errors.ts';
import { ACCESS, enter, type Caller } from '../access.ts';
import type { IssuanceContext } from '../context.ts';
import type { RequestRecord } from '../ports.ts';
import { getRequest } from '../requests.ts';
import { authorize, resolvePolicy } from '../rules.ts';
import { requestView, type RequestView } from '../views.ts';
import { check, requesterOf, signAndStore } from './issue.ts';

const notPending = (id: string) => new KeywardError('certificate_request.not_pending', `Certificate request ${id} is no longer pending`);

/** The request, pending and made by someone else than the approver. */
async function pendingForDecision(ctx: IssuanceContext, caller: Caller, id: string): Promise<RequestRecord> {
  const r = await ctx.store.getRequest(caller.realm, id);
  if (!r) throw new KeywardError('certificate_request.not_found', `Realm ${caller.realm} has no certificate request ${id}`);
  if (caller.owns(r.requester)) {
    throw new KeywardError(
      'certificate_request.self_approval',
      `${describePrincipal(caller.principal)} requested ${id} and cannot decide it; another keyward-approver must`,
    );
  }
  if (r.status !== 'pending') throw new KeywardError('certificate_request.not_pending', `Certificate request ${id} is ${r.status}`);
  return r;
}

/**
 * Approves and issues a pending request.
 * @throws KeywardError certificate_request.not_found, certificate_request.self_approval,
 *   certificate_request.not_pending, and the policy validators' codes when the policy changed meanwhile
 */
export async function approve(ctx: IssuanceContext, realm: string, p: Principal, id: string): Promise<RequestView> {
  const caller = await enter(ctx, p, realm, ACCESS.decideRequest);
  const r = await pendingForDecision(ctx, caller, id);
  const csr = parseCsr(r.csrPem);
  const endEntity = r.endEntity ? await ctx.store.getEndEntity(realm, r.endEntity) : undefined;
  const policy = await resolvePolicy(ctx, caller, r.policy);
  const rules = authorize(policy, csr, { validitySeconds: r.validitySeconds, endEntity });
  const checked = check(csr, rules); // the policy may have changed since the request was made
  await signAndStore(ctx, realm, checked, rules, r.requester, {
    requestId: r.id,
    actor: auditActor(p),
    alongside: async (tx, serial) => {
      const decided = await tx.decideRequest(realm, id, 'issued', requesterOf(p), ctx.clock.now(), { serial });
      if (!decided) throw notPending(id);
      await tx.audit({ action: 'certificate_request.approved', actor: auditActor(p), realm, target: id, details: { serial } });
    },
  });
  return getRequest(ctx, realm, p, id);
}

/** Rejects a pending request, with the approver's reason. */
export async function reject(ctx: IssuanceContext, realm: string, p: Principal, id: string, reason: string): Promise<RequestView> {
  const caller = await enter(ctx, p, realm, ACCESS.decideRequest);
  await pendingForDecision(ctx, caller, id);
  const decided = await ctx.store.transaction(async (tx) => {
    const d = await tx.decideRequest(realm, id, 'rejected', requesterOf(p), ctx.clock.now(), { reason });
    if (!d) throw notPending(id);
    await tx.audit({ action: 'certificate_request.rejected', actor: auditActor(p), realm, target: id, details: { reason } });
    return d;
  });
  return requestView(decided);
}
