/**
 * Creating an account (RFC 8555 §7.3), always with an external account
 * binding (§7.3.4) to an EAB key that an API client made for itself:
 *
 *   authenticate (jwk)  → existing?  (an account of this key is answered as it is; onlyReturnExisting)
 *   → eab               the binding verifies with the key's HMAC, for this url and this account key
 *   → create            the EAB key is consumed in the account's transaction: a key binds one account
 */
import { randomBytes } from 'node:crypto';
import { actorOf, type AcmeContext } from '../context.ts';
import { verifyEab } from '../jws.ts';
import type { AccountRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';
import { authenticate, objectPayload, type SignedRequest } from './authenticate.ts';

export interface AccountOutcome {
  readonly account: AccountRecord;
  readonly created: boolean;
}

/** `mailto:` contacts only, a few of them (RFC 8555 §7.3). */
export function checkContact(contact: unknown): string[] {
  if (contact === undefined) return [];
  if (!Array.isArray(contact) || contact.length > 10) throw new AcmeProblem('malformed', 'contact must be a list of up to 10 URLs');
  return contact.map((c) => {
    if (typeof c !== 'string' || !/^mailto:[^\s@,]+@[^\s@,]+$/.test(c) || c.length > 320)
      throw new AcmeProblem('malformed', `Contact ${String(c).slice(0, 80)} is not a mailto: URL with one address`, {
        status: 400,
      });
    return c;
  });
}

export async function newAccount(ctx: AcmeContext, req: SignedRequest): Promise<AccountOutcome> {
  await ctx.realms.getManaged(req.realm);
  const a = await authenticate(ctx, req, 'jwk');
  const payload = objectPayload(a);
  const existing = await ctx.store.findAccountByThumbprint(req.realm, a.thumbprint!);
  if (existing) {
    if (existing.status !== 'valid') throw new AcmeProblem('unauthorized', `The account of this key is ${existing.status}`);
    return { account: existing, created: false };
  }
  if (payload.onlyReturnExisting === true) throw new AcmeProblem('accountDoesNotExist', 'No account exists for this key');
  if (payload.termsOfServiceAgreed !== undefined && typeof payload.termsOfServiceAgreed !== 'boolean')
    throw new AcmeProblem('malformed', 'termsOfServiceAgreed must be a boolean');
  const contact = checkContact(payload.contact);
  if (payload.externalAccountBinding === undefined)
    throw new AcmeProblem('externalAccountRequired', 'This server requires an external account binding (an EAB key of an API client)');
  let eabKey;
  const kid = await verifyEab(payload.externalAccountBinding, {
    url: req.url,
    accountKey: a.jwk,
    hmacKey: async (k) => {
      eabKey = await ctx.store.findEabKey(k);
      if (!eabKey || eabKey.realm !== req.realm || eabKey.revokedAt) return undefined;
      return eabKey.hmacKey;
    },
  });
  const key = eabKey!;
  if (key.usedAt) throw new AcmeProblem('unauthorized', `The external account binding key ${kid} was already used`);
  const account: AccountRecord = {
    id: randomBytes(12).toString('base64url'),
    realm: req.realm,
    thumbprint: a.thumbprint!,
    jwk: a.jwk as Record<string, unknown>,
    status: 'valid',
    contact,
    eabKid: kid,
    client: key.client,
    createdAt: ctx.clock.now(),
  };
  const outcome = await ctx.store.createAccount(account, {
    action: 'acme_account.created',
    actor: actorOf(account),
    realm: req.realm,
    target: account.id,
    details: { eabKid: kid, contact },
  });
  if (outcome === 'eab_used') throw new AcmeProblem('unauthorized', `The external account binding key ${kid} was already used`);
  if (outcome === 'exists') {
    const raced = await ctx.store.findAccountByThumbprint(req.realm, account.thumbprint);
    if (raced) return { account: raced, created: false };
    throw new AcmeProblem('unauthorized', `The external account binding key ${kid} was already used`);
  }
  return { account, created: true };
}
