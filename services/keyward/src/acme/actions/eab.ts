/**
 * External account binding keys (RFC 8555 §7.3.4) of API clients: a client
 * holding keyward-requester in a realm (at home or by a cross-realm grant)
 * creates keys for itself there, lists and revokes its own. The HMAC key is
 * shown once; the store keeps it sealed under the key-encryption key (it is
 * needed to verify the binding). A key binds one ACME account.
 */
import { randomBytes } from 'node:crypto';
import { auditActor, type Principal } from '../../authn/principal.ts';
import { ROLES } from '../../authn/roles.ts';
import { KeywardError } from '../../kernel/errors.ts';
import type { AcmeContext } from '../context.ts';
import type { ClientRef, EabKeyRecord } from '../ports.ts';

export interface EabKeyView {
  readonly kid: string;
  readonly realm: string;
  readonly clientId: string;
  readonly clientRealm: string;
  readonly createdAt: string;
  readonly status: 'unused' | 'used' | 'revoked';
  readonly account?: string | undefined;
  readonly usedAt?: string | undefined;
  readonly revokedAt?: string | undefined;
}

async function clientOf(ctx: AcmeContext, realm: string, p: Principal): Promise<ClientRef> {
  await ctx.realms.getManaged(realm);
  if (p.kind !== 'client' || !p.clientId)
    throw new KeywardError('acme.eab_clients_only', 'Only API clients create ACME external account binding keys');
  await ctx.authz.require(p, realm, ROLES.requester);
  return { realm: p.realm, clientId: p.clientId, subject: p.subject };
}

function view(ctx: AcmeContext, r: EabKeyRecord): EabKeyView {
  return {
    kid: r.kid,
    realm: r.realm,
    clientId: r.client.clientId,
    clientRealm: r.client.realm,
    createdAt: r.createdAt.toISOString(),
    status: r.revokedAt ? 'revoked' : r.usedAt ? 'used' : 'unused',
    ...(r.accountId ? { account: ctx.accountUrl(r.realm, r.accountId) } : {}),
    ...(r.usedAt ? { usedAt: r.usedAt.toISOString() } : {}),
    ...(r.revokedAt ? { revokedAt: r.revokedAt.toISOString() } : {}),
  };
}

/**
 * 256 random bits for an EAB HMAC key whose base64url form does not start with '-': ACME clients take the key as a
 * command-line value (certbot --eab-hmac-key K, lego --hmac K), where a leading '-' reads as an option.
 */
export function hmacKeyBytes(): Uint8Array {
  for (;;) {
    const b = randomBytes(32);
    if (b[0]! >> 2 !== 62) return new Uint8Array(b); // base64url digit 62 is '-'
  }
}

/** A new EAB key: its kid and the base64url HMAC key (shown once), and the directory it is for. */
export async function createEabKey(ctx: AcmeContext, realm: string, p: Principal) {
  const client = await clientOf(ctx, realm, p);
  const rec: EabKeyRecord = {
    kid: `kw-${randomBytes(12).toString('base64url')}`,
    realm,
    client,
    hmacKey: hmacKeyBytes(),
    createdAt: ctx.clock.now(),
    usedAt: undefined,
    accountId: undefined,
    revokedAt: undefined,
  };
  await ctx.store.insertEabKey(rec, { action: 'acme_eab_key.created', actor: auditActor(p), realm, target: rec.kid });
  return { ...view(ctx, rec), hmacKey: Buffer.from(rec.hmacKey).toString('base64url'), directory: `${ctx.base(realm)}/directory` };
}

export async function listEabKeys(ctx: AcmeContext, realm: string, p: Principal): Promise<EabKeyView[]> {
  const client = await clientOf(ctx, realm, p);
  return (await ctx.store.listEabKeys(realm, client)).map((r) => view(ctx, r));
}

export async function revokeEabKey(ctx: AcmeContext, realm: string, p: Principal, kid: string): Promise<void> {
  const client = await clientOf(ctx, realm, p);
  const ok = await ctx.store.revokeEabKey(realm, kid, client, ctx.clock.now(), {
    action: 'acme_eab_key.revoked',
    actor: auditActor(p),
    realm,
    target: kid,
  });
  if (!ok) throw new KeywardError('acme.eab_key_not_found', `The caller has no unrevoked EAB key ${kid} in realm ${realm}`);
}
