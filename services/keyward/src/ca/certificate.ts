/**
 * X.509 certificate plumbing shared by the CA and leaf paths: decoding the
 * parts of a certificate Keyward needs (exact bytes where they are copied,
 * e.g. the subject name a CA puts into the issuer field of what it signs) and
 * assembling a signed certificate from a TBSCertificate.
 */
import { createHash } from 'node:crypto';
import {
  DerError,
  children,
  contents,
  expectTag,
  readOctetAlignedBits,
  readOid,
  readRoot,
  readSmallInteger,
  readTime,
  readTlv,
  readUnsignedHex,
  whole,
} from './der/reader.ts';
import { bitString, sequence, TAG } from './der/writer.ts';
import { decodeName, type NameAttribute } from './name.ts';
import { OID } from './oids.ts';

export interface DecodedCertificate {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly serialHex: string;
  /** Raw DER of the issuer and subject Names. */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly subject: readonly NameAttribute[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  /** The subjectPublicKey BIT STRING contents (what key identifiers and OCSP key hashes digest). */
  readonly publicKeyBits: Uint8Array;
  readonly extensions: ReadonlyMap<string, { readonly critical: boolean; readonly value: Uint8Array }>;
  readonly signatureAlgorithm: string;
}

/** Decodes a DER certificate; DerError when it is not one. */
export function decodeCertificate(der: Uint8Array): DecodedCertificate {
  const root = readRoot(der, TAG.SEQUENCE);
  const [tbsTlv, sigAlg, sig, ...extra] = children(der, root);
  if (extra.length || !sig) throw new DerError('a Certificate has three fields');
  expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate');
  readOctetAlignedBits(der, expectTag(sig, TAG.BIT_STRING, 'signatureValue'));
  const f = children(der, tbsTlv!);
  let i = 0;
  if (f[0]?.tag === 0xa0) {
    const v = children(der, f[0]);
    if (v.length !== 1 || readSmallInteger(der, expectTag(v[0], TAG.INTEGER, 'version')) !== 2)
      throw new DerError('only X.509 v3 certificates are used here');
    i = 1;
  } else throw new DerError('only X.509 v3 certificates are used here');
  const serialHex = readUnsignedHex(der, expectTag(f[i], TAG.INTEGER, 'serialNumber'));
  expectTag(f[i + 1], TAG.SEQUENCE, 'signature');
  const issuer = expectTag(f[i + 2], TAG.SEQUENCE, 'issuer');
  const validity = children(der, expectTag(f[i + 3], TAG.SEQUENCE, 'validity'));
  if (validity.length !== 2) throw new DerError('validity has two fields');
  const subjectTlv = expectTag(f[i + 4], TAG.SEQUENCE, 'subject');
  const spkiTlv = expectTag(f[i + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const [, keyBits] = children(der, spkiTlv);
  const publicKeyBits = readOctetAlignedBits(der, expectTag(keyBits, TAG.BIT_STRING, 'subjectPublicKey'));
  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  for (const t of f.slice(i + 6)) {
    if (t.tag !== 0xa3) continue; // issuer/subject unique ids
    const [list] = children(der, t);
    for (const ext of children(der, expectTag(list, TAG.SEQUENCE, 'extensions'))) {
      const parts = children(der, ext);
      const id = readOid(der, expectTag(parts[0], TAG.OID, 'extnID'));
      const critical = parts.length === 3 && expectTag(parts[1], TAG.BOOLEAN, 'critical') && der[parts[1]!.body] !== 0;
      const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
      if (extensions.has(id)) throw new DerError(`extension ${id} appears twice`);
      extensions.set(id, { critical, value: contents(der, value) });
    }
  }
  return {
    der,
    tbs: whole(der, tbsTlv!),
    serialHex,
    issuerDer: whole(der, issuer),
    subjectDer: whole(der, subjectTlv),
    subject: decodeName(der, subjectTlv),
    notBefore: readTime(der, validity[0]!),
    notAfter: readTime(der, validity[1]!),
    spki: whole(der, spkiTlv),
    publicKeyBits,
    extensions,
    signatureAlgorithm: readOid(
      der,
      expectTag(children(der, expectTag(sigAlg, TAG.SEQUENCE, 'signatureAlgorithm'))[0], TAG.OID, 'algorithm'),
    ),
  };
}

/** basicConstraints (RFC 5280 §4.2.1.9): cA and pathLenConstraint. */
export function basicConstraintsOf(cert: DecodedCertificate): { ca: boolean; pathLength: number | undefined } | undefined {
  const ext = cert.extensions.get(OID.basicConstraints);
  if (!ext) return undefined;
  const v = ext.value;
  const seq = readTlv(v, 0, v.length);
  const fields = children(v, expectTag(seq, TAG.SEQUENCE, 'BasicConstraints'));
  let ca = false;
  let pathLength: number | undefined;
  for (const f of fields) {
    if (f.tag === TAG.BOOLEAN) ca = v[f.body] !== 0;
    else if (f.tag === TAG.INTEGER) pathLength = readSmallInteger(v, f);
  }
  return { ca, pathLength };
}

/** keyUsage bits (RFC 5280 §4.2.1.3) as a set of bit numbers, or undefined when absent. */
export function keyUsageBitsOf(cert: DecodedCertificate): Set<number> | undefined {
  const ext = cert.extensions.get(OID.keyUsage);
  if (!ext) return undefined;
  const t = expectTag(readTlv(ext.value, 0, ext.value.length), TAG.BIT_STRING, 'KeyUsage');
  const bits = new Set<number>();
  const b = contents(ext.value, t);
  for (let i = 1; i < b.length; i++) for (let j = 0; j < 8; j++) if (b[i]! & (0x80 >> j)) bits.add((i - 1) * 8 + j);
  return bits;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
export const keyIdentifier = (publicKeyBits: Uint8Array): Buffer => createHash('sha1').update(publicKeyBits).digest();

/** The certificate's subjectKeyIdentifier, or the §4.2.1.2 method (1) identifier when it has none. */
export function subjectKeyIdOf(cert: DecodedCertificate): Uint8Array {
  const ext = cert.extensions.get(OID.subjectKeyIdentifier);
  if (!ext) return keyIdentifier(cert.publicKeyBits);
  return contents(ext.value, expectTag(readTlv(ext.value, 0, ext.value.length), TAG.OCTET_STRING, 'SubjectKeyIdentifier'));
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING } (also CertificateList). */
export function assembleSigned(tbs: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array): Buffer {
  return sequence(tbs, signatureAlgorithm, bitString(signature));
}
