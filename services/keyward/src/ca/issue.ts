/**
 * Certificate issuance — the hot path.
 *
 * One fixed pipeline (after step-ca's signX509):
 *
 *   CSR checks       proof of possession (a Csr only exists once parseCsr verified it),
 *                    SAN kinds Keyward certifies
 *   → validators     key, subject, SANs, validity — one named rule each (./policy/validators/)
 *   → sign           the policy's leaf profile (./profiles.ts) through the one writer (./sign.ts):
 *                    key usage and EKU from the policy, never from the CSR
 */
import { KeywardError } from '../kernel/errors.ts';
import type { CaContext } from './ca_context.ts';
import { isVerifiedCsr, type Csr } from './csr.ts';
import { formatName, type NameAttribute } from './name.ts';
import type { Policy } from './policy/policy.ts';
import { validateKey } from './policy/validators/key.ts';
import { validateSans } from './policy/validators/san.ts';
import { validateSubject } from './policy/validators/subject.ts';
import { validateValidity } from './policy/validators/validity.ts';
import { leafProfile } from './profiles.ts';
import { sanCount, type Sans } from './san.ts';
import { signCertificate } from './sign.ts';

export interface IssueRequest {
  /** The issuing CA. */
  readonly ca: CaContext;
  /** A CSR from parseCsr: the certified key is its key. */
  readonly csr: Csr;
  readonly policy: Policy;
  /** Validity in whole seconds, at least 60 (policies bound it in days or as an ISO 8601 duration). */
  readonly validitySeconds?: number | undefined;
  /** Validity in whole days: the original form, for callers that have no use for hours and minutes. */
  readonly validityDays?: number | undefined;
  /** The subject to certify instead of the CSR's (end entities: the entity's subject). */
  readonly subjectOverride?: readonly NameAttribute[] | undefined;
  /** The SANs to certify instead of the CSR's (end entities: the entity's names). */
  readonly sansOverride?: Sans | undefined;
  /** Lowercase hex, positive, at most 20 octets (newSerialHex()). */
  readonly serialHex: string;
  readonly now: Date;
  /** Where this CA's CRL is published (cRLDistributionPoints). */
  readonly crlUrl: string;
  /** This CA's OCSP responder (authorityInfoAccess). */
  readonly ocspUrl: string;
}

export interface IssuedCertificate {
  readonly serialHex: string;
  readonly certificatePem: string;
  readonly der: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** What was certified (after overrides): for the certificate record and the audit event. */
  readonly subject: string;
  readonly sans: Sans;
  readonly keyType: string;
}

// ------------------------------------------------------------------ the pipeline steps

/** CSR checks: a verified CSR, asking only for names Keyward certifies (unless the names come from elsewhere). */
export function checkCsr(csr: Csr, sansOverridden: boolean): void {
  if (!isVerifiedCsr(csr)) throw new TypeError('issueCertificate needs a Csr made by parseCsr (its proof of possession verified)');
  if (!sansOverridden && csr.unsupportedSans.length) {
    throw new KeywardError(
      'policy.san_not_allowed',
      `The CSR asks for ${[...new Set(csr.unsupportedSans)].join(', ')} names; Keyward certifies DNS, IP, URI and e-mail names only`,
      {
        extras: { san: csr.unsupportedSans[0] },
      },
    );
  }
}

/**
 * The policy validators, in a fixed order (key, subject, SANs, validity), and
 * the rule that a certificate names something. Issuance runs them itself; a
 * request that waits for approval runs them when it is made, so a pending
 * request is one that would be issued.
 * @example enforcePolicy(policy, { keyType: csr.keyType, subject: csr.subject, sans: csr.sans, validitySeconds: 30 * 86_400 });
 */
export function enforcePolicy(
  policy: Policy,
  request: { keyType: string; subject: readonly NameAttribute[]; sans: Sans; validitySeconds: number },
): void {
  validateKey(policy, request.keyType);
  validateSubject(policy, request.subject);
  validateSans(policy, request.sans);
  validateValidity(policy, request.validitySeconds);
  if (request.subject.length === 0 && sanCount(request.sans) === 0) {
    throw new KeywardError('policy.subject_not_allowed', 'A certificate needs a subject or at least one subject alternative name', {
      extras: { attribute: 'CN' },
    });
  }
}

/** What a certificate will certify, once the CSR checks and the policy validators have passed. */
export interface CheckedRequest {
  readonly csr: Csr;
  readonly policy: Policy;
  readonly subject: readonly NameAttribute[];
  readonly sans: Sans;
  readonly validitySeconds: number;
}

const checkedRequests = new WeakSet<CheckedRequest>();

/**
 * Steps 1 and 2 of the pipeline: the CSR checks and the policy validators,
 * run once. A request that waits for approval stops here and is checked again
 * when it is approved (the policy may have changed meanwhile).
 * @example const checked = checkRequest({ csr, policy, validitySeconds: 30 * 86_400 });
 * @throws KeywardError policy.key_not_allowed, policy.subject_not_allowed, policy.san_not_allowed,
 *   policy.validity_exceeded, validity.too_short, request.malformed (validity); TypeError for an unverified Csr
 */
export function checkRequest(
  r: Pick<IssueRequest, 'csr' | 'policy' | 'validitySeconds' | 'validityDays' | 'subjectOverride' | 'sansOverride'>,
): CheckedRequest {
  checkCsr(r.csr, r.sansOverride !== undefined);
  if ((r.validitySeconds === undefined) === (r.validityDays === undefined))
    throw new TypeError('checkRequest takes validitySeconds or validityDays (one of them)');
  const days = r.validityDays;
  if (days !== undefined && (typeof days !== 'number' || !Number.isInteger(days) || days < 1))
    throw new KeywardError('request.malformed', `validityDays must be a positive whole number of days, not ${String(days)}`, {
      extras: { path: '/validityDays' },
    });
  const validitySeconds = r.validitySeconds ?? days! * 86_400;
  const subject = r.subjectOverride ?? r.csr.subject;
  const sans = r.sansOverride ?? r.csr.sans;
  enforcePolicy(r.policy, { keyType: r.csr.keyType, subject, sans, validitySeconds });
  const checked: CheckedRequest = Object.freeze({ csr: r.csr, policy: r.policy, subject, sans, validitySeconds });
  checkedRequests.add(checked);
  return checked;
}

/**
 * Step 3: the policy's leaf profile, signed by the CA through the one writer.
 * notBefore is `now` (whole seconds); notAfter is notBefore + validitySeconds,
 * but never later than the CA's own notAfter.
 * @example
 * const checked = checkRequest({ csr, policy, validitySeconds: 30 * 86_400 });
 * const issued = await signRequest(checked, { ca, serialHex, now, crlUrl, ocspUrl });
 * @throws TypeError on misuse: a request checkRequest did not return, a bad serial or URL, a CA not valid at `now`
 */
export async function signRequest(
  c: CheckedRequest,
  o: Pick<IssueRequest, 'ca' | 'serialHex' | 'now' | 'crlUrl' | 'ocspUrl'>,
): Promise<IssuedCertificate> {
  if (!checkedRequests.has(c)) throw new TypeError('signRequest needs a request made by checkRequest (the validators passed)');
  const t = o.now.getTime();
  if (!(t >= o.ca.notBefore.getTime() && t < o.ca.notAfter.getTime())) throw new TypeError('the CA is not valid at `now`');
  const notBefore = new Date(t - (t % 1000));
  let notAfter = new Date(notBefore.getTime() + c.validitySeconds * 1000);
  if (notAfter > o.ca.notAfter) notAfter = o.ca.notAfter; // never outlive the CA (RFC 5280 path validation)
  const { der, pem } = await signCertificate({
    issuer: o.ca,
    profile: leafProfile(c.policy),
    subject: c.subject,
    sans: c.sans,
    spki: c.csr.spki,
    serialHex: o.serialHex,
    notBefore,
    notAfter,
    pointers: { crlUrl: o.crlUrl, ocspUrl: o.ocspUrl },
  });
  return {
    serialHex: o.serialHex,
    certificatePem: pem,
    der,
    notBefore,
    notAfter,
    subject: formatName(c.subject),
    sans: c.sans,
    keyType: c.csr.keyType,
  };
}

/**
 * Issues an end-entity certificate: {@link checkRequest} then {@link signRequest}.
 * @example
 * const csr = parseCsr(pem);
 * const cert = await issueCertificate({ ca, csr, policy, validitySeconds: 30 * 86_400, serialHex: newSerialHex(), now: clock.now(),
 *   crlUrl: 'https://keyward.example/v1/realms/demo/crl', ocspUrl: 'https://keyward.example/v1/ocsp' });
 * @throws KeywardError policy.key_not_allowed, policy.subject_not_allowed, policy.san_not_allowed,
 *   policy.validity_exceeded, validity.too_short, request.malformed (validity); TypeError on misuse (an unverified
 *   Csr, a bad serial or URL, a CA not valid at `now`)
 */
export async function issueCertificate(r: IssueRequest): Promise<IssuedCertificate> {
  return signRequest(checkRequest(r), r);
}
