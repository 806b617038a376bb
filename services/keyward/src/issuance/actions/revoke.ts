/**
 * Revoking, holding and releasing a certificate. A caller of the API may act
 * on its own certificates (holding keyward-requester) or, as a
 * keyward-revoker, on any; Keyward itself does when a requester's identity
 * changes in Keycloak (issuance/identity_follow.ts).
 *
 * Each change goes through one function — {@link revokeCertificate},
 * {@link holdCertificate}, {@link releaseCertificate} — which makes the change
 * with one atomic UPDATE … WHERE status … RETURNING, records its audit event in
 * the same transaction only when it changed something (so a repeated change is
 * audited once), clears this process's OCSP answers and re-signs the CRL (the
 * schedule retries when that fails).
 *
 * A hold is RFC 5280's certificateHold (§5.3.1): listed on CRLs with that
 * reason and answered `revoked (certificateHold)` by OCSP until released,
 * after which the certificate is good again and delta CRLs list it as
 * removeFromCRL. A hold may be made permanent by a revocation; a revocation
 * is never undone.
 */
import { auditActor, type Principal } from '../../authn/principal.ts';
import type { AuditActor } from '../../audit/event.ts';
import { decodeCertificate, REVOCABLE_REASONS, type RevocationReason } from '../../ca/index.ts';
import { KeywardError } from '../../kernel/errors.ts';
import { ACCESS, enter, requireRole } from '../access.ts';
import { normaliseSerial } from '../certificates.ts';
import type { IssuanceContext } from '../context.ts';
import type { CertificateRecord } from '../ports.ts';
import { refreshCrl } from '../revocation.ts';
import { certificateView, type IssuedView } from '../views.ts';

const isRevocable = (reason: string): reason is Exclude<RevocationReason, 'removeFromCRL'> =>
  (REVOCABLE_REASONS as readonly string[]).includes(reason);

/** One change of a certificate's revocation status, and why it is made. */
export interface StatusChange {
  readonly realm: string;
  /** Normalised (lowercase hex, no leading zeros). */
  readonly serial: string;
  readonly actor: AuditActor;
  /** Recorded in the audit event's details as `cause` (e.g. the Keycloak admin event that led to it). */
  readonly cause?: Readonly<Record<string, unknown>> | undefined;
  /** Re-sign the CRL after the change (default true); a caller changing many certificates re-signs once at the end. */
  readonly refreshCrl?: boolean | undefined;
  /** A hold: who puts it (`identity` for Keyward following Keycloak). A release: release only a hold put by this source. */
  readonly holdSource?: string | undefined;
}

export interface StatusChangeResult {
  readonly record: CertificateRecord;
  /** False when the certificate was already in the state asked for (nothing written, nothing audited). */
  readonly changed: boolean;
}

async function afterChange(
  ctx: IssuanceContext,
  change: StatusChange,
  result: StatusChangeResult | undefined,
  permanent = false,
): Promise<void> {
  if (!result?.changed) return;
  ctx.ocspCache.clear();
  // The CRL of the certificate's own CA (a retiring one after a rotation); the schedule retries.
  if (change.refreshCrl ?? true) await refreshCrl(ctx, change.realm, result.record.caId).catch(() => undefined);
  // A revocation for good moves a certificate client's pin in Keycloak on; a hold does not (a release could not undo it).
  if (permanent) await ctx.onRevoked?.(change.realm, result.record);
}

const details = (change: StatusChange, extra: Record<string, unknown>) => ({ ...extra, ...(change.cause ? { cause: change.cause } : {}) });

/**
 * Revokes a certificate for good with `reason` (any reason but certificateHold and removeFromCRL), valid or held.
 * Audit: `certificate.revoked`. Undefined when the realm has no such certificate.
 * @example await revokeCertificate(ctx, { realm, serial, actor, cause: { source: 'reconciliation' } }, 'cessationOfOperation')
 */
export async function revokeCertificate(
  ctx: IssuanceContext,
  change: StatusChange,
  reason: Exclude<RevocationReason, 'certificateHold' | 'removeFromCRL'>,
): Promise<StatusChangeResult | undefined> {
  if (!isRevocable(reason) || (reason as string) === 'certificateHold')
    throw new TypeError(`not a permanent revocation reason: ${String(reason)}`);
  const result = await ctx.store.transaction(async (tx) => {
    const r = await tx.revoke(change.realm, change.serial, reason, ctx.clock.now());
    if (r?.changed) {
      await tx.audit({
        action: 'certificate.revoked',
        actor: change.actor,
        realm: change.realm,
        target: change.serial,
        details: details(change, { reason }),
      });
      await tx.event({
        type: 'certificate.revoked',
        realm: change.realm,
        subject: change.serial,
        data: {
          serialNumber: change.serial,
          reason,
          revokedAt: r.record.revokedAt?.toISOString(),
          subject: r.record.subject,
          policy: r.record.policy,
        },
      });
    }
    return r;
  });
  await afterChange(ctx, change, result, true);
  return result;
}

/**
 * Puts a valid certificate on hold (RFC 5280 certificateHold). Audit: `certificate.held`.
 * Undefined when the realm has no such certificate.
 */
export async function holdCertificate(ctx: IssuanceContext, change: StatusChange): Promise<StatusChangeResult | undefined> {
  const result = await ctx.store.transaction(async (tx) => {
    const r = await tx.revoke(change.realm, change.serial, 'certificateHold', ctx.clock.now(), change.holdSource);
    if (r?.changed) {
      await tx.audit({
        action: 'certificate.held',
        actor: change.actor,
        realm: change.realm,
        target: change.serial,
        details: details(change, { reason: 'certificateHold' }),
      });
      await tx.event({
        type: 'certificate.held',
        realm: change.realm,
        subject: change.serial,
        data: {
          serialNumber: change.serial,
          reason: 'certificateHold',
          revokedAt: r.record.revokedAt?.toISOString(),
          subject: r.record.subject,
          policy: r.record.policy,
        },
      });
    }
    return r;
  });
  await afterChange(ctx, change, result);
  return result;
}

/**
 * Releases a held certificate: valid again, good in OCSP, removeFromCRL in delta CRLs. Audit: `certificate.released`.
 * Undefined when the realm has no such certificate; `changed` false when it was not held.
 */
export async function releaseCertificate(ctx: IssuanceContext, change: StatusChange): Promise<StatusChangeResult | undefined> {
  const result = await ctx.store.transaction(async (tx) => {
    const r = await tx.release(change.realm, change.serial, ctx.clock.now(), change.holdSource);
    if (r?.changed) {
      await tx.audit({
        action: 'certificate.released',
        actor: change.actor,
        realm: change.realm,
        target: change.serial,
        details: details(change, {}),
      });
      await tx.event({
        type: 'certificate.released',
        realm: change.realm,
        subject: change.serial,
        data: { serialNumber: change.serial, subject: r.record.subject, policy: r.record.policy },
      });
    }
    return r;
  });
  await afterChange(ctx, change, result);
  return result;
}

/** The certificate `serial` of `realm` after checking that the caller may revoke, hold or release it. */
async function authorisedTarget(ctx: IssuanceContext, realm: string, p: Principal, serial: string): Promise<CertificateRecord> {
  const caller = await enter(ctx, p, realm, ACCESS.ownOrRole);
  const s = normaliseSerial(serial);
  const existing = await ctx.store.getCertificate(realm, s);
  if (!existing) throw new KeywardError('certificate.not_found', `Realm ${realm} has no certificate ${serial}`);
  await requireRole(ctx, caller, caller.owns(existing.requester) ? ACCESS.revokeOwn.role : ACCESS.revokeAny.role);
  return existing;
}

/**
 * `POST …/certificates/{serial}/revoke`. Idempotent: revoking a revoked certificate answers its current state;
 * `certificateHold` puts a valid certificate on hold, any other reason revokes a valid or held one.
 */
export async function revoke(ctx: IssuanceContext, realm: string, p: Principal, serial: string, reason: string): Promise<IssuedView> {
  if (!isRevocable(reason)) {
    await enter(ctx, p, realm, ACCESS.ownOrRole);
    throw new KeywardError('certificate.invalid_reason', `Unknown revocation reason ${reason}; use one of ${REVOCABLE_REASONS.join(', ')}`);
  }
  const existing = await authorisedTarget(ctx, realm, p, serial);
  const change: StatusChange = { realm, serial: existing.serial, actor: auditActor(p) };
  const result = reason === 'certificateHold' ? await holdCertificate(ctx, change) : await revokeCertificate(ctx, change, reason);
  return certificateView(ctx, result?.record ?? existing);
}

/** `POST …/certificates/{serial}/release`: only a held certificate; `certificate.not_held` otherwise. */
export async function release(ctx: IssuanceContext, realm: string, p: Principal, serial: string): Promise<IssuedView> {
  const existing = await authorisedTarget(ctx, realm, p, serial);
  const result = await releaseCertificate(ctx, { realm, serial: existing.serial, actor: auditActor(p) });
  if (!result?.changed) {
    const now = result?.record ?? existing;
    throw new KeywardError(
      'certificate.not_held',
      now.status === 'revoked'
        ? `Certificate ${now.serial} is revoked (${now.revocationReason ?? 'unspecified'}), not on hold: a revocation is never undone`
        : `Certificate ${now.serial} is not on hold`,
      { extras: { certificateStatus: now.status, revocationReason: now.revocationReason } },
    );
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
  actor: AuditActor,
): Promise<IssuedView> {
  await ctx.realms.getManaged(realm);
  if (!isRevocable(reason) || reason === 'certificateHold') {
    throw new KeywardError('certificate.invalid_reason', `Unknown revocation reason ${reason}; use one of ${REVOCABLE_REASONS.join(', ')}`);
  }
  const existing = await findIssued(ctx, realm, der);
  if (!existing) throw new KeywardError('certificate.not_found', `Realm ${realm} did not issue this certificate`);
  const change: StatusChange = { realm, serial: existing.serial, actor, cause: { by: 'certificate key' } };
  const result = await revokeCertificate(ctx, change, reason);
  return certificateView(ctx, result?.record ?? existing);
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
