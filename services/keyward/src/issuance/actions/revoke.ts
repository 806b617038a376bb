/**
 * Revoking a certificate: its requester (holding keyward-requester) or a
 * keyward-revoker. Idempotent: revoking a revoked certificate answers its
 * current state. A change clears this process's OCSP responses and re-signs
 * the CRL (the schedule retries when that fails).
 */
import { auditActor, type Principal } from '../../authn/principal.ts';
import type { AuditEventInput } from '../../audit/event.ts';
import { decodeCertificate, REVOCABLE_REASONS, type RevocationReason } from '../../ca/index.ts';
import { KeywardError } from '../../kernel/errors.ts';
import { ACCESS, enter, requireRole } from '../access.ts';
import { normaliseSerial } from '../certificates.ts';
import type { IssuanceContext } from '../context.ts';
import type { CertificateRecord } from '../ports.ts';
import { refreshCrl } from '../revocation.ts';
import { certificateView, type IssuedView } from '../views.ts';

const isRevocable = (reason: string): reason is RevocationReason => (REVOCABLE_REASONS as readonly string[]).includes(reason);

export async function revoke(ctx: IssuanceContext, realm: string, p: Principal, serial: string, reason: string): Promise<IssuedView> {
  const caller = await enter(ctx, p, realm, ACCESS.ownOrRole);
  if (!isRevocable(reason)) {
    throw new KeywardError('certificate.invalid_reason', `Unknown revocation reason ${reason}; use one of ${REVOCABLE_REASONS.join(', ')}`);
  }
  const s = normaliseSerial(serial);
  const existing = await ctx.store.getCertificate(realm, s);
  if (!existing) throw new KeywardError('certificate.not_found', `Realm ${realm} has no certificate ${serial}`);
  await requireRole(ctx, caller, caller.owns(existing.requester) ? ACCESS.revokeOwn.role : ACCESS.revokeAny.role);
  const result = await ctx.store.transaction(async (tx) => {
    const r = await tx.revoke(realm, s, reason, ctx.clock.now());
    if (r?.changed) {
      await tx.audit({ action: 'certificate.revoked', actor: auditActor(p), realm, target: s, details: { reason } });
      await tx.event({
        type: 'certificate.revoked',
        realm,
        subject: s,
        data: { serialNumber: s, reason, revokedAt: r.record.revokedAt?.toISOString(), subject: r.record.subject, policy: r.record.policy },
      });
    }
    return r!;
  });
  if (result.changed) {
    ctx.ocspCache.clear();
    await refreshCrl(ctx, realm).catch(() => undefined); // the schedule retries
    await ctx.onRevoked?.(realm, result.record);
  }
  return certificateView(ctx, result.record);
}

/**
 * Revoking by proof of possession of the certificate's private key (RFC 8555
 * §7.6): whoever signed with that key may revoke, no role needed — the
 * caller (the ACME front door) verified the signature with the certificate's
 * own public key. `der` must be a certificate of this realm, byte for byte.
 * @throws KeywardError certificate.not_found, certificate.invalid_reason
 */
export async function revokeAsKeyHolder(
  ctx: IssuanceContext,
  realm: string,
  der: Uint8Array,
  reason: string,
  actor: AuditEventInput['actor'],
): Promise<IssuedView> {
  await ctx.realms.getManaged(realm);
  if (!isRevocable(reason)) {
    throw new KeywardError('certificate.invalid_reason', `Unknown revocation reason ${reason}; use one of ${REVOCABLE_REASONS.join(', ')}`);
  }
  const existing = await findIssued(ctx, realm, der);
  if (!existing) throw new KeywardError('certificate.not_found', `Realm ${realm} did not issue this certificate`);
  const s = existing.serial;
  const result = await ctx.store.transaction(async (tx) => {
    const r = await tx.revoke(realm, s, reason, ctx.clock.now());
    if (r?.changed) await tx.audit({ action: 'certificate.revoked', actor, realm, target: s, details: { reason, by: 'certificate key' } });
    return r!;
  });
  if (result.changed) {
    ctx.ocspCache.clear();
    await refreshCrl(ctx, realm).catch(() => undefined); // the schedule retries
  }
  return certificateView(ctx, result.record);
}

/** The realm's certificate whose DER is exactly `der`, or undefined (no role: for holders of the certificate). */
export async function findIssued(ctx: IssuanceContext, realm: string, der: Uint8Array): Promise<CertificateRecord | undefined> {
  let serial: string;
  try {
    serial = normaliseSerial(decodeCertificate(der).serialHex);
  } catch {
    return undefined;
  }
  const r = await ctx.store.getCertificate(realm, serial);
  return r && Buffer.compare(Buffer.from(r.der), Buffer.from(der)) === 0 ? r : undefined;
}
