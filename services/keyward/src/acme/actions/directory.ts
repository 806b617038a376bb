/**
 * A realm's directory (RFC 8555 §7.1.1) and the directory of one of its
 * policies: the same resources, but orders placed through a policy's
 * directory are issued under that policy, the realm's under the API client's
 * default policy. External account binding is always required.
 */
import { randomBytes } from 'node:crypto';
import { AcmeProblem } from '../problem.ts';
import { NONCE_TTL_MS, type AcmeContext } from '../context.ts';

export async function directory(ctx: AcmeContext, realm: string, policy: string | undefined) {
  await ctx.realms.getManaged(realm);
  if (policy !== undefined && !(await ctx.policies.find(realm, policy)))
    throw new AcmeProblem('malformed', `Realm ${realm} has no policy ${policy}: no such directory`, { status: 404 });
  const base = ctx.base(realm);
  return {
    newNonce: `${base}/new-nonce`,
    newAccount: `${base}/new-account`,
    newOrder: policy === undefined ? `${base}/new-order` : `${base}/${encodeURIComponent(policy)}/new-order`,
    revokeCert: `${base}/revoke-cert`,
    keyChange: `${base}/key-change`,
    renewalInfo: `${base}/renewal-info`,
    meta: {
      ...(ctx.options.termsOfService ? { termsOfService: ctx.options.termsOfService } : {}),
      website: ctx.options.publicUrl,
      externalAccountRequired: true,
    },
  };
}

/** A fresh nonce (RFC 8555 §7.2): 128 random bits, single use, stored for every replica to check. */
export async function newNonce(ctx: AcmeContext): Promise<string> {
  const nonce = randomBytes(16).toString('base64url');
  await ctx.store.addNonce(nonce, new Date(ctx.clock.now().getTime() + NONCE_TTL_MS));
  return nonce;
}
