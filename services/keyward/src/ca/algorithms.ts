/**
 * Signature algorithms: what a CA key signs with (RFC 5758 §3.2 for ECDSA,
 * RFC 4055 / RFC 8017 for RSA) and which CSR signatures we can verify.
 */
import { NULL, oid, sequence } from './der/writer.ts';
import { OID } from './oids.ts';

export type SignatureAlgorithmName = 'ecdsa-with-SHA256' | 'ecdsa-with-SHA384' | 'sha256WithRSAEncryption';

export interface SignatureAlgorithm {
  readonly name: SignatureAlgorithmName;
  readonly oid: string;
  /** node:crypto digest name. */
  readonly hash: 'sha256' | 'sha384';
  /** The DER AlgorithmIdentifier (ECDSA: no parameters, RFC 5758 §3.2; RSA: NULL parameters, RFC 4055 §5). */
  readonly der: Uint8Array;
}

export const SIGNATURE_ALGORITHMS: Readonly<Record<SignatureAlgorithmName, SignatureAlgorithm>> = {
  'ecdsa-with-SHA256': { name: 'ecdsa-with-SHA256', oid: OID.ecdsaWithSha256, hash: 'sha256', der: sequence(oid(OID.ecdsaWithSha256)) },
  'ecdsa-with-SHA384': { name: 'ecdsa-with-SHA384', oid: OID.ecdsaWithSha384, hash: 'sha384', der: sequence(oid(OID.ecdsaWithSha384)) },
  sha256WithRSAEncryption: {
    name: 'sha256WithRSAEncryption',
    oid: OID.sha256WithRsa,
    hash: 'sha256',
    der: sequence(oid(OID.sha256WithRsa), NULL),
  },
};

/**
 * The algorithm a CA key of this type signs with: P-256 → ecdsa-with-SHA256,
 * P-384 → ecdsa-with-SHA384 (hash strength matched to the curve), RSA →
 * sha256WithRSAEncryption. TypeError for a key type Keyward does not run a CA on.
 */
export function signatureAlgorithmFor(keyType: string): SignatureAlgorithm {
  if (keyType === 'EC-P256') return SIGNATURE_ALGORITHMS['ecdsa-with-SHA256'];
  if (keyType === 'EC-P384') return SIGNATURE_ALGORITHMS['ecdsa-with-SHA384'];
  if (/^RSA-(2048|3072|4096)$/.test(keyType)) return SIGNATURE_ALGORITHMS['sha256WithRSAEncryption'];
  throw new TypeError(`CA keys of type ${keyType} are not supported (EC-P256, EC-P384, RSA-2048/3072/4096)`);
}

/**
 * CSR signature algorithm OID → node:crypto digest (null: the algorithm
 * hashes itself). SHA-1 and MD5 are absent on purpose: a CSR signed with
 * them gives no trustworthy proof of possession.
 */
export const CSR_SIGNATURE_DIGESTS: Readonly<Record<string, string | null>> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
  [OID.ed25519]: null,
};
