/**
 * An account's own resource (RFC 8555 §7.3.2, §7.3.6): POST-as-GET reads
 * it, a payload with `contact` updates the contacts, `status: deactivated`
 * deactivates it for good (later requests signed by it are unauthorized).
 */
import { actorOf, type AcmeContext } from '../context.ts';
import type { AccountRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';
import { checkContact } from './new_account.ts';

export async function updateAccount(ctx: AcmeContext, req: SignedRequest, id: string): Promise<AccountRecord> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  if (account.id !== id) throw new AcmeProblem('unauthorized', 'An account may only read and change itself');
  if (a.payload === undefined) return account;
  if (typeof a.payload !== 'object' || a.payload === null) throw new AcmeProblem('malformed', 'The payload must be a JSON object');
  const p = a.payload as Record<string, unknown>;
  const change: { contact?: string[]; status?: 'deactivated' } = {};
  if (p.contact !== undefined) change.contact = checkContact(p.contact);
  if (p.status !== undefined) {
    if (p.status !== 'deactivated') throw new AcmeProblem('malformed', 'An account can only be changed to status deactivated');
    change.status = 'deactivated';
  }
  if (change.contact === undefined && change.status === undefined) return account;
  const updated = await ctx.store.updateAccount(req.realm, id, change, {
    action: change.status ? 'acme_account.deactivated' : 'acme_account.updated',
    actor: actorOf(account),
    realm: req.realm,
    target: id,
    details: change.contact ? { contact: change.contact } : undefined,
  });
  if (!updated) throw new AcmeProblem('unauthorized', 'The account is no longer valid');
  return updated;
}

/** The account's orders (RFC 8555 §7.1.2.1), newest first, as URLs. */
export async function accountOrders(ctx: AcmeContext, req: SignedRequest, id: string): Promise<string[]> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  if (account.id !== id) throw new AcmeProblem('unauthorized', 'An account may only list its own orders');
  const orders = await ctx.store.listOrders(req.realm, id, 1000);
  return orders.map((o) => ctx.orderUrl(req.realm, o.id));
}
