/** What the API shows of certificates and certificate requests. */
import { toPem } from '../ca/index.ts';
import { formatDuration } from '../kernel/duration.ts';
import type { IssuanceContext } from './context.ts';
import type { CertificateRecord, RequesterRef, RequestRecord } from './ports.ts';

export interface IssuedView {
  readonly serialNumber: string;
  readonly certificate: string;
  readonly chain: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly status: 'valid' | 'revoked' | 'expired';
  readonly endEntity?: string | undefined;
  readonly requester?: RequesterRef;
  /** The ACME account and order it was ordered through (RFC 8555), if it was. */
  readonly acme?: RequesterRef['acme'];
  readonly revokedAt?: string | undefined;
  readonly revocationReason?: string | undefined;
}

export interface RequestView {
  readonly requestId: string;
  readonly status: RequestRecord['status'];
  readonly policy: string;
  readonly subject: string;
  readonly sans: readonly string[];
  /** The validity asked for in days (rounded up; see validity for the exact duration). */
  readonly validityDays: number;
  /** The validity asked for, as an ISO 8601 duration. */
  readonly validity: string;
  readonly endEntity: string | undefined;
  readonly requester: RequesterRef;
  readonly decidedBy: RequesterRef | undefined;
  readonly reason: string | undefined;
  readonly createdAt: string;
  readonly decidedAt: string | undefined;
  readonly certificate?: IssuedView | undefined;
}

export type IssueOutcome =
  { readonly kind: 'issued'; readonly certificate: IssuedView } | { readonly kind: 'pending'; readonly request: RequestView };

/** A certificate with its chain and its status now (valid, revoked or expired). */
export async function certificateView(ctx: IssuanceContext, r: CertificateRecord): Promise<IssuedView> {
  const { chain } = await ctx.cas.issuingCa(r.realm);
  const status = r.status === 'revoked' ? 'revoked' : r.notAfter <= ctx.clock.now() ? 'expired' : 'valid';
  return {
    serialNumber: r.serial,
    certificate: toPem(r.der, 'CERTIFICATE'),
    chain,
    notBefore: r.notBefore.toISOString(),
    notAfter: r.notAfter.toISOString(),
    policy: r.policy,
    subject: r.subject,
    sans: r.sans,
    status,
    endEntity: r.endEntity,
    requester: r.requester,
    ...(r.requester.acme ? { acme: r.requester.acme } : {}),
    revokedAt: r.revokedAt?.toISOString(),
    revocationReason: r.revocationReason,
  };
}

export function requestView(r: RequestRecord): RequestView {
  return {
    requestId: r.id,
    status: r.status,
    policy: r.policy,
    subject: r.subject,
    sans: r.sans,
    validityDays: Math.ceil(r.validitySeconds / 86_400),
    validity: formatDuration(r.validitySeconds),
    endEntity: r.endEntity,
    requester: r.requester,
    decidedBy: r.decidedBy,
    reason: r.reason,
    createdAt: r.createdAt.toISOString(),
    decidedAt: r.decidedAt?.toISOString(),
  };
}
