/**
 * Envelope encryption of CA private keys: a private key is only ever stored sealed.
 *
 * Each private key (PKCS#8 DER) is encrypted with its own random 256-bit data
 * key under AES-256-GCM; the data key is wrapped with the key-encryption key
 * (KEK, 32 bytes from configuration), AES-256-GCM too. The blob names its KEK
 * by a fingerprint (`kekId`), so after a rotation an operator can list the
 * blobs still sealed under the old KEK.
 *
 * Rotation: configure the new KEK next to the old one, `rewrap` every stored
 * blob (only the 32-byte data key is re-encrypted; the CA key never leaves
 * its envelope in clear on disk), store the results, then retire the old KEK.
 * A blob sealed under a KEK that is not configured refuses to open with a
 * message naming both fingerprints.
 *
 * The blob format is the one crypto/key_protection.ts wrote (same fields and
 * additional data), so CA keys stored before this module open unchanged.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';

interface Box {
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

export interface KeyBlob {
  readonly v: 1;
  /** Fingerprint of the KEK that wraps the data key. */
  readonly kek: string;
  /** The data key, wrapped by the KEK (AAD `kek:<id>`). */
  readonly wrapped: Box;
  /** The PKCS#8 private key, encrypted by the data key (AAD `ca-key`). */
  readonly key: Box;
}

function checkKek(kek: Uint8Array): Buffer {
  if (!(kek instanceof Uint8Array) || kek.length !== 32) throw new TypeError('a key-encryption key must be 32 bytes');
  return Buffer.from(kek.buffer, kek.byteOffset, kek.length);
}

/**
 * A short public fingerprint of a KEK (first 16 hex digits of a domain-separated SHA-256).
 * @example kekId(Buffer.alloc(32, 1)) // → '…16 hex digits…'
 */
export function kekId(kek: Uint8Array): string {
  return createHash('sha256').update('keyward-kek').update(checkKek(kek)).digest('hex').slice(0, 16);
}

function seal(key: Buffer, plain: Buffer, aad: string): Box {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

function open(key: Buffer, box: Box, aad: string): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(Buffer.from(box.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(box.ct, 'base64')), d.final()]);
  } catch (err) {
    throw new Error('a CA key blob failed authentication (corrupted or tampered with)', { cause: err });
  }
}

const isBox = (b: unknown): b is Box =>
  typeof b === 'object' && b !== null && ['iv', 'tag', 'ct'].every((k) => typeof (b as Record<string, unknown>)[k] === 'string');

/** Checks the shape of a stored blob (it comes from our own database: a bad one is a TypeError). */
export function asKeyBlob(blob: unknown): KeyBlob {
  const b = blob as KeyBlob;
  if (typeof b !== 'object' || b === null || b.v !== 1 || typeof b.kek !== 'string' || !isBox(b.wrapped) || !isBox(b.key)) {
    throw new TypeError('not a Keyward key blob (version 1)');
  }
  return b;
}

/**
 * Seals a private key under the KEK.
 * @example const blob = protectKey(kek, await generateCaKey('EC-P256'));
 */
export function protectKey(kek: Uint8Array, privateKey: KeyObject): KeyBlob {
  const k = checkKek(kek);
  if (privateKey.type !== 'private') throw new TypeError('protectKey needs a private key');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const dataKey = randomBytes(32);
  const id = kekId(k);
  try {
    return { v: 1, kek: id, wrapped: seal(k, dataKey, `kek:${id}`), key: seal(dataKey, pkcs8, 'ca-key') };
  } finally {
    dataKey.fill(0);
    pkcs8.fill(0);
  }
}

/** Opens a blob; TypeError naming both fingerprints when it was sealed under another KEK. */
export function unprotectKey(kek: Uint8Array, blob: unknown): KeyObject {
  const k = checkKek(kek);
  const b = asKeyBlob(blob);
  const id = kekId(k);
  if (b.kek !== id) {
    throw new TypeError(
      `this CA key is sealed under KEK ${b.kek}, but the configured key-encryption key is ${id}: configure that key, or rewrap the blob`,
    );
  }
  const dataKey = open(k, b.wrapped, `kek:${id}`);
  let pkcs8: Buffer | undefined;
  try {
    pkcs8 = open(dataKey, b.key, 'ca-key');
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } finally {
    dataKey.fill(0);
    pkcs8?.fill(0);
  }
}

/**
 * Re-wraps a blob's data key from the old KEK to the new one (key rotation);
 * the encrypted private key itself is unchanged. A blob already under the
 * new KEK is returned as it is, so a rotation can be re-run after a crash.
 */
export function rewrap(oldKek: Uint8Array, newKek: Uint8Array, blob: unknown): KeyBlob {
  const b = asKeyBlob(blob);
  const oldId = kekId(oldKek);
  const newId = kekId(newKek);
  if (b.kek === newId) return b;
  if (b.kek !== oldId)
    throw new TypeError(`this CA key is sealed under KEK ${b.kek}, neither the old (${oldId}) nor the new (${newId}) key`);
  const dataKey = open(checkKek(oldKek), b.wrapped, `kek:${oldId}`);
  try {
    return { ...b, kek: newId, wrapped: seal(checkKek(newKek), dataKey, `kek:${newId}`) };
  } finally {
    dataKey.fill(0);
  }
}
