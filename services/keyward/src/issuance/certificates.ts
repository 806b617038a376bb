/**
 * Finding certificates: keyward-revoker, keyward-admin and keyward-approver
 * (and operators, in searches) see every certificate of the realm; a
 * requester sees their own.
 */
import type { Principal } from '../authn/principal.ts';
import { KeywardError } from '../kernel/errors.ts';
import { ACCESS, enter } from './access.ts';
import type { IssuanceContext } from './context.ts';
import type { CertificateFilter, CertificateSummary } from './ports.ts';
import { certificateView, type IssuedView } from './views.ts';

/**
 * A serial number as the API accepts it (any case, colons or spaces, leading
 * zeros) in our form: lowercase hex without leading zeros.
 * @example normaliseSerial('0A:1B') // → 'a1b'
 * @throws KeywardError certificate.not_found for text that is not a serial
 */
export function normaliseSerial(s: string): string {
  const hex = s
    .toLowerCase()
    .replace(/[:\s]/g, '')
    .replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new KeywardError('certificate.not_found', `"${s.slice(0, 60)}" is not a serial number (hex)`);
  return hex;
}

export async function searchCertificates(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  filter: CertificateFilter,
): Promise<IssuedView[]> {
  const caller = await enter(ctx, p, realm, ACCESS.searchCertificates);
  const seesAll = caller.isOperator || (await caller.seesAllCertificates());
  const paged = filter.after === undefined ? filter : { ...filter, after: normaliseSerial(filter.after) };
  const rows = await ctx.store.searchCertificates(realm, seesAll ? paged : { ...paged, requester: p.subject }, ctx.clock.now());
  return Promise.all(rows.map((r) => certificateView(ctx, r)));
}

/**
 * Every certificate a search finds (no paging), in batches read through a database cursor: the inventory export.
 * Access as for {@link searchCertificates}; checked before the first batch.
 */
export async function exportCertificates(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  filter: CertificateFilter,
): Promise<AsyncIterable<readonly CertificateSummary[]>> {
  const caller = await enter(ctx, p, realm, ACCESS.searchCertificates);
  const seesAll = caller.isOperator || (await caller.seesAllCertificates());
  const paged = filter.after === undefined ? filter : { ...filter, after: normaliseSerial(filter.after) };
  return ctx.store.streamCertificates(realm, seesAll ? paged : { ...paged, requester: p.subject }, ctx.clock.now());
}

export async function getCertificate(ctx: IssuanceContext, realm: string, p: Principal, serial: string): Promise<IssuedView> {
  const caller = await enter(ctx, p, realm, ACCESS.ownOrRole);
  const r = await ctx.store.getCertificate(realm, normaliseSerial(serial));
  if (!r || (!caller.owns(r.requester) && !(await caller.seesAllCertificates()))) {
    throw new KeywardError('certificate.not_found', `Realm ${realm} has no certificate ${serial} visible to the caller`);
  }
  return certificateView(ctx, r);
}
