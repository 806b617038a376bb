/** Downloading an order's certificate (RFC 8555 §7.4.2): leaf then chain, application/pem-certificate-chain. */
import { toPem } from '../../ca/index.ts';
import type { AcmeContext } from '../context.ts';
import { AcmeProblem } from '../problem.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';
import { ownOrder } from './order.ts';

export async function certificateChain(ctx: AcmeContext, req: SignedRequest, orderId: string): Promise<string> {
  const a = await authenticate(ctx, req, 'kid');
  const order = await ownOrder(ctx, req.realm, accountOf(a), orderId);
  if (order.status !== 'valid' || !order.serial) throw new AcmeProblem('malformed', 'The order has no certificate yet', { status: 404 });
  const record = await ctx.issuance.findBySerial(req.realm, order.serial);
  if (!record) throw new AcmeProblem('serverInternal', 'The certificate of the order is missing');
  const chain = await ctx.issuance.chain(req.realm);
  return [toPem(record.der, 'CERTIFICATE'), ...chain].map((p) => p.trim()).join('\n') + '\n';
}
