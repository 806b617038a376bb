/**
 * The first steps of every ACME POST (RFC 8555 §6.2–6.5):
 *
 *   parse     a flattened JWS with an accepted algorithm (jws.ts)
 *   → key     the jwk of the header (newAccount, revocation by certificate key), or the account `kid` names
 *   → verify  the signature, with jose
 *   → nonce   single use across replicas (consumed in PostgreSQL)
 *   → url     the header's url is the URL the request was sent to
 *   → limit   the account's rate limit
 */
import type { JWK } from 'jose';
import type { AcmeContext } from '../context.ts';
import { checkPublicKey, parseJws, verifySignature, type ProtectedHeader } from '../jws.ts';
import type { AccountRecord } from '../ports.ts';
import { AcmeProblem } from '../problem.ts';

export interface SignedRequest {
  readonly realm: string;
  /** The URL the request was sent to, as clients address it (`<publicUrl>/acme/...`). */
  readonly url: string;
  readonly body: unknown;
}

export interface Authenticated {
  readonly header: ProtectedHeader;
  /** undefined for POST-as-GET. */
  readonly payload: unknown;
  /** The account of a `kid` request. */
  readonly account: AccountRecord | undefined;
  /** The key that signed: the account's, or the header's `jwk`. */
  readonly jwk: JWK;
  readonly thumbprint: string | undefined;
}

/**
 * @param key `kid`: an existing, valid account must have signed; `jwk`: a key in the header; `either`: one of them.
 * @throws AcmeProblem malformed, badSignatureAlgorithm, badPublicKey, badNonce, unauthorized, accountDoesNotExist, rateLimited
 */
export async function authenticate(ctx: AcmeContext, req: SignedRequest, key: 'kid' | 'jwk' | 'either'): Promise<Authenticated> {
  const parsed = parseJws(req.body);
  const h = parsed.header;
  let account: AccountRecord | undefined;
  let jwk: JWK;
  let thumbprint: string | undefined;
  if (h.jwk) {
    if (key === 'kid') throw new AcmeProblem('malformed', 'This request must be signed by the account (kid), not a jwk');
    ({ jwk, thumbprint } = await checkPublicKey(h.jwk));
  } else {
    if (key === 'jwk') throw new AcmeProblem('malformed', 'This request must carry the key (jwk), not a kid');
    account = await accountOfKid(ctx, req.realm, h.kid!);
    jwk = account.jwk as JWK;
  }
  const payload = await verifySignature(parsed, jwk).catch((err: unknown) => {
    // A kid request signed with another kind of key than the account's is a signature that does not verify.
    if (account && err instanceof AcmeProblem && err.type === 'badPublicKey')
      throw new AcmeProblem('malformed', 'The JWS signature does not verify with the account key', { cause: err });
    throw err;
  });
  if (!(await ctx.store.consumeNonce(h.nonce, ctx.clock.now())))
    throw new AcmeProblem('badNonce', 'The nonce was used before, has expired, or was not issued by this server');
  if (h.url !== req.url) throw new AcmeProblem('unauthorized', `The JWS url ${h.url} is not the URL the request was sent to`);
  if (account) {
    if (account.status !== 'valid') throw new AcmeProblem('unauthorized', `The account is ${account.status}`);
    const wait = ctx.limiter.take(`${req.realm}\u0000${account.id}`);
    if (wait > 0)
      throw new AcmeProblem('rateLimited', `Too many requests from this account; retry in ${wait} s`, {
        headers: { 'Retry-After': String(wait) },
      });
  }
  return { header: h, payload, account, jwk, thumbprint };
}

/** The account a `kid` names: `<base>/account/<id>` of this realm. */
async function accountOfKid(ctx: AcmeContext, realm: string, kid: string): Promise<AccountRecord> {
  const prefix = `${ctx.base(realm)}/account/`;
  const id = kid.startsWith(prefix) ? kid.slice(prefix.length) : undefined;
  const account = id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await ctx.store.findAccount(realm, id) : undefined;
  if (!account) throw new AcmeProblem('accountDoesNotExist', `No account ${kid} in this directory`);
  return account;
}

/** A payload that must be a JSON object (not POST-as-GET). */
export function objectPayload(a: Authenticated): Record<string, unknown> {
  if (typeof a.payload !== 'object' || a.payload === null || Array.isArray(a.payload))
    throw new AcmeProblem('malformed', 'The payload must be a JSON object');
  return a.payload as Record<string, unknown>;
}

/** The account of a request that must be signed by one (kid requests always are). */
export function accountOf(a: Authenticated): AccountRecord {
  if (!a.account) throw new AcmeProblem('malformed', 'This request must be signed by an account');
  return a.account;
}
