/**
 * Reading an order (RFC 8555 §7.1.3, POST-as-GET) and its lazy moves: an
 * order past its expiry before finalization becomes invalid; an order kept
 * `processing` for an approver becomes `valid` once the certificate request
 * is approved through the certificate-requests API, `invalid` once rejected.
 */
import { isKeywardError } from '../../kernel/errors.ts';
import { actorOf, principalOf, type AcmeContext } from '../context.ts';
import type { AccountRecord, OrderRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';

/** The account's order `id`, or 404 malformed. */
export async function ownOrder(ctx: AcmeContext, realm: string, account: AccountRecord, id: string): Promise<OrderRecord> {
  const order = await ctx.store.findOrder(realm, id);
  if (!order || order.accountId !== account.id) throw new AcmeProblem('malformed', `No order ${id} of this account`, { status: 404 });
  return order;
}

/** Moves an order on when its expiry passed or its approval was decided; the order as it is now. */
export async function settle(ctx: AcmeContext, account: AccountRecord, order: OrderRecord): Promise<OrderRecord> {
  const now = ctx.clock.now();
  if ((order.status === 'pending' || order.status === 'ready') && order.expiresAt <= now) {
    const moved = await ctx.store.moveOrder(order.realm, order.id, ['pending', 'ready'], 'invalid', {
      error: new AcmeProblem('malformed', 'The order expired before it was finalized').document,
    });
    return moved ?? order;
  }
  if (order.status !== 'processing' || !order.requestId) return order;
  let request;
  try {
    request = await ctx.issuance.getRequest(order.realm, principalOf(account), order.requestId);
  } catch (err) {
    if (isKeywardError(err) && err.status < 500) return order; // the client lost access; the order waits
    throw err;
  }
  if (request.status === 'issued' && request.certificate) {
    const serial = request.certificate.serialNumber;
    return (
      (await ctx.store.moveOrder(
        order.realm,
        order.id,
        ['processing'],
        'valid',
        { serial },
        { action: 'acme_order.valid', actor: actorOf(account), realm: order.realm, target: order.id, details: { serial } },
      )) ?? order
    );
  }
  if (request.status === 'rejected') {
    const error = new AcmeProblem('unauthorized', `An approver rejected the certificate request: ${request.reason ?? ''}`).document;
    return (await ctx.store.moveOrder(order.realm, order.id, ['processing'], 'invalid', { error })) ?? order;
  }
  return order;
}

export async function getOrder(ctx: AcmeContext, req: SignedRequest, id: string): Promise<{ order: OrderRecord; authzIds: string[] }> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  const order = await settle(ctx, account, await ownOrder(ctx, req.realm, account, id));
  return { order, authzIds: (await ctx.store.authorizationsOf(order.id)).map((z) => z.id) };
}
