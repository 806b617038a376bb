/**
 * PKCS#10 certificate signing requests (RFC 2986), as issuance sees them: a
 * readonly value whose proof of possession has been verified.
 *
 * The CSR is decoded by the strict DER reader rather than through the
 * @peculiar/asn1-csr object model: decoding a CSR with the schema costs more
 * than verifying its signature (≈ 100 µs against ≈ 65 µs), and this
 * runs on every issuance. test/unit/ca/csr.test.ts holds the reader to the
 * library: for every fixture both decode the same subject, SANs and key.
 * The signature is verified with synchronous node:crypto.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';
import { CSR_SIGNATURE_DIGESTS } from './algorithms.ts';
import {
  DerError,
  children,
  contents,
  expectTag,
  readOid,
  readOctetAlignedBits,
  readRoot,
  readSmallInteger,
  readTlv,
  whole,
  type Tlv,
} from './der/reader.ts';
import { TAG } from './der/writer.ts';
import { keyTypeOfSpki } from './keys.ts';
import { decodeName, type NameAttribute } from './name.ts';
import { OID } from './oids.ts';
import { fromPem, toPem } from './pem.ts';
import { bytesToIp, type Sans } from './san.ts';

/** A CSR whose signature verified with its own public key. */
export interface Csr {
  /** Subject attributes in order (multi-valued RDNs flattened). */
  readonly subject: readonly NameAttribute[];
  /** The names of the CSR's subjectAltName extension request, by kind. */
  readonly sans: Sans;
  /** Kinds of names the CSR asks for that Keyward does not certify (`otherName`, `directoryName`, …). */
  readonly unsupportedSans: readonly string[];
  /** SubjectPublicKeyInfo DER, exactly as in the CSR. */
  readonly spki: Uint8Array;
  /** `EC-P256`, `EC-P384`, `RSA-2048`, …, or a description of a key no policy allows (see keyTypeOf). */
  readonly keyType: string;
  /** OID of the CSR's signature algorithm. */
  readonly signatureAlgorithm: string;
  readonly der: Uint8Array;
  readonly pem: string;
}

/** Upper bound on a CSR's size: real ones are under 2 KiB even with RSA-4096 and many names. */
export const MAX_CSR_BYTES = 64 * 1024;

const verified = new WeakSet<Csr>();

/** True for Csr values made by {@link parseCsr} (their proof of possession was checked). */
export const isVerifiedCsr = (csr: Csr): boolean => verified.has(csr);

const GENERAL_NAME_KINDS: Readonly<Record<number, string>> = {
  0xa0: 'otherName',
  0x81: 'rfc822Name',
  0x82: 'dNSName',
  0xa3: 'x400Address',
  0xa4: 'directoryName',
  0xa5: 'ediPartyName',
  0x86: 'uniformResourceIdentifier',
  0x87: 'iPAddress',
  0x88: 'registeredID',
};

const malformed = (detail: string, cause?: unknown): KeywardError =>
  new KeywardError('csr.malformed', `The CSR is malformed: ${detail}`, cause === undefined ? {} : { cause });

function toDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new TypeError('parseCsr takes a PEM string or DER bytes');
  if (input.length > MAX_CSR_BYTES * 2) throw malformed(`it is larger than ${MAX_CSR_BYTES} bytes`);
  let text: string | undefined;
  if (typeof input === 'string') text = input;
  else if (input.length > 11 && Buffer.from(input.buffer, input.byteOffset, 11).toString('latin1') === '-----BEGIN ')
    text = Buffer.from(input).toString('latin1');
  let der: Uint8Array | undefined;
  if (text === undefined)
    der = (input as Uint8Array).slice(); // our own copy: the Csr is immutable
  else if (text.includes('-----BEGIN')) der = fromPem(text, /(?:NEW )?CERTIFICATE REQUEST/);
  else if (/^[A-Za-z0-9+/\s]+={0,2}\s*$/.test(text)) der = new Uint8Array(Buffer.from(text, 'base64'));
  if (!der || der.length === 0) throw malformed('expected a PEM "CERTIFICATE REQUEST" block or DER');
  if (der.length > MAX_CSR_BYTES) throw malformed(`it is larger than ${MAX_CSR_BYTES} bytes`);
  return der;
}

function ascii(buf: Uint8Array, t: Tlv, what: string): string {
  const b = contents(buf, t);
  for (const c of b) if (c < 0x20 || c > 0x7e) throw new DerError(`${what} contains a non-printable or non-ASCII octet`);
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

interface Requested {
  dns: string[];
  ip: string[];
  uri: string[];
  email: string[];
  unsupported: string[];
}

function readSubjectAltName(buf: Uint8Array, value: Tlv, into: Requested): void {
  const names = readTlv(buf, value.body, value.end);
  if (names.end !== value.end) throw new DerError('trailing data in subjectAltName');
  expectTag(names, TAG.SEQUENCE, 'GeneralNames');
  const list = children(buf, names);
  if (list.length === 0) throw new DerError('empty subjectAltName');
  for (const n of list) {
    switch (n.tag) {
      case 0x82:
        into.dns.push(ascii(buf, n, 'a dNSName'));
        break;
      case 0x87:
        into.ip.push(bytesToIp(contents(buf, n)));
        break;
      case 0x86:
        into.uri.push(ascii(buf, n, 'a URI'));
        break;
      case 0x81:
        into.email.push(ascii(buf, n, 'an rfc822Name'));
        break;
      default: {
        const kind = GENERAL_NAME_KINDS[n.tag];
        if (!kind) throw new DerError(`unknown GeneralName tag 0x${n.tag.toString(16)}`);
        into.unsupported.push(kind);
      }
    }
  }
}

/** Attributes [0] IMPLICIT SET OF Attribute; only extensionRequest → subjectAltName matters to issuance. */
function readAttributes(buf: Uint8Array, attrs: Tlv, into: Requested): void {
  let sawExtensions = false;
  for (const attr of children(buf, attrs)) {
    expectTag(attr, TAG.SEQUENCE, 'Attribute');
    const [type, values, ...rest] = children(buf, attr);
    if (!type || !values || rest.length) throw new DerError('an Attribute must have a type and a value set');
    expectTag(values, TAG.SET, 'Attribute values');
    if (readOid(buf, type) !== OID.extensionRequest) continue;
    if (sawExtensions) throw new DerError('two extensionRequest attributes');
    sawExtensions = true;
    const [exts, ...more] = children(buf, values);
    if (!exts || more.length) throw new DerError('extensionRequest must hold exactly one Extensions value');
    expectTag(exts, TAG.SEQUENCE, 'Extensions');
    const seen = new Set<string>();
    for (const ext of children(buf, exts)) {
      expectTag(ext, TAG.SEQUENCE, 'Extension');
      const parts = children(buf, ext);
      if (parts.length < 2 || parts.length > 3) throw new DerError('an Extension has two or three fields');
      const id = readOid(buf, expectTag(parts[0], TAG.OID, 'extnID'));
      if (seen.has(id)) throw new DerError(`extension ${id} requested twice`);
      seen.add(id);
      if (parts.length === 3) expectTag(parts[1], TAG.BOOLEAN, 'critical');
      const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
      // Key usage and extended key usage requests are ignored on purpose: they come from the policy.
      if (id === OID.subjectAltName) readSubjectAltName(buf, value, into);
    }
  }
}

/** What proving possession needs: the signed bytes, the digest, the key and the signature. */
export interface CsrSignatureCheck {
  /** node:crypto digest name, or null when the algorithm hashes itself (Ed25519). */
  readonly digest: string | null;
  /** certificationRequestInfo DER. */
  readonly tbs: Uint8Array;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  /** The signature BIT STRING contents. */
  readonly signature: Uint8Array;
}

/** The outcome of a signature check: `unusable-key` when node:crypto cannot load the key. */
export type CsrSignatureResult = 'valid' | 'invalid' | 'unusable-key';

function publicKeyOf(spki: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.length), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** Verifies a CSR's signature with its own public key (synchronous node:crypto). */
export function verifyCsrSignature(check: CsrSignatureCheck): CsrSignatureResult {
  const key = publicKeyOf(check.spki);
  if (!key) return 'unusable-key';
  try {
    return verify(check.digest, check.tbs, key, check.signature) ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}

/**
 * Checks a CSR's signature as {@link verifyCsrSignature} does, possibly
 * elsewhere (crypto/offload.ts runs verifyCsrSignature on a worker thread
 * under load); it must give the same answer.
 */
export type CsrSignatureVerifier = (check: CsrSignatureCheck) => CsrSignatureResult | Promise<CsrSignatureResult>;

interface DecodedCsr {
  readonly der: Uint8Array;
  readonly subject: NameAttribute[];
  readonly requested: Requested;
  readonly spki: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly check: CsrSignatureCheck | undefined;
}

function decodeCsr(input: string | Uint8Array): DecodedCsr {
  const der = toDer(input);
  let subject: NameAttribute[];
  let spki: Uint8Array;
  let tbs: Uint8Array;
  let signatureAlgorithm: string;
  let signature: Uint8Array;
  const requested: Requested = { dns: [], ip: [], uri: [], email: [], unsupported: [] };
  try {
    const root = readRoot(der, TAG.SEQUENCE);
    const [info, sigAlg, sig, ...extra] = children(der, root);
    if (extra.length) throw new DerError('CertificationRequest has more than three fields');
    expectTag(info, TAG.SEQUENCE, 'certificationRequestInfo');
    const [version, name, pki, attrs, ...more] = children(der, info!);
    if (more.length) throw new DerError('certificationRequestInfo has more than four fields');
    if (readSmallInteger(der, expectTag(version, TAG.INTEGER, 'version')) !== 0) throw new DerError('unknown CSR version');
    subject = decodeName(der, expectTag(name, TAG.SEQUENCE, 'subject'));
    expectTag(pki, TAG.SEQUENCE, 'subjectPKInfo');
    const [keyAlg, keyBits, ...pkiMore] = children(der, pki!);
    if (pkiMore.length) throw new DerError('subjectPKInfo has more than two fields');
    expectTag(keyAlg, TAG.SEQUENCE, 'subjectPKInfo algorithm');
    readOctetAlignedBits(der, expectTag(keyBits, TAG.BIT_STRING, 'subjectPublicKey'));
    spki = whole(der, pki!);
    readAttributes(der, expectTag(attrs, 0xa0, 'attributes'), requested);
    expectTag(sigAlg, TAG.SEQUENCE, 'signatureAlgorithm');
    signatureAlgorithm = readOid(der, expectTag(children(der, sigAlg!)[0], TAG.OID, 'signature algorithm'));
    signature = readOctetAlignedBits(der, expectTag(sig, TAG.BIT_STRING, 'signature'));
    tbs = whole(der, info!);
  } catch (err) {
    if (err instanceof DerError) throw malformed(err.message, err);
    throw err;
  }
  const digest = CSR_SIGNATURE_DIGESTS[signatureAlgorithm];
  return { der, subject, requested, spki, signatureAlgorithm, check: digest === undefined ? undefined : { digest, tbs, spki, signature } };
}

const unusableKey = (): KeywardError =>
  new KeywardError('policy.key_not_allowed', 'The CSR carries a public key of a type Keyward cannot use', {
    extras: { keyType: 'unknown' },
  });

/** The refusal of a CSR whose signature algorithm cannot prove possession (no digest known for it). */
function noProof(d: DecodedCsr): KeywardError {
  if (!publicKeyOf(d.spki)) return unusableKey();
  const keyType = keyTypeOfSpki(d.spki); // only once node:crypto has loaded the key
  if (!/^(EC|RSA)-/.test(keyType)) {
    // DSA, GOST, …: no policy can allow the key, and that is the more useful answer.
    return new KeywardError('policy.key_not_allowed', `The CSR carries a ${keyType} key, which Keyward does not certify`, {
      extras: { keyType },
    });
  }
  return new KeywardError(
    'csr.bad_signature',
    `The CSR is signed with ${d.signatureAlgorithm}, which cannot prove possession (use ECDSA or RSA with SHA-256 or stronger)`,
    {
      extras: { signatureAlgorithm: d.signatureAlgorithm },
    },
  );
}

function verifiedCsr(d: DecodedCsr, result: CsrSignatureResult): Csr {
  if (result === 'unusable-key') throw unusableKey();
  if (result !== 'valid')
    throw new KeywardError('csr.bad_signature', 'The CSR signature does not verify with its own public key (no proof of possession)');
  const csr: Csr = Object.freeze({
    subject: Object.freeze(d.subject),
    sans: Object.freeze({
      dns: Object.freeze(d.requested.dns),
      ip: Object.freeze(d.requested.ip),
      uri: Object.freeze(d.requested.uri),
      email: Object.freeze(d.requested.email),
    }),
    unsupportedSans: Object.freeze(d.requested.unsupported),
    spki: d.spki,
    keyType: keyTypeOfSpki(d.spki), // the key loaded (the signature verified with it)
    signatureAlgorithm: d.signatureAlgorithm,
    der: d.der,
    pem: toPem(d.der, 'CERTIFICATE REQUEST'),
  });
  verified.add(csr);
  return csr;
}

/**
 * Decodes a PEM or DER CSR and verifies its signature with its own public key.
 * @example
 * const csr = parseCsr(pem);
 * csr.keyType // 'EC-P256'
 * csr.sans.dns // ['api.apps.example.internal']
 * @throws KeywardError csr.malformed (not PEM/DER PKCS#10), csr.bad_signature (no proof of
 *   possession, or a digest too weak to prove it), policy.key_not_allowed (a public key node:crypto cannot load)
 */
export function parseCsr(input: string | Uint8Array): Csr {
  const d = decodeCsr(input);
  if (!d.check) throw noProof(d);
  return verifiedCsr(d, verifyCsrSignature(d.check));
}

/**
 * {@link parseCsr} with the signature checked by `verifier` (on a worker
 * thread under load): same checks, same order, same errors.
 */
export async function parseCsrAsync(input: string | Uint8Array, verifier: CsrSignatureVerifier): Promise<Csr> {
  const d = decodeCsr(input);
  if (!d.check) throw noProof(d);
  return verifiedCsr(d, await verifier(d.check));
}

/**
 * A request for a key whose possession was proven another way: the TLS
 * handshake of a renewal authenticated by the certificate being renewed (as
 * step-ca's `step ca renew` does). It carries the certificate's key and no
 * names — a renewal certifies the names of the certificate it renews — and no
 * CSR encoding (der and pem are empty).
 * @example const csr = certifiedKeyRequest(decodeCertificate(peerDer).spki);
 * @throws KeywardError policy.key_not_allowed for a key node:crypto cannot load
 */
export function certifiedKeyRequest(spki: Uint8Array): Csr {
  if (!publicKeyOf(spki)) throw unusableKey();
  const csr: Csr = Object.freeze({
    subject: Object.freeze([]),
    sans: Object.freeze({ dns: Object.freeze([]), ip: Object.freeze([]), uri: Object.freeze([]), email: Object.freeze([]) }),
    unsupportedSans: Object.freeze([]),
    spki,
    keyType: keyTypeOfSpki(spki),
    signatureAlgorithm: '',
    der: new Uint8Array(0),
    pem: '',
  });
  verified.add(csr);
  return csr;
}
