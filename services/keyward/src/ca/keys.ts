/**
 * CA key generation and key-type naming (ECDSA P-256/P-384 and RSA
 * 2048–4096 for CA and leaf keys).
 */
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { DerError, children, contents, expectTag, readOctetAlignedBits, readOid, readRoot } from './der/reader.ts';
import { TAG } from './der/writer.ts';
import { OID } from './oids.ts';

export const CA_KEY_TYPES = ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

/** True for a key type Keyward runs CAs on. */
export const isCaKeyType = (t: unknown): t is CaKeyType => (CA_KEY_TYPES as readonly unknown[]).includes(t);

const generate = promisify(generateKeyPair);

/**
 * Generates a CA private key. Asynchronous because an RSA-4096 key takes
 * seconds and must not block the event loop.
 * @example const key = await generateCaKey('EC-P256');
 */
export async function generateCaKey(type: CaKeyType): Promise<KeyObject> {
  switch (type) {
    case 'EC-P256':
      return (await generate('ec', { namedCurve: 'P-256' })).privateKey;
    case 'EC-P384':
      return (await generate('ec', { namedCurve: 'P-384' })).privateKey;
    case 'RSA-2048':
    case 'RSA-3072':
    case 'RSA-4096':
      return (await generate('rsa', { modulusLength: Number(type.slice(4)), publicExponent: 0x10001 })).privateKey;
    default:
      throw new TypeError(`unsupported CA key type ${String(type)}`);
  }
}

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'EC-P256', secp384r1: 'EC-P384', secp521r1: 'EC-P521' };

/**
 * The key type as policies name it: `EC-P256`, `EC-P384`, `RSA-2048`, … For
 * anything a policy cannot allow, a descriptive string that no policy lists:
 * `RSA-2048-e3` for an RSA key with a public exponent other than 65537,
 * `EC-secp256k1` for another curve, `ed25519`, `dsa`, …
 */
export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      return CURVES[d.namedCurve ?? ''] ?? `EC-${d.namedCurve ?? 'explicit'}`;
    case 'rsa':
      return d.publicExponent === 65537n ? `RSA-${d.modulusLength}` : `RSA-${d.modulusLength}-e${d.publicExponent}`;
    default:
      return String(key.asymmetricKeyType);
  }
}

/**
 * Whether two SubjectPublicKeyInfo DER values are the same key, compared in
 * node's canonical encoding. Not KeyObject.equals: on keys of different
 * types it leaves an OpenSSL error queued on the thread, and the next
 * createPrivateKey there fails with that stale "different key types" error —
 * which once refused a good RSA-3072 PKCS#8 key imported after a mismatched one.
 * @example samePublicKey(cert.spki, spkiOf(privateKey))
 */
export function samePublicKey(a: Uint8Array, b: Uint8Array): boolean {
  const canonical = (spki: Uint8Array) =>
    createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  return canonical(a).equals(canonical(b));
}

/** SubjectPublicKeyInfo DER of a public or private key. */
export function spkiOf(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ format: 'der', type: 'spki' }));
}

const CURVE_OIDS: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'EC-P256',
  '1.3.132.0.34': 'EC-P384',
  '1.3.132.0.35': 'EC-P521',
  '1.3.132.0.10': 'EC-secp256k1',
};

/** node's asymmetricKeyType names for the other algorithms, by SPKI algorithm OID. */
const OTHER_KEY_TYPES: Readonly<Record<string, string>> = {
  [OID.ed25519]: 'ed25519',
  '1.3.101.113': 'ed448',
  '1.3.101.110': 'x25519',
  '1.3.101.111': 'x448',
  '1.2.840.10040.4.1': 'dsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10046.2.1': 'dh',
};

/**
 * {@link keyTypeOf} read from SubjectPublicKeyInfo DER, for the hot path:
 * node's `asymmetricKeyDetails` costs as much as loading the key. Only call it
 * on an SPKI that node:crypto has already loaded (so the key itself is valid);
 * test/unit/ca/keys.test.ts holds it to keyTypeOf. DerError when it does not decode.
 */
export function keyTypeOfSpki(spki: Uint8Array): string {
  const [alg, bits] = children(spki, readRoot(spki, TAG.SEQUENCE));
  const [algOid, params] = children(spki, expectTag(alg, TAG.SEQUENCE, 'algorithm'));
  const id = readOid(spki, algOid!);
  if (id === OID.ecPublicKey) {
    if (params?.tag !== TAG.OID) return 'EC-explicit';
    const curve = readOid(spki, params);
    return CURVE_OIDS[curve] ?? `EC-${curve}`;
  }
  if (id === OID.rsaEncryption) {
    const key = readOctetAlignedBits(spki, expectTag(bits, TAG.BIT_STRING, 'subjectPublicKey'));
    const [n, e] = children(key, readRoot(key, TAG.SEQUENCE));
    const modulus = contents(key, expectTag(n, TAG.INTEGER, 'modulus'));
    let i = 0;
    while (i < modulus.length && modulus[i] === 0) i++;
    if (i === modulus.length) throw new DerError('zero modulus');
    const size = (modulus.length - i - 1) * 8 + (32 - Math.clz32(modulus[i]!));
    const exponent = BigInt(`0x${Buffer.from(contents(key, expectTag(e, TAG.INTEGER, 'publicExponent'))).toString('hex') || '0'}`);
    return exponent === 65537n ? `RSA-${size}` : `RSA-${size}-e${exponent}`;
  }
  return OTHER_KEY_TYPES[id] ?? `unknown-${id}`;
}
