/**
 * Revocation status: each realm's CRL (RFC 5280 §5), re-signed when a
 * revocation changes it or it is past half its validity, its delta CRL
 * (§5.2.4), and OCSP (RFC 6960) for the realm's issuing CA.
 */
import {
  answerOcsp,
  buildCrlStreamed,
  buildDeltaCrl,
  crlEntries,
  deltaEntries,
  isIssuedBy,
  parseOcspRequest,
  type CertificateStatus,
  type StoredCa,
} from '../ca/index.ts';
import { normaliseSerial } from './certificates.ts';
import type { IssuanceContext } from './context.ts';

/** The realm's active issuing CA, or, by id, one of its issuing CAs that still answers for its certificates (retiring). */
async function managedIssuingCa(ctx: IssuanceContext, realm: string, caId?: string): Promise<StoredCa> {
  await ctx.realms.getManaged(realm);
  if (caId !== undefined) return ctx.cas.issuingCaById(realm, caId);
  return (await ctx.cas.issuingCa(realm)).issuing;
}

/** The current CRL (DER), re-signed when revocations changed or it is past half its validity. */
export async function crl(ctx: IssuanceContext, realm: string, caId?: string): Promise<Uint8Array> {
  const issuing = await managedIssuingCa(ctx, realm, caId);
  const current = await ctx.store.latestCrl(issuing.id);
  const now = ctx.clock.now().getTime();
  if (
    current &&
    current.nextUpdate.getTime() - now > ctx.crlValidityMs / 2 &&
    current.revocations === (await ctx.store.countRevoked(issuing.id))
  ) {
    return current.der;
  }
  return refreshCrl(ctx, realm, issuing.id);
}

/**
 * Signs the realm's CRL anew with the next CRL number. The revoked list is read
 * after the CRL lock is taken (RFC 5280 §5.2.3: a CRL with a higher number
 * supersedes the lower ones, so it must list everything they listed): read
 * before it, two replicas signing at once could give the higher number to the
 * older list. The list is read through a cursor and encoded batch by batch
 * (buildCrlStreamed), so its size in memory is the CRL's, not the rows'.
 */
export async function refreshCrl(ctx: IssuanceContext, realm: string, caId?: string): Promise<Uint8Array> {
  const issuing = await managedIssuingCa(ctx, realm, caId);
  return ctx.store.transaction(async (tx) => {
    const crlNumber = await tx.nextCrlNumber(issuing.id);
    const thisUpdate = new Date(Math.floor(ctx.clock.now().getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + ctx.crlValidityMs);
    // Streamed: the revoked rows arrive through a cursor a batch at a time and are encoded as they come.
    const entries = tx.revokedBatches(issuing.id);
    const freshestCrlUrl = deltaCrlUrl(ctx, realm);
    const { der, count } = await buildCrlStreamed({
      ca: ctx.cas.open(issuing),
      crlNumber,
      thisUpdate,
      nextUpdate,
      entries,
      freshestCrlUrl,
    });
    await tx.saveCrl({ caId: issuing.id, crlNumber, thisUpdate, nextUpdate, der, revocations: count });
    return der;
  });
}

/** Where a realm's delta CRL is served (the complete CRL's freshestCRL extension, RFC 5280 §5.2.6). */
export const deltaCrlUrl = (ctx: IssuanceContext, realm: string): string =>
  `${ctx.publicUrl}/v1/realms/${encodeURIComponent(realm)}/crl/delta`;

/**
 * The realm's delta CRL (RFC 5280 §5.2.4, DER): the changes since its base, a
 * complete CRL this CA signed. The base is kept while it is younger than half
 * the CRL validity and then moves to the newest complete CRL, so a relying
 * party holding any complete CRL from the base on can apply the delta. The
 * delta is signed anew when a newer complete CRL exists (every revocation,
 * hold and release signs one) or it is past half its validity.
 */
export async function deltaCrl(ctx: IssuanceContext, realm: string): Promise<Uint8Array> {
  const issuing = await managedIssuingCa(ctx, realm);
  let complete = await ctx.store.latestCrl(issuing.id);
  if (!complete) {
    await refreshCrl(ctx, realm);
    complete = (await ctx.store.latestCrl(issuing.id))!;
  }
  const current = await ctx.store.latestDeltaCrl(issuing.id);
  const now = ctx.clock.now().getTime();
  if (current && current.latestCrlNumber === complete.crlNumber && current.nextUpdate.getTime() - now > ctx.crlValidityMs / 2) {
    return current.der;
  }
  return ctx.store.transaction(async (tx) => {
    const crlNumber = await tx.nextCrlNumber(issuing.id);
    // Read under the CRL lock: the newest complete CRL and the revocations as of now.
    const latest = (await ctx.store.latestCrl(issuing.id)) ?? complete;
    const previous = await ctx.store.latestDeltaCrl(issuing.id);
    const base =
      previous && now - previous.base.thisUpdate.getTime() < ctx.crlValidityMs / 2
        ? previous.base
        : { crlNumber: latest.crlNumber, thisUpdate: latest.thisUpdate, der: latest.der };
    const listed = crlEntries(base.der);
    const revoked = await tx.listRevoked(issuing.id);
    const thisUpdate = new Date(Math.floor(now / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + ctx.crlValidityMs);
    const inForce = new Set(revoked.map((r) => r.serialHex));
    const gone = listed.filter((e) => !inForce.has(e.serialHex)).map((e) => e.serialHex);
    const released = gone.length ? await tx.releasedAt(issuing.id, gone) : new Map<string, Date>();
    const entries = deltaEntries(listed, revoked, (serial) => released.get(serial) ?? thisUpdate);
    const der = await buildDeltaCrl({
      ca: ctx.cas.open(issuing),
      baseCrlNumber: base.crlNumber,
      crlNumber,
      thisUpdate,
      nextUpdate,
      entries,
    });
    await tx.saveDeltaCrl({ caId: issuing.id, base, crlNumber, thisUpdate, nextUpdate, der, latestCrlNumber: latest.crlNumber });
    return der;
  });
}

/** Re-signs every realm's CRL that is due (the schedule). */
export async function refreshDueCrls(ctx: IssuanceContext): Promise<void> {
  for (const r of await ctx.realms.list()) {
    if (await ctx.store.findActiveCa(r.name, 'issuing')) await crl(ctx, r.name);
    for (const retiring of await ctx.cas.retiring(r.name)) await crl(ctx, r.name, retiring.id);
  }
}

/** OCSP (RFC 6960) for the issuing CA of `realm`. */
export async function ocsp(ctx: IssuanceContext, realm: string, requestDer: Uint8Array): Promise<Uint8Array> {
  const issuing = await ocspIssuer(ctx, realm, requestDer);
  const key = `${issuing.id}:${Buffer.from(requestDer).toString('base64')}`;
  return ctx.ocspCache.get(key, () =>
    answerOcsp(
      ctx.cas.open(issuing),
      requestDer,
      async (serialHex): Promise<CertificateStatus> => {
        const r = await ctx.store.findBySerial(issuing.id, normaliseSerial(serialHex));
        if (!r) return { status: 'unknown' };
        if (r.status === 'revoked') return { status: 'revoked', revokedAt: r.revokedAt!, reason: r.revocationReason ?? 'unspecified' };
        return { status: 'good' };
      },
      ctx.clock.now(),
    ),
  );
}

/** Realms whose issuing CA exists, for OCSP requests that do not name a realm. */
export async function issuingCas(ctx: IssuanceContext): Promise<{ realm: string; ca: StoredCa }[]> {
  const out: { realm: string; ca: StoredCa }[] = [];
  for (const r of await ctx.realms.list()) {
    const ca = await ctx.store.findActiveCa(r.name, 'issuing');
    if (ca) out.push({ realm: r.name, ca });
    for (const retiring of await ctx.cas.retiring(r.name)) out.push({ realm: r.name, ca: retiring });
  }
  return out;
}

/**
 * The issuing CA an OCSP request asks about (RFC 6960 §4.1.1: the CertID's
 * issuer name and key hashes): the active one, or a retiring one after a
 * rotation. A request that names neither gets the active one (and unauthorized).
 */
async function ocspIssuer(ctx: IssuanceContext, realm: string, requestDer: Uint8Array): Promise<StoredCa> {
  const active = await managedIssuingCa(ctx, realm);
  const retiring = await ctx.cas.retiring(realm);
  if (!retiring.length) return active;
  let certIds;
  try {
    certIds = parseOcspRequest(requestDer).certIds;
  } catch {
    return active; // answered malformedRequest by the responder
  }
  if (certIds.some((id) => isIssuedBy(id, ctx.cas.open(active)))) return active;
  return retiring.find((ca) => certIds.some((id) => isIssuedBy(id, ctx.cas.open(ca)))) ?? active;
}
