/** Reading (POST-as-GET) and deactivating (RFC 8555 §7.5.2) an authorization of the account. */
import { actorOf, type AcmeContext } from '../context.ts';
import type { AuthorizationRecord, ChallengeRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';
import { resumeStale } from './challenge.ts';

export async function authorization(
  ctx: AcmeContext,
  req: SignedRequest,
  id: string,
): Promise<{ authz: AuthorizationRecord; challenges: ChallengeRecord[] }> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  let authz = await ctx.store.findAuthorization(req.realm, id);
  if (!authz || authz.accountId !== account.id)
    throw new AcmeProblem('malformed', `No authorization ${id} of this account`, { status: 404 });
  if (a.payload !== undefined) {
    const p = a.payload as Record<string, unknown> | null;
    if (p?.status !== 'deactivated') throw new AcmeProblem('malformed', 'An authorization can only be changed to status deactivated');
    authz =
      (await ctx.store.deactivateAuthorization(req.realm, id, {
        action: 'acme_authorization.deactivated',
        actor: actorOf(account),
        realm: req.realm,
        target: id,
      })) ?? authz;
  } else if (authz.status === 'pending' && authz.expiresAt <= ctx.clock.now()) {
    authz = { ...authz, status: 'expired' };
  }
  const challenges = await ctx.store.challengesOf(id);
  for (const c of challenges) await resumeStale(ctx, account, authz, c);
  return { authz, challenges };
}
