/**
 * CA rotation and the realm's CAs as `GET /v1/realms/{realm}/ca` lists them:
 * a keyward-admin rotates the issuing CA; the new one issues from then on,
 * the previous one is retiring — it keeps signing its CRL and answering OCSP
 * for its certificates until the last of them expires.
 */
import { auditActor, type Principal } from '../../authn/principal.ts';
import { ROLES } from '../../authn/roles.ts';
import { CA_KEY_TYPES, isCaKeyType, type StoredCa } from '../../ca/index.ts';
import { KeywardError } from '../../kernel/errors.ts';
import { chainOf } from '../cas.ts';
import type { IssuanceContext } from '../context.ts';

/** The CRL distribution point of the certificates CA `caId` of `realm` issues. */
export const crlUrlOf = (ctx: IssuanceContext, realm: string, caId: string): string =>
  `${ctx.publicUrl}/v1/realms/${encodeURIComponent(realm)}/crl/${caId}`;

/** One of a realm's issuing CAs as `GET …/ca` lists it. */
export interface RealmCaView {
  readonly id: string;
  readonly state: 'active' | 'retiring';
  readonly subject: string;
  readonly keyType: string;
  readonly keyStore: 'sealed' | 'pkcs11';
  readonly notAfter: string;
  /** The CA first, its root last. */
  readonly chain: readonly string[];
  /** Where its CRL is (the CRL distribution point of the certificates it issues). */
  readonly crlUrl: string;
}

export const caView = (ctx: IssuanceContext, realm: string, ca: StoredCa): RealmCaView => ({
  id: ca.id,
  state: ca.state === 'active' ? 'active' : 'retiring',
  subject: ca.subject,
  keyType: ca.keyType,
  keyStore: ca.key.store,
  notAfter: ca.notAfter.toISOString(),
  chain: chainOf(ca),
  crlUrl: crlUrlOf(ctx, realm, ca.id),
});

/** The realm's active issuing CA (made on first use) and its retiring ones, active first. */
export async function realmCas(ctx: IssuanceContext, realm: string): Promise<RealmCaView[]> {
  await ctx.realms.getManaged(realm);
  const { issuing } = await ctx.cas.issuingCa(realm);
  return [issuing, ...(await ctx.cas.retiring(realm))].map((ca) => caView(ctx, realm, ca));
}

/** keyward-admin: rotates the realm's issuing CA, optionally to another key type; answers the realm's CAs after it. */
export async function rotate(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  input: { keyType?: string | undefined },
): Promise<RealmCaView[]> {
  await ctx.realms.getManaged(realm);
  await ctx.authz.require(p, realm, ROLES.admin);
  if (input.keyType !== undefined && !isCaKeyType(input.keyType))
    throw new KeywardError('request.malformed', `keyType must be one of ${CA_KEY_TYPES.join(', ')}`, { extras: { field: 'keyType' } });
  await ctx.cas.issuingCa(realm); // a realm that never issued gets its first CA, which is then rotated
  await ctx.cas.rotate(realm, {
    keyType: input.keyType,
    audit: (previous, next) => ({
      action: 'ca.rotated',
      actor: auditActor(p),
      realm,
      target: next.subject,
      details: { previous: previous.id, current: next.id, keyType: next.keyType, keyStore: next.key.store },
    }),
  });
  return realmCas(ctx, realm);
}
