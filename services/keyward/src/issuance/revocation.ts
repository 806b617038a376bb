/**
 * Revocation status: each realm's CRL (RFC 5280 §5), re-signed when a
 * revocation changes it or it is past half its validity, and OCSP (RFC 6960)
 * for the realm's issuing CA.
 */
import { answerOcsp, buildCrlStreamed, isIssuedBy, parseOcspRequest, type CertificateStatus, type StoredCa } from '../ca/index.ts';
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
    const { der, count } = await buildCrlStreamed({ ca: ctx.cas.open(issuing), crlNumber, thisUpdate, nextUpdate, entries });
    await tx.saveCrl({ caId: issuing.id, crlNumber, thisUpdate, nextUpdate, der, revocations: count });
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
