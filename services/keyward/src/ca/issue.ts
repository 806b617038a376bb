/**
 * Certificate issuance — the hot path (issue 4 §3, issue 6).
 *
 * One fixed pipeline (STYLE.md rule 9, after step-ca's signX509):
 *
 *   CSR checks       proof of possession (a Csr only exists once parseCsr verified it),
 *                    SAN kinds Keyward certifies
 *   → validators     key, subject, SANs, validity — one named rule each (./policy/validators/)
 *   → template       end-entity profile; key usage and EKU from the policy, never from the CSR
 *   → sign           through the CA's CaSigner
 *
 * The template is written directly as DER: everything that does not vary
 * between two certificates of one CA (version, signature algorithm, issuer
 * name, AKI), one policy (keyUsage, extKeyUsage) or one URL (CRL distribution
 * point, AIA) is encoded once and copied. test/unit/ca/issue.test.ts proves
 * the TBSCertificate byte-identical to @peculiar/x509's
 * X509CertificateGenerator for the same inputs (the whole certificate with an
 * RSA CA, whose signatures are deterministic), and openssl verifies the chains.
 *
 * Extensions, in this order: basicConstraints cA=false (critical), keyUsage
 * (critical), extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier,
 * subjectAltName (critical when the subject is empty, RFC 5280 §4.2.1.6),
 * cRLDistributionPoints, authorityInfoAccess (OCSP).
 */
import { KeywardError } from '../kernel/errors.ts';
import { assembleSigned, keyIdentifier } from './certificate.ts';
import type { CaContext } from './ca_context.ts';
import { isVerifiedCsr, type Csr } from './csr.ts';
import { children, readOctetAlignedBits, readTlv } from './der/reader.ts';
import { explicit, integerFromHex, sequence, time, tlvOf, TAG } from './der/writer.ts';
import {
  authorityInfoAccess,
  basicConstraints,
  crlDistributionPoints,
  extendedKeyUsage,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from './extensions.ts';
import { encodeName, formatName, type NameAttribute } from './name.ts';
import { EKU_OIDS, KEY_USAGE_BITS } from './oids.ts';
import { toPem } from './pem.ts';
import type { Policy } from './policy/policy.ts';
import { validateKey } from './policy/validators/key.ts';
import { validateSans } from './policy/validators/san.ts';
import { validateSubject } from './policy/validators/subject.ts';
import { validateValidity } from './policy/validators/validity.ts';
import { sanCount, type Sans } from './san.ts';

export interface IssueRequest {
  /** The issuing CA. */
  readonly ca: CaContext;
  /** A CSR from parseCsr: the certified key is its key. */
  readonly csr: Csr;
  readonly policy: Policy;
  readonly validityDays: number;
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

const DAY = 86_400_000;
const VERSION_3 = explicit(0, Buffer.from([TAG.INTEGER, 1, 2]));
const BASIC_CONSTRAINTS_LEAF = basicConstraints(false);
const SERIAL = /^[0-9a-f]{1,40}$/;

/** RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets (sign octet included). */
export function checkSerial(serialHex: string): void {
  const s = typeof serialHex === 'string' ? serialHex.replace(/^0+/, '') : '';
  if (!SERIAL.test(serialHex) || s.length === 0 || (s.length === 40 && s[0]! >= '8')) {
    throw new TypeError('serialHex must be positive lowercase hex of at most 20 octets (newSerialHex())');
  }
}

// ------------------------------------------------------------------ per-policy and per-URL constants

const policyExtensions = new WeakMap<Policy, Buffer[]>();

/** keyUsage and extKeyUsage from the policy (never from the CSR); cached for frozen policies. */
function usageExtensions(policy: Policy): Buffer[] {
  const cached = policyExtensions.get(policy);
  if (cached) return cached;
  const out: Buffer[] = [];
  if (policy.keyUsage.length) out.push(keyUsage(policy.keyUsage.map((u) => KEY_USAGE_BITS[u])));
  if (policy.extendedKeyUsage.length) out.push(extendedKeyUsage(policy.extendedKeyUsage.map((e) => EKU_OIDS[e])));
  if (Object.isFrozen(policy) && Object.isFrozen(policy.keyUsage) && Object.isFrozen(policy.extendedKeyUsage))
    policyExtensions.set(policy, out);
  return out;
}

const urlExtensions = new Map<string, Buffer>();

function checkUrl(url: string, what: string): void {
  if (typeof url !== 'string' || !/^https?:\/\/[\x21-\x7e]+$/.test(url))
    throw new TypeError(`${what} must be an http(s) URL of printable ASCII`);
}

/** cRLDistributionPoints + authorityInfoAccess for a pair of URLs (a handful per installation). */
function revocationExtensions(crlUrl: string, ocspUrl: string): Buffer {
  const key = `${crlUrl}\n${ocspUrl}`;
  let der = urlExtensions.get(key);
  if (!der) {
    checkUrl(crlUrl, 'crlUrl');
    checkUrl(ocspUrl, 'ocspUrl');
    der = Buffer.concat([crlDistributionPoints(crlUrl), authorityInfoAccess(ocspUrl)]);
    if (urlExtensions.size > 1000) urlExtensions.clear();
    urlExtensions.set(key, der);
  }
  return der;
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
 * @example enforcePolicy(policy, { keyType: csr.keyType, subject: csr.subject, sans: csr.sans, validityDays: 30 });
 */
export function enforcePolicy(
  policy: Policy,
  request: { keyType: string; subject: readonly NameAttribute[]; sans: Sans; validityDays: number },
): void {
  validateKey(policy, request.keyType);
  validateSubject(policy, request.subject);
  validateSans(policy, request.sans);
  validateValidity(policy, request.validityDays);
  if (request.subject.length === 0 && sanCount(request.sans) === 0) {
    throw new KeywardError('policy.subject_not_allowed', 'A certificate needs a subject or at least one subject alternative name', {
      extras: { attribute: 'CN' },
    });
  }
}

function publicKeyBits(spki: Uint8Array): Uint8Array {
  const [, bits] = children(spki, readTlv(spki, 0));
  return readOctetAlignedBits(spki, bits!);
}

/** The end-entity TBSCertificate. */
function leafTemplate(r: IssueRequest, subject: readonly NameAttribute[], sans: Sans, notBefore: Date, notAfter: Date): Buffer {
  const exts: Uint8Array[] = [
    BASIC_CONSTRAINTS_LEAF,
    ...usageExtensions(r.policy),
    subjectKeyIdentifier(keyIdentifier(publicKeyBits(r.csr.spki))),
    r.ca.der.authorityKeyIdExtension,
  ];
  if (sanCount(sans)) exts.push(subjectAltName(sans, subject.length === 0));
  exts.push(revocationExtensions(r.crlUrl, r.ocspUrl));
  return sequence(
    VERSION_3,
    integerFromHex(r.serialHex),
    r.ca.der.signatureAlgorithm,
    r.ca.der.name,
    sequence(time(notBefore), time(notAfter)),
    encodeName(subject),
    r.csr.spki,
    explicit(3, tlvOf(TAG.SEQUENCE, exts)),
  );
}

/**
 * Issues an end-entity certificate.
 *
 * notBefore is `now` (whole seconds); notAfter is notBefore + validityDays,
 * but never later than the CA's own notAfter.
 * @example
 * const csr = parseCsr(pem);
 * const cert = await issueCertificate({ ca, csr, policy, validityDays: 30, serialHex: newSerialHex(), now: clock.now(),
 *   crlUrl: 'https://keyward.example/v1/realms/demo/crl', ocspUrl: 'https://keyward.example/v1/ocsp' });
 * @throws KeywardError policy.key_not_allowed, policy.subject_not_allowed, policy.san_not_allowed,
 *   policy.validity_exceeded, request.malformed (validityDays); TypeError on misuse (an unverified
 *   Csr, a bad serial or URL, a CA not valid at `now`)
 */
export async function issueCertificate(r: IssueRequest): Promise<IssuedCertificate> {
  // 1. CSR checks
  checkCsr(r.csr, r.sansOverride !== undefined);
  const subject = r.subjectOverride ?? r.csr.subject;
  const sans = r.sansOverride ?? r.csr.sans;
  // 2. policy validators
  enforcePolicy(r.policy, { keyType: r.csr.keyType, subject, sans, validityDays: r.validityDays });
  // 3. template
  checkSerial(r.serialHex);
  const t = r.now.getTime();
  if (!(t >= r.ca.notBefore.getTime() && t < r.ca.notAfter.getTime())) throw new TypeError('the CA is not valid at `now`');
  const notBefore = new Date(t - (t % 1000));
  let notAfter = new Date(notBefore.getTime() + r.validityDays * DAY);
  if (notAfter > r.ca.notAfter) notAfter = r.ca.notAfter;
  const tbs = leafTemplate(r, subject, sans, notBefore, notAfter);
  // 4. sign
  const der = assembleSigned(tbs, r.ca.der.signatureAlgorithm, await r.ca.signer.sign(tbs));
  return {
    serialHex: r.serialHex,
    certificatePem: toPem(der, 'CERTIFICATE'),
    der,
    notBefore,
    notAfter,
    subject: formatName(subject),
    sans,
    keyType: r.csr.keyType,
  };
}
