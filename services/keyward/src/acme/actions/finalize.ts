/**
 * Finalizing an order (RFC 8555 §7.4) through Keyward's one issuance
 * pipeline — the same action as POST /v1/realms/{realm}/certificates, with
 * the same validators, store, audit, CRL and OCSP — acting as the account's
 * API client, with the account and order recorded as the certificate's
 * provenance.
 *
 *   authenticate (kid) → the order is ready → act as the API client (enabled, keyward-requester)
 *   → the CSR names exactly the order's identifiers → ready → processing (once)
 *   → issue: issued → valid; approval required → stays processing; refused → invalid
 */
import { isIP } from 'node:net';
import { parseCsr } from '../../ca/index.ts';
import { actorOf, principalOf, type AcmeContext } from '../context.ts';
import type { OrderRecord } from '../ports.ts';
import { AcmeProblem, toAcmeProblem } from '../problem.ts';
import { accountOf, authenticate, objectPayload, type SignedRequest } from './authenticate.ts';
import { ownOrder, settle } from './order.ts';

const key = (type: string, value: string) => `${type}:${value.toLowerCase()}`;

/** The CSR must ask for exactly the order's identifiers (RFC 8555 §7.4); its CN, if any, one of them. */
function checkNames(order: OrderRecord, csrDer: Uint8Array): void {
  let csr;
  try {
    csr = parseCsr(csrDer);
  } catch (err) {
    throw new AcmeProblem('badCSR', `The CSR is not acceptable: ${(err as Error).message}`, { cause: err });
  }
  const wanted = new Set(order.identifiers.map((i) => key(i.type, i.value)));
  const asked = new Set([...csr.sans.dns.map((v) => key('dns', v)), ...csr.sans.ip.map((v) => key('ip', v))]);
  for (const cn of csr.subject.filter((a) => a.type === 'CN')) {
    const k = key(isIP(cn.value) ? 'ip' : 'dns', cn.value);
    if (!wanted.has(k)) throw new AcmeProblem('badCSR', `The CSR's common name ${cn.value} is not an identifier of the order`);
    asked.add(k);
  }
  if (csr.sans.uri.length || csr.sans.email.length) throw new AcmeProblem('badCSR', 'The CSR may only name DNS names and IP addresses');
  const missing = [...wanted].filter((k) => !asked.has(k));
  const extra = [...asked].filter((k) => !wanted.has(k));
  if (missing.length || extra.length) {
    const parts = [
      ...(missing.length ? [`missing ${missing.join(', ')}`] : []),
      ...(extra.length ? [`not in the order ${extra.join(', ')}`] : []),
    ];
    throw new AcmeProblem('badCSR', `The CSR must name exactly the order's identifiers; ${parts.join('; ')}`);
  }
}

export async function finalize(ctx: AcmeContext, req: SignedRequest, id: string): Promise<{ order: OrderRecord; authzIds: string[] }> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  const payload = objectPayload(a);
  let order = await settle(ctx, account, await ownOrder(ctx, req.realm, account, id));
  if (order.status !== 'ready') throw new AcmeProblem('orderNotReady', `The order is ${order.status}, not ready`);
  const p = principalOf(account);
  await ctx.authz.requireActiveClient(p);
  if (typeof payload.csr !== 'string' || !/^[A-Za-z0-9_-]+$/.test(payload.csr))
    throw new AcmeProblem('malformed', 'csr must be the DER CSR in base64url');
  const der = new Uint8Array(Buffer.from(payload.csr, 'base64url'));
  checkNames(order, der);
  const moved = await ctx.store.moveOrder(req.realm, id, ['ready'], 'processing', {});
  if (!moved) throw new AcmeProblem('orderNotReady', 'The order is being finalized already');
  order = moved;
  const validity =
    order.notAfter === undefined
      ? undefined
      : `PT${Math.max(60, Math.floor((order.notAfter.getTime() - ctx.clock.now().getTime()) / 1000))}S`;
  const provenance = { account: ctx.accountUrl(req.realm, account.id), order: ctx.orderUrl(req.realm, order.id) };
  try {
    const outcome = await ctx.issuance.issue(req.realm, p, { csr: der, policy: order.policy, validity, acme: provenance });
    const audit = (action: string, details: Record<string, unknown>) => ({
      action,
      actor: actorOf(account),
      realm: req.realm,
      target: order.id,
      details,
    });
    if (outcome.kind === 'issued') {
      const serial = outcome.certificate.serialNumber;
      order =
        (await ctx.store.moveOrder(req.realm, id, ['processing'], 'valid', { serial }, audit('acme_order.valid', { serial }))) ?? order;
    } else {
      const requestId = outcome.request.requestId;
      order =
        (await ctx.store.moveOrder(
          req.realm,
          id,
          ['processing'],
          'processing',
          { requestId },
          audit('acme_order.awaiting_approval', { requestId }),
        )) ?? order;
    }
  } catch (err) {
    const problem = toAcmeProblem(err);
    if (problem.status >= 500) await ctx.store.moveOrder(req.realm, id, ['processing'], 'ready', {});
    else await ctx.store.moveOrder(req.realm, id, ['processing'], 'invalid', { error: problem.document });
    throw problem;
  }
  return { order, authzIds: (await ctx.store.authorizationsOf(order.id)).map((z) => z.id) };
}
