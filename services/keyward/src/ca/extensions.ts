/**
 * DER of the X.509 extensions Keyward writes (RFC 5280 §4.2 and §5.2–5.3),
 * each a complete `Extension` TLV. The builders are small and pure so the
 * hot path can precompute the constant ones per CA, per policy and per URL.
 */
import {
  enumerated,
  extension,
  implicitIa5,
  integer,
  namedBitString,
  octetString,
  oid,
  sequence,
  tlv,
  tlvOf,
  contextConstructed,
  contextPrimitive,
  TAG,
  TRUE,
} from './der/writer.ts';
import { OID } from './oids.ts';
import { encodeSans, type Sans } from './san.ts';

/** basicConstraints, always critical (§4.2.1.9 requires it in CA certificates; we mark leaves the same way). */
export function basicConstraints(ca: boolean, pathLength?: number): Buffer {
  const fields: Buffer[] = [];
  if (ca) fields.push(TRUE);
  if (ca && pathLength !== undefined) fields.push(integer(pathLength));
  return extension(OID.basicConstraints, true, tlvOf(TAG.SEQUENCE, fields));
}

/** keyUsage (§4.2.1.3: SHOULD be critical), from bit numbers. */
export const keyUsage = (bits: Iterable<number>): Buffer => extension(OID.keyUsage, true, namedBitString(bits));

/** extKeyUsage (§4.2.1.12), non-critical: purposes as OIDs, in the order given. */
export const extendedKeyUsage = (oids: readonly string[]): Buffer => extension(OID.extKeyUsage, false, tlvOf(TAG.SEQUENCE, oids.map(oid)));

/** subjectKeyIdentifier (§4.2.1.2). */
export const subjectKeyIdentifier = (keyId: Uint8Array): Buffer => extension(OID.subjectKeyIdentifier, false, octetString(keyId));

/** authorityKeyIdentifier with keyIdentifier [0] only (§4.2.1.1). */
export const authorityKeyIdentifier = (keyId: Uint8Array): Buffer =>
  extension(OID.authorityKeyIdentifier, false, sequence(tlv(contextPrimitive(0), keyId)));

/** subjectAltName (§4.2.1.6): critical exactly when the subject is empty. */
export const subjectAltName = (sans: Sans, critical: boolean): Buffer => extension(OID.subjectAltName, critical, encodeSans(sans));

/** cRLDistributionPoints (§4.2.1.13): one DistributionPoint with a fullName URI. */
export function crlDistributionPoints(url: string): Buffer {
  // DistributionPoint { distributionPoint [0] (a CHOICE: explicit) { fullName [0] IMPLICIT GeneralNames { [6] URI } } }
  return extension(
    OID.cRLDistributionPoints,
    false,
    sequence(sequence(tlv(contextConstructed(0), tlv(contextConstructed(0), implicitIa5(6, url))))),
  );
}

/** authorityInfoAccess (§4.2.2.1) with the OCSP responder and, optionally, where the issuer's certificate is. */
export function authorityInfoAccess(ocspUrl: string, caIssuersUrl?: string): Buffer {
  const access = [sequence(oid(OID.ocsp), implicitIa5(6, ocspUrl))];
  if (caIssuersUrl) access.push(sequence(oid(OID.caIssuers), implicitIa5(6, caIssuersUrl)));
  return extension(OID.authorityInfoAccess, false, tlvOf(TAG.SEQUENCE, access));
}

/** cRLNumber (§5.2.3), non-critical. */
export const crlNumber = (n: bigint): Buffer => extension(OID.cRLNumber, false, integer(n));

/** reasonCode CRL entry extension (§5.3.1), non-critical. */
export const crlReason = (code: number): Buffer => extension(OID.cRLReason, false, enumerated(code));

/** deltaCRLIndicator (§5.2.4), critical: the cRLNumber of the complete CRL a delta CRL updates (its base). */
export const deltaCrlIndicator = (baseCrlNumber: bigint): Buffer => extension(OID.deltaCRLIndicator, true, integer(baseCrlNumber));

/** freshestCRL (§5.2.6), non-critical: where the delta CRL is, with cRLDistributionPoints' syntax (one fullName URI). */
export function freshestCrl(url: string): Buffer {
  return extension(OID.freshestCRL, false, sequence(sequence(tlv(contextConstructed(0), tlv(contextConstructed(0), implicitIa5(6, url))))));
}
