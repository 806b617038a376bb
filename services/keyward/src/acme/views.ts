/** What ACME clients see of accounts, orders, authorizations and challenges (RFC 8555 §7.1). */
import type { AcmeContext } from './context.ts';
import type { AccountRecord, AuthorizationRecord, ChallengeRecord, OrderRecord } from './ports.ts';

export function accountView(ctx: AcmeContext, a: AccountRecord) {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: true,
    orders: `${ctx.accountUrl(a.realm, a.id)}/orders`,
    externalAccountBinding: { kid: a.eabKid },
  };
}

export function orderView(ctx: AcmeContext, o: OrderRecord, authzIds: readonly string[]) {
  return {
    status: o.status,
    expires: o.expiresAt.toISOString(),
    identifiers: o.identifiers,
    ...(o.notBefore ? { notBefore: o.notBefore.toISOString() } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter.toISOString() } : {}),
    ...(o.error ? { error: o.error } : {}),
    authorizations: authzIds.map((id) => ctx.authzUrl(o.realm, id)),
    finalize: `${ctx.orderUrl(o.realm, o.id)}/finalize`,
    ...(o.status === 'valid' && o.serial ? { certificate: ctx.certificateUrl(o.realm, o.id) } : {}),
    ...(o.replaces ? { replaces: o.replaces } : {}),
  };
}

export function challengeView(ctx: AcmeContext, realm: string, c: ChallengeRecord) {
  return {
    type: c.type,
    url: ctx.challengeUrl(realm, c.id),
    status: c.status,
    token: c.token,
    ...(c.status === 'valid' && c.validatedAt ? { validated: c.validatedAt.toISOString() } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

export function authorizationView(ctx: AcmeContext, a: AuthorizationRecord, challenges: readonly ChallengeRecord[]) {
  return {
    identifier: a.identifier,
    status: a.status,
    expires: a.expiresAt.toISOString(),
    challenges: challenges.map((c) => challengeView(ctx, a.realm, c)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}
