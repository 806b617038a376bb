/**
 * Account key roll-over (RFC 8555 §7.3.5): the outer JWS signed by the
 * current key, its payload an inner JWS signed by the new key (its jwk in
 * the header, the same url, no nonce) over `{account, oldKey}`.
 */
import { calculateJwkThumbprint, type JWK } from 'jose';
import { actorOf, type AcmeContext } from '../context.ts';
import { checkPublicKey, verifySignature, type ParsedJws } from '../jws.ts';
import type { AccountRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';
import { accountOf, authenticate, type SignedRequest } from './authenticate.ts';
import { JWS_ALGORITHMS } from '../jws.ts';

function innerJws(payload: unknown): ParsedJws {
  const b = payload as Record<string, unknown> | undefined;
  if (!b || typeof b.protected !== 'string' || typeof b.payload !== 'string' || typeof b.signature !== 'string')
    throw new AcmeProblem('malformed', 'The key change payload must be a JWS signed by the new key');
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(Buffer.from(b.protected, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new AcmeProblem('malformed', 'The inner JWS header is not JSON', { cause: err });
  }
  if (typeof h.alg !== 'string' || !(JWS_ALGORITHMS as readonly string[]).includes(h.alg))
    throw new AcmeProblem('badSignatureAlgorithm', `The inner JWS algorithm ${String(h.alg)} is not accepted`);
  if (h.nonce !== undefined) throw new AcmeProblem('malformed', 'The inner JWS must not carry a nonce');
  if (typeof h.jwk !== 'object' || h.jwk === null || h.kid !== undefined)
    throw new AcmeProblem('malformed', 'The inner JWS must carry the new key as jwk');
  return {
    jws: { protected: b.protected, payload: b.payload, signature: b.signature },
    header: { alg: h.alg, nonce: '', url: String(h.url), jwk: h.jwk as JWK },
  };
}

export async function keyChange(ctx: AcmeContext, req: SignedRequest): Promise<AccountRecord> {
  const a = await authenticate(ctx, req, 'kid');
  const account = accountOf(a);
  const inner = innerJws(a.payload);
  if (inner.header.url !== req.url) throw new AcmeProblem('malformed', 'The inner JWS url must be the keyChange url');
  const { jwk, thumbprint } = await checkPublicKey(inner.header.jwk!);
  const body = (await verifySignature(inner, jwk)) as Record<string, unknown> | undefined;
  if (!body || body.account !== ctx.accountUrl(req.realm, account.id))
    throw new AcmeProblem('malformed', 'The inner payload must name this account');
  const old = await calculateJwkThumbprint(body.oldKey as JWK, 'sha256').catch(() => '');
  if (old !== account.thumbprint) throw new AcmeProblem('malformed', 'oldKey is not the account key');
  const taken = await ctx.store.findAccountByThumbprint(req.realm, thumbprint);
  if (taken)
    throw new AcmeProblem('malformed', 'The new key is already an account key', {
      status: 409,
      headers: { Location: ctx.accountUrl(req.realm, taken.id) },
    });
  try {
    const updated = await ctx.store.updateAccount(
      req.realm,
      account.id,
      { jwk: jwk as Record<string, unknown>, thumbprint },
      { action: 'acme_account.key_changed', actor: actorOf(account), realm: req.realm, target: account.id, details: { thumbprint } },
    );
    if (!updated) throw new AcmeProblem('unauthorized', 'The account is no longer valid');
    return updated;
  } catch (err) {
    if ((err as { code?: string }).code === 'key_in_use')
      throw new AcmeProblem('malformed', 'The new key is already an account key', { status: 409 });
    throw err;
  }
}
