/**
 * Placing an order (RFC 8555 §7.4). The policy's rules apply before any
 * challenge exists: an identifier outside the policy's SAN rules, or a
 * validity beyond its maximum, is refused and nothing is stored.
 *
 *   authenticate (kid) → act as the API client (enabled in Keycloak, keyward-requester now)
 *   → identifiers → validity → preflight (issuance: role, policy, SAN rules, validity)
 *   → store the order, an authorization per identifier and their challenges, with the audit event
 */
import { randomBytes } from 'node:crypto';
import { isKeywardError } from '../../kernel/errors.ts';
import { actorOf, ORDER_TTL_MS, principalOf, type AcmeContext } from '../context.ts';
import { challengeTypesFor, parseIdentifiers } from '../identifiers.ts';
import type { AuthorizationRecord, ChallengeRecord, NewOrder, OrderRecord } from '../ports.ts';
import { AcmeProblem, type AcmeIdentifier } from '../problem.ts';
import { accountOf, authenticate, objectPayload, type SignedRequest } from './authenticate.ts';

export const randomId = (): string => randomBytes(12).toString('base64url');
/** How far in the future an order's notBefore may lie: certificates are valid from their issuance. */
const NOT_BEFORE_SLACK_MS = 5 * 60_000;

function date(v: unknown, field: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = typeof v === 'string' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new AcmeProblem('malformed', `${field} must be an RFC 3339 date`);
  return d;
}

/** The requested validity in whole seconds, from now to notAfter; undefined: the policy's maximum. */
function validityOf(now: Date, notBefore: Date | undefined, notAfter: Date | undefined): number | undefined {
  if (notBefore && notBefore.getTime() > now.getTime() + NOT_BEFORE_SLACK_MS)
    throw new AcmeProblem('malformed', 'notBefore may not lie in the future: certificates are valid from their issuance');
  if (!notAfter) return undefined;
  if (notAfter <= now) throw new AcmeProblem('malformed', 'notAfter must lie in the future');
  return Math.floor((notAfter.getTime() - now.getTime()) / 1000);
}

export async function newOrder(ctx: AcmeContext, req: SignedRequest, policy: string | undefined): Promise<NewOrder> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  const payload = objectPayload(a);
  const p = principalOf(account);
  await ctx.authz.requireActiveClient(p);
  const identifiers = parseIdentifiers(payload.identifiers);
  const now = ctx.clock.now();
  const notBefore = date(payload.notBefore, 'notBefore');
  const notAfter = date(payload.notAfter, 'notAfter');
  const validitySeconds = validityOf(now, notBefore, notAfter);
  if (payload.replaces !== undefined && (typeof payload.replaces !== 'string' || payload.replaces.length > 200))
    throw new AcmeProblem('malformed', 'replaces must be a certificate identifier (RFC 9773 §5)');
  const dns = identifiers.filter((i) => i.type === 'dns').map((i) => i.value);
  const ip = identifiers.filter((i) => i.type === 'ip').map((i) => i.value);
  let granted;
  try {
    granted = await ctx.issuance.preflight(req.realm, p, { policy, dns, ip, validitySeconds });
  } catch (err) {
    if (isKeywardError(err, 'policy.san_not_allowed')) {
      const [kind, ...rest] = String(err.extras.san ?? '').split(':');
      const identifier: AcmeIdentifier = { type: kind === 'ip' ? 'ip' : 'dns', value: rest.join(':') };
      throw new AcmeProblem('rejectedIdentifier', err.detail, {
        cause: err,
        subproblems: [{ type: 'rejectedIdentifier', detail: err.detail, identifier }],
      });
    }
    throw err;
  }
  const expiresAt = new Date(now.getTime() + ORDER_TTL_MS);
  const order: OrderRecord = {
    id: randomId(),
    realm: req.realm,
    accountId: account.id,
    policy,
    status: 'pending',
    identifiers,
    notBefore,
    notAfter,
    expiresAt,
    error: undefined,
    requestId: undefined,
    serial: undefined,
    replaces: payload.replaces as string | undefined,
    createdAt: now,
  };
  const authorizations = identifiers.map((identifier) => {
    const wildcard = identifier.value.startsWith('*.');
    const authz: AuthorizationRecord = {
      id: randomId(),
      orderId: order.id,
      accountId: account.id,
      realm: req.realm,
      identifier: wildcard ? { type: 'dns', value: identifier.value.slice(2) } : identifier,
      wildcard,
      status: 'pending',
      expiresAt,
    };
    const challenges: ChallengeRecord[] = challengeTypesFor(identifier).map((type) => ({
      id: randomId(),
      authzId: authz.id,
      type,
      token: randomBytes(32).toString('base64url'),
      status: 'pending',
      validatedAt: undefined,
      error: undefined,
    }));
    return { authz, challenges };
  });
  const created: NewOrder = { order, authorizations };
  await ctx.store.insertOrder(created, {
    action: 'acme_order.created',
    actor: actorOf(account),
    realm: req.realm,
    target: order.id,
    details: { account: account.id, policy: granted.policy, identifiers: identifiers.map((i) => `${i.type}:${i.value}`) },
  });
  return created;
}
