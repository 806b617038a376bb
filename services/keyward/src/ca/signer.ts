/** A CaSigner over a private key held in this process (node:crypto, synchronous: the fastest primitive). */
import { sign, type KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from './algorithms.ts';
import { sequence, unsignedInteger } from './der/writer.ts';
import { keyTypeOf, spkiOf } from './keys.ts';
import type { CaSigner } from './ports.ts';

/**
 * @example
 * const signer = localSigner(await generateCaKey('EC-P256'));
 * const signature = signer.sign(tbsDer); // DER Ecdsa-Sig-Value
 */
export function localSigner(privateKey: KeyObject): CaSigner {
  if (privateKey.type !== 'private') throw new TypeError('localSigner needs a private key');
  const keyType = keyTypeOf(privateKey);
  const algorithm = signatureAlgorithmFor(keyType);
  const hash = algorithm.hash;
  // dsaEncoding 'der': X.509 carries ECDSA signatures as Ecdsa-Sig-Value, not IEEE P1363 r‖s.
  const key = { key: privateKey, dsaEncoding: 'der' as const };
  return Object.freeze({
    keyType,
    algorithm,
    spki: spkiOf(privateKey),
    sign: (data: Uint8Array): Uint8Array => sign(hash, data, key),
  });
}

/**
 * An ECDSA signature as PKCS#11 (CKM_ECDSA) and WebCrypto return it, IEEE
 * P1363 r‖s (two halves of equal length), turned into the DER
 * `Ecdsa-Sig-Value` that X.509, CRLs and OCSP carry (RFC 3279 §2.2.3).
 * @example const der = ecdsaRawToDer(rawFromToken); // SEQUENCE { INTEGER r, INTEGER s }
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new TypeError(`an r‖s ECDSA signature has an even, non-zero length (got ${raw.length})`);
  const half = raw.length / 2;
  return new Uint8Array(sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half))));
}
