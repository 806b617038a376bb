/** A CaSigner over a private key held in this process (node:crypto, synchronous: the fastest primitive). */
import { sign, type KeyObject } from 'node:crypto';
import { signatureAlgorithmFor } from './algorithms.ts';
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
