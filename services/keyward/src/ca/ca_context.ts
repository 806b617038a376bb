/**
 * A CA ready to sign: its certificate, its signer, and the DER that every
 * certificate, CRL and OCSP response it signs repeats — computed once here,
 * not once per issuance.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';
import { basicConstraintsOf, decodeCertificate, subjectKeyIdOf, type DecodedCertificate } from './certificate.ts';
import { DerError } from './der/reader.ts';
import { authorityKeyIdentifier } from './extensions.ts';
import { sealedKeyStore } from './key_store.ts';
import { samePublicKey } from './keys.ts';
import { formatName, type NameAttribute } from './name.ts';
import { pemBlocks, toPem } from './pem.ts';
import type { CaKeyRef, CaKeyStore, CaRecord, CaSigner } from './ports.ts';
import { localSigner } from './signer.ts';

/** Digests an OCSP CertID may use (RFC 6960 §4.1.1; SHA-1 is what clients send by default). */
export type CertIdDigest = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface CaContext {
  readonly certificatePem: string;
  readonly certificateDer: Uint8Array;
  /** Certificates above this CA, nearest first, PEM. */
  readonly chainPem: readonly string[];
  readonly subject: readonly NameAttribute[];
  /** `CN=…, O=…` in certificate order. */
  readonly subjectName: string;
  readonly serialHex: string;
  readonly subjectKeyId: Uint8Array;
  readonly keyType: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** basicConstraints pathLenConstraint (undefined: unlimited). */
  readonly pathLength: number | undefined;
  readonly signer: CaSigner;
  /** Precomputed DER, for the builders in ca/. */
  readonly der: {
    /** The subject Name exactly as in the certificate: the issuer of everything this CA signs (RFC 5280 §7.1). */
    readonly name: Uint8Array;
    readonly signatureAlgorithm: Uint8Array;
    /** The authorityKeyIdentifier extension children carry. */
    readonly authorityKeyIdExtension: Uint8Array;
    readonly publicKeyBits: Uint8Array;
  };
  /** OCSP CertID hashes of this CA's name and key, per digest, to recognise requests about it. */
  readonly certIdHashes: Readonly<Record<CertIdDigest, { readonly name: Buffer; readonly key: Buffer }>>;
}

const invalid = (detail: string, cause?: unknown) => new KeywardError('ca.malformed', detail, cause === undefined ? {} : { cause });

/** Splits PEM text into certificates; `ca.malformed` for none or a broken one. */
export function certificatesFromPem(pem: string): { der: Uint8Array; decoded: DecodedCertificate }[] {
  const blocks = pemBlocks(pem, /CERTIFICATE/);
  if (blocks.length === 0) throw invalid('Expected a PEM "CERTIFICATE" block');
  return blocks.map((der, i) => {
    if (!der) throw invalid(`PEM certificate ${i + 1} is not valid base64`);
    try {
      return { der, decoded: decodeCertificate(der) };
    } catch (err) {
      if (err instanceof DerError) throw invalid(`PEM certificate ${i + 1} is not a DER X.509 v3 certificate: ${err.message}`, err);
      throw err;
    }
  });
}

/**
 * A CA from its certificate and a signer holding its key (a local key, an
 * HSM, a KMS). TypeError when the signer's key is not the certificate's or the
 * certificate is not a CA: stored CA material is our own, not client input.
 * @example const ca = loadCa({ certificatePem, chainPem: [rootPem] }, localSigner(key));
 */
export function loadCa(material: { readonly certificatePem: string; readonly chainPem?: readonly string[] }, signer: CaSigner): CaContext {
  let cert: DecodedCertificate;
  try {
    cert = certificatesFromPem(material.certificatePem)[0]!.decoded;
  } catch (err) {
    throw new TypeError('the stored CA certificate does not decode', { cause: err });
  }
  const bc = basicConstraintsOf(cert);
  if (!bc?.ca) throw new TypeError('the certificate is not a CA certificate');
  if (!samePublicKey(cert.spki, signer.spki)) throw new TypeError("the signer's key is not the CA certificate's key");
  const ski = subjectKeyIdOf(cert);
  const hashes = {} as Record<CertIdDigest, { name: Buffer; key: Buffer }>;
  for (const d of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    hashes[d] = { name: createHash(d).update(cert.subjectDer).digest(), key: createHash(d).update(cert.publicKeyBits).digest() };
  }
  return Object.freeze({
    certificatePem: toPem(cert.der, 'CERTIFICATE'),
    certificateDer: cert.der,
    chainPem: Object.freeze([...(material.chainPem ?? [])]),
    subject: cert.subject,
    subjectName: formatName(cert.subject),
    serialHex: cert.serialHex,
    subjectKeyId: ski,
    keyType: signer.keyType,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    pathLength: bc.pathLength,
    signer,
    der: Object.freeze({
      name: cert.subjectDer,
      signatureAlgorithm: signer.algorithm.der,
      authorityKeyIdExtension: authorityKeyIdentifier(ski),
      publicKeyBits: cert.publicKeyBits,
    }),
    certIdHashes: Object.freeze(hashes),
  });
}

/**
 * Opens a stored CA: opens its key in `keys` (a sealed key is decrypted with
 * the KEK; once — keep the context) and loads it. Given a KEK instead of a
 * key store, a sealed key signs with `signerFor(key)` (default: in this thread).
 * @example const ca = openCa(record, config.kek, offload.signer.bind(offload));
 * @example const ca = openCa(record, keyStore);
 */
export function openCa(
  record: Pick<CaRecord, 'certificatePem' | 'chainPem' | 'key'>,
  keys: Uint8Array | CaKeyStore,
  signerFor: (key: KeyObject) => CaSigner = localSigner,
): CaContext {
  const store = keys instanceof Uint8Array ? sealedKeyStore(keys, signerFor) : keys;
  return loadCa(record, store.open(record.key));
}

/** The record to store for a CA context whose key `key` refers to. */
export function caRecord(ca: CaContext, key: CaKeyRef): CaRecord {
  return Object.freeze({
    certificatePem: ca.certificatePem,
    chainPem: ca.chainPem,
    key,
    kekId: key.store === 'sealed' ? key.blob.kek : undefined,
    subject: ca.subjectName,
    subjectKeyId: Buffer.from(ca.subjectKeyId).toString('hex'),
    serialHex: ca.serialHex,
    keyType: ca.keyType,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
  });
}
