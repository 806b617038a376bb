/**
 * End entities: named subjects and SANs under a policy, managed by
 * keyward-entity-admin; a request for an end entity certifies the entity's
 * names, not the CSR's.
 */
import { auditActor, type Principal } from '../authn/principal.ts';
import { enforcePolicy, formatName, NO_SANS, sanStrings, type NameAttribute, type Sans } from '../ca/index.ts';
import { KeywardError } from '../kernel/errors.ts';
import { ACCESS, enter } from './access.ts';
import { requesterOf } from './actions/issue.ts';
import type { IssuanceContext } from './context.ts';
import type { EndEntityRecord } from './ports.ts';
import { getEndEntity as findEndEntity, resolvePolicy } from './rules.ts';

export interface EndEntityInput {
  readonly name: string;
  readonly subject: readonly NameAttribute[];
  readonly sans?: Partial<Sans> | undefined;
  readonly policy: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export async function createEndEntity(ctx: IssuanceContext, realm: string, p: Principal, input: EndEntityInput): Promise<EndEntityRecord> {
  const caller = await enter(ctx, p, realm, ACCESS.manageEndEntities);
  if (!NAME.test(input.name))
    throw new KeywardError('request.malformed', `"${input.name.slice(0, 100)}" is not a valid end entity name`, {
      extras: { field: '/name' },
    });
  const policy = await resolvePolicy(ctx, caller, input.policy);
  const sans: Sans = { ...NO_SANS, ...input.sans };
  // The entity must be issuable under its policy (the key type is checked per CSR).
  // One minute, the shortest validity: every policy allows it, so only the names are checked here.
  enforcePolicy(policy.policy, { keyType: 'EC-P256', subject: input.subject, sans, validitySeconds: 60 });
  const rec: EndEntityRecord = {
    realm,
    name: input.name,
    subject: input.subject,
    sans,
    policy: policy.name,
    createdBy: requesterOf(p),
    createdAt: ctx.clock.now(),
  };
  await ctx.store.transaction(async (tx) => {
    await tx.insertEndEntity(rec);
    await tx.audit({
      action: 'end_entity.created',
      actor: auditActor(p),
      realm,
      target: input.name,
      details: { subject: formatName(input.subject), sans: sanStrings(sans), policy: policy.name },
    });
  });
  return rec;
}

export async function getEndEntity(ctx: IssuanceContext, realm: string, p: Principal, name: string): Promise<EndEntityRecord> {
  await enter(ctx, p, realm, ACCESS.readEndEntities);
  return findEndEntity(ctx, realm, name);
}

export async function listEndEntities(ctx: IssuanceContext, realm: string, p: Principal): Promise<EndEntityRecord[]> {
  await enter(ctx, p, realm, ACCESS.readEndEntities);
  return ctx.store.listEndEntities(realm);
}

export async function deleteEndEntity(ctx: IssuanceContext, realm: string, p: Principal, name: string): Promise<void> {
  await enter(ctx, p, realm, ACCESS.manageEndEntities);
  const deleted = await ctx.store.transaction(async (tx) => {
    const d = await tx.deleteEndEntity(realm, name);
    if (d) await tx.audit({ action: 'end_entity.deleted', actor: auditActor(p), realm, target: name });
    return d;
  });
  if (!deleted) throw new KeywardError('end_entity.not_found', `Realm ${realm} has no end entity ${name}`);
}
