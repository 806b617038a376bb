/**
 * The one certificate writer: every certificate Keyward signs — leaves,
 * users' client certificates, root and issuing CAs, the offline `keyward ca`
 * and the development TLS certificate — is templated and signed here, from a
 * profile (./profiles.ts), through the issuer's CaSigner.
 *
 * The TBSCertificate is written directly as DER: everything that does not vary
 * between two certificates of one CA (version, signature algorithm, issuer
 * name, AKI), one profile (basicConstraints, keyUsage, extKeyUsage) or one URL
 * (CRL distribution point, AIA) is encoded once and copied.
 * test/unit/ca/issue.test.ts proves leaves byte-identical to @peculiar/x509's
 * certificate generator for the same inputs, and openssl verifies the chains.
 *
 * Extensions, in this order: basicConstraints (critical), keyUsage
 * (critical), extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier (not
 * in self-signed certificates), subjectAltName (critical when the subject is
 * empty, RFC 5280 §4.2.1.6), cRLDistributionPoints, authorityInfoAccess (OCSP).
 */
import { assembleSigned, keyIdentifier } from './certificate.ts';
import type { CaContext } from './ca_context.ts';
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
import { encodeName, type NameAttribute } from './name.ts';
import { EKU_OIDS, KEY_USAGE_BITS } from './oids.ts';
import { toPem } from './pem.ts';
import type { CaSigner } from './ports.ts';
import type { CertificateProfile } from './profiles.ts';
import { NO_SANS, sanCount, type Sans } from './san.ts';

/** Who signs: a loaded CA, or the certified key itself (a self-signed certificate). */
export type Issuer = CaContext | { readonly selfSigned: CaSigner };

/** Where a CA publishes revocation: written into certificates whose profile carries pointers. */
export interface RevocationPointers {
  /** This CA's CRL (cRLDistributionPoints). */
  readonly crlUrl: string;
  /** This CA's OCSP responder (authorityInfoAccess). */
  readonly ocspUrl: string;
}

export interface SignRequest {
  readonly issuer: Issuer;
  readonly profile: CertificateProfile;
  readonly subject: readonly NameAttribute[];
  readonly sans?: Sans | undefined;
  /** The certified key, SubjectPublicKeyInfo DER (for a self-signed certificate: the signer's). */
  readonly spki: Uint8Array;
  /** Lowercase hex, positive, at most 20 octets (newSerialHex()). */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Required when the profile carries revocation pointers. */
  readonly pointers?: RevocationPointers | undefined;
}

export interface SignedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
}

const VERSION_3 = explicit(0, Buffer.from([TAG.INTEGER, 1, 2]));
const SERIAL = /^[0-9a-f]{1,40}$/;

/** RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets (sign octet included). */
export function checkSerial(serialHex: string): void {
  const s = typeof serialHex === 'string' ? serialHex.replace(/^0+/, '') : '';
  if (!SERIAL.test(serialHex) || s.length === 0 || (s.length === 40 && s[0]! >= '8')) {
    throw new TypeError('serialHex must be positive lowercase hex of at most 20 octets (newSerialHex())');
  }
}

// ------------------------------------------------------------------ per-profile and per-URL constants

const profileExtensions = new WeakMap<CertificateProfile, Buffer[]>();

/** basicConstraints, keyUsage and extKeyUsage of a profile; cached for frozen profiles. */
function usageExtensions(p: CertificateProfile): Buffer[] {
  const cached = profileExtensions.get(p);
  if (cached) return cached;
  const out = [basicConstraints(p.ca, p.pathLength)];
  if (p.keyUsage.length) out.push(keyUsage(p.keyUsage.map((u) => KEY_USAGE_BITS[u])));
  if (p.extendedKeyUsage.length) out.push(extendedKeyUsage(p.extendedKeyUsage.map((e) => EKU_OIDS[e])));
  if (Object.isFrozen(p)) profileExtensions.set(p, out);
  return out;
}

const urlExtensions = new Map<string, Buffer>();

function checkUrl(url: string, what: string): void {
  if (typeof url !== 'string' || !/^https?:\/\/[\x21-\x7e]+$/.test(url))
    throw new TypeError(`${what} must be an http(s) URL of printable ASCII`);
}

/** cRLDistributionPoints + authorityInfoAccess for a pair of URLs (a handful per installation). */
function revocationExtensions(p: RevocationPointers): Buffer {
  const key = `${p.crlUrl}\n${p.ocspUrl}`;
  let der = urlExtensions.get(key);
  if (!der) {
    checkUrl(p.crlUrl, 'crlUrl');
    checkUrl(p.ocspUrl, 'ocspUrl');
    der = Buffer.concat([crlDistributionPoints(p.crlUrl), authorityInfoAccess(p.ocspUrl)]);
    if (urlExtensions.size > 1000) urlExtensions.clear();
    urlExtensions.set(key, der);
  }
  return der;
}

function publicKeyBits(spki: Uint8Array): Uint8Array {
  const [, bits] = children(spki, readTlv(spki, 0));
  return readOctetAlignedBits(spki, bits!);
}

// ------------------------------------------------------------------ the writer

/**
 * Templates a certificate from its profile and signs it with the issuer's key.
 * The caller decides the validity (see backdate() in ./profiles.ts); the
 * policy validators have run before (./issue.ts, the issuance actions).
 * @example
 * const { pem } = await signCertificate({ issuer: ca, profile: PROFILES.clientAuth, subject, spki, serialHex: newSerialHex(),
 *   notBefore, notAfter });
 * @throws TypeError on misuse: a bad serial or URL, a profile with pointers but none given, a self-signed
 *   request whose key is not the signer's
 */
export async function signCertificate(r: SignRequest): Promise<SignedCertificate> {
  checkSerial(r.serialHex);
  const sans = r.sans ?? NO_SANS;
  const self = 'selfSigned' in r.issuer;
  const signer = 'selfSigned' in r.issuer ? r.issuer.selfSigned : r.issuer.signer;
  if (self && !Buffer.from(signer.spki).equals(Buffer.from(r.spki)))
    throw new TypeError("a self-signed certificate certifies the signer's key");
  const subjectName = encodeName(r.subject);
  const exts: Uint8Array[] = [...usageExtensions(r.profile), subjectKeyIdentifier(keyIdentifier(publicKeyBits(r.spki)))];
  if (!('selfSigned' in r.issuer)) exts.push(r.issuer.der.authorityKeyIdExtension);
  if (sanCount(sans)) exts.push(subjectAltName(sans, r.subject.length === 0));
  if (r.profile.revocationPointers) {
    if (!r.pointers) throw new TypeError(`the ${r.profile.name} profile needs the CA's CRL and OCSP URLs`);
    exts.push(revocationExtensions(r.pointers));
  }
  const algorithm = 'selfSigned' in r.issuer ? signer.algorithm.der : r.issuer.der.signatureAlgorithm;
  const tbs = sequence(
    VERSION_3,
    integerFromHex(r.serialHex),
    algorithm,
    'selfSigned' in r.issuer ? subjectName : r.issuer.der.name,
    sequence(time(r.notBefore), time(r.notAfter)),
    subjectName,
    r.spki,
    explicit(3, tlvOf(TAG.SEQUENCE, exts)),
  );
  const der = assembleSigned(tbs, algorithm, await signer.sign(tbs));
  return { der, pem: toPem(der, 'CERTIFICATE') };
}
