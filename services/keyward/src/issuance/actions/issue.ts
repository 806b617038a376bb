/**
 * Issuing a certificate for a CSR, in one fixed pipeline of named steps:
 *
 *   enter      the realm is managed, the caller holds keyward-requester (home realm or cross-realm grant)
 *   → parse    the CSR, its proof of possession verified (on another core under load)
 *   → rules    the policy (named, the end entity's, or the client's default), subject, SANs, validity, profile
 *   → check    the CSR checks and the policy validators, once (ca/issue.ts checkRequest)
 *   → gate     a policy that needs approval records a pending request (202) instead
 *   → sign     the policy's leaf profile through the one certificate writer
 *   → store    the certificate and its audit event, committed before the certificate is returned.
 *
 * No failed request leaves a certificate or a serial behind: the serial is
 * drawn after validation and only a committed row makes it exist.
 */
import { auditActor, type Principal } from '../../authn/principal.ts';
import {
  backdate,
  certifiedKeyRequest,
  checkRequest,
  formatName,
  parseCsrAsync,
  sanStrings,
  signRequest,
  type CheckedRequest,
  type Csr,
  type NameAttribute,
} from '../../ca/index.ts';
import { newId, newSerialHex } from '../../kernel/ids.ts';
import type { AuditEventInput } from '../../audit/event.ts';
import type { EventInput } from '../../events/catalogue.ts';
import { ACCESS, enter } from '../access.ts';
import type { IssuanceContext } from '../context.ts';
import type { CertificateRecord, IssuanceTx, NewCertificateRecord, RequesterRef } from '../ports.ts';
import { authorize, getEndEntity, resolvePolicy, type IssuanceRules } from '../rules.ts';
import { certificateView, requestView, type IssueOutcome } from '../views.ts';
import { crlUrlOf } from './rotate_ca.ts';

export interface IssueInput {
  /** The CSR (PEM or DER); not together with spki. */
  readonly csr?: string | Uint8Array | undefined;
  /** A public key Keyward generated itself (SPKI DER), certified instead of a CSR's (its key is returned once). */
  readonly spki?: Uint8Array | undefined;
  /**
   * The subject to certify instead of the CSR's: an API client's certificate, whose subject Keyward decides (it is
   * the DN Keycloak pins, RFC 8705 §2.1.1). The policy's subject rules still apply.
   */
  readonly subject?: readonly NameAttribute[] | undefined;
  readonly policy?: string | undefined;
  readonly validityDays?: number | undefined;
  /** The validity as an ISO 8601 duration (`PT1H`); not together with validityDays. */
  readonly validity?: string | undefined;
  readonly endEntity?: string | undefined;
  /**
   * The serial to issue under (lowercase hex of at least 64 random bits), reserved by an idempotent request so that a
   * retry can find the certificate if the first attempt committed; drawn afresh when absent.
   */
  readonly serial?: string | undefined;
  /** Which ACME account and order asked (RFC 8555), recorded with the requester. */
  readonly acme?: RequesterRef['acme'];
}

/** How a principal is recorded as the requester (or decider) of a certificate. */
export const requesterOf = (p: Principal, acme?: RequesterRef['acme']): RequesterRef => ({
  kind: `${p.kind}:${p.credential}`,
  realm: p.realm,
  id: p.subject,
  name: p.kind === 'client' ? p.clientId : p.username,
  ...(acme ? { acme } : {}),
});

/** The checks of a request under its rules: the validators, run once. */
export const check = (csr: Csr, rules: IssuanceRules): CheckedRequest =>
  checkRequest({
    csr,
    policy: rules.policy.policy,
    validitySeconds: rules.validitySeconds,
    subjectOverride: rules.endEntity?.subject,
    sansOverride: rules.endEntity?.sans,
  });

/**
 * Issues a certificate for a CSR, or records a pending request when the
 * policy needs approval.
 * @example const outcome = await issue(ctx, 'demo', principal, { csr: pem, policy: 'svc', validityDays: 7 });
 */
export async function issue(ctx: IssuanceContext, realm: string, p: Principal, input: IssueInput): Promise<IssueOutcome> {
  const caller = await enter(ctx, p, realm, ACCESS.issue);
  const endEntity = input.endEntity ? await getEndEntity(ctx, realm, input.endEntity) : undefined;
  const policy = await resolvePolicy(ctx, caller, input.policy ?? endEntity?.policy);
  if ((input.csr === undefined) === (input.spki === undefined)) throw new TypeError('issue takes a csr or an spki (one of them)');
  const csr = input.spki ? certifiedKeyRequest(input.spki) : await parseCsrAsync(input.csr!, ctx.verifyCsr);
  let rules = authorize(policy, csr, { validityDays: input.validityDays, validity: input.validity, endEntity });
  if (input.subject) rules = { ...rules, subject: input.subject };
  const checked = input.subject
    ? checkRequest({
        csr,
        policy: rules.policy.policy,
        validitySeconds: rules.validitySeconds,
        subjectOverride: rules.subject,
        sansOverride: rules.sans,
      })
    : check(csr, rules);
  if (policy.policy.approval === 'required')
    return { kind: 'pending', request: requestView(await openRequest(ctx, realm, p, checked, rules, input.acme)) };
  const record = await signAndStore(ctx, realm, checked, rules, requesterOf(p, input.acme), { actor: auditActor(p), serial: input.serial });
  return { kind: 'issued', certificate: await certificateView(ctx, record) };
}

/** The approval gate: a pending request, to be decided by another keyward-approver. */
async function openRequest(
  ctx: IssuanceContext,
  realm: string,
  p: Principal,
  checked: CheckedRequest,
  rules: IssuanceRules,
  acme: RequesterRef['acme'],
) {
  const rec = {
    id: newId(),
    realm,
    status: 'pending' as const,
    csrPem: checked.csr.pem,
    policy: rules.policy.name,
    validitySeconds: rules.validitySeconds,
    endEntity: rules.endEntity?.name,
    subject: formatName(checked.subject),
    sans: sanStrings(checked.sans),
    requester: requesterOf(p, acme),
    createdAt: ctx.clock.now(),
  };
  await ctx.store.transaction(async (tx) => {
    await tx.insertRequest(rec);
    await tx.audit({
      action: 'certificate_request.created',
      actor: auditActor(p),
      realm,
      target: rec.id,
      details: { policy: rules.policy.name, subject: rec.subject, sans: rec.sans },
    });
    await tx.event({
      type: 'certificate_request.pending',
      realm,
      subject: rec.id,
      data: { requestId: rec.id, policy: rec.policy, subject: rec.subject, sans: rec.sans, requester: rec.requester },
    });
  });
  return { ...rec, decidedBy: undefined, reason: undefined, serial: undefined, decidedAt: undefined };
}

/** What else commits with the certificate: an approval that must still be pending. */
export type WithCertificate = (tx: IssuanceTx, serial: string) => Promise<void>;

/**
 * Signs a checked request under the realm's issuing CA and stores it with its
 * audit event — in one round trip on the hot path, or in one transaction with
 * `alongside` (an approval).
 */
export async function signAndStore(
  ctx: IssuanceContext,
  realm: string,
  checked: CheckedRequest,
  rules: IssuanceRules,
  requester: RequesterRef,
  extra: { actor: AuditEventInput['actor']; requestId?: string; alongside?: WithCertificate; serial?: string | undefined },
): Promise<CertificateRecord> {
  const { issuing } = await ctx.cas.issuingCa(realm);
  const base = `${ctx.publicUrl}/v1/realms/${encodeURIComponent(realm)}`;
  const serial = extra.serial ?? newSerialHex();
  const issued = await signRequest(checked, {
    ca: ctx.cas.open(issuing),
    serialHex: serial,
    now: backdate(ctx.clock.now(), rules.profile),
    crlUrl: crlUrlOf(ctx, realm, issuing.id), // its issuer's own CRL: after a rotation each CA signs its own
    ocspUrl: `${base}/ocsp`,
  });
  const record: NewCertificateRecord = {
    serial,
    realm,
    caId: issuing.id,
    subject: issued.subject,
    sans: sanStrings(issued.sans),
    policy: rules.policy.name,
    endEntity: rules.endEntity?.name,
    requestId: extra.requestId,
    requester,
    keyType: issued.keyType,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    der: issued.der,
  };
  const event = {
    action: 'certificate.issued',
    actor: extra.actor,
    realm,
    target: serial,
    details: {
      policy: rules.policy.name,
      subject: record.subject,
      sans: record.sans,
      notAfter: issued.notAfter.toISOString(),
      endEntity: rules.endEntity?.name,
      requestId: extra.requestId,
    },
  };
  const lifecycle: EventInput = {
    type: 'certificate.issued',
    realm,
    subject: serial,
    data: {
      serialNumber: serial,
      subject: record.subject,
      sans: record.sans,
      policy: record.policy,
      notBefore: record.notBefore.toISOString(),
      notAfter: record.notAfter.toISOString(),
      endEntity: record.endEntity,
      requestId: record.requestId,
      requester: requester,
    },
  };
  const alongside = extra.alongside;
  if (alongside) {
    await ctx.store.transaction(async (tx) => {
      await tx.insertCertificate(record);
      await alongside(tx, serial);
      await tx.audit(event);
      await tx.event(lifecycle);
    });
  } else {
    await ctx.store.insertIssued(record, event, lifecycle);
  }
  return { ...record, status: 'valid', revokedAt: undefined, revocationReason: undefined, createdAt: ctx.clock.now() };
}
