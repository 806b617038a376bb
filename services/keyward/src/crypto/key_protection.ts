/**
 * Envelope encryption of CA private keys (DESIGN.md principle 5): each key is
 * encrypted with its own random 256-bit data key (AES-256-GCM), and the data
 * key is wrapped with the key-encryption key (KEK) from configuration
 * (AES-256-GCM too). The blob names the KEK by a fingerprint, so a rotation
 * (`rewrap`) can tell which keys still use the old one.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';

export interface KeyBlob {
  readonly v: 1;
  readonly kek: string;
  readonly wrapped: { readonly iv: string; readonly tag: string; readonly ct: string };
  readonly key: { readonly iv: string; readonly tag: string; readonly ct: string };
}

/** A short public fingerprint of a KEK. */
export const kekId = (kek: Buffer): string => createHash('sha256').update('keyward-kek').update(kek).digest('hex').slice(0, 16);

function seal(key: Buffer, plain: Buffer, aad: string) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

function open(key: Buffer, box: { iv: string; tag: string; ct: string }, aad: string): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(box.tag, 'base64'));
  return Buffer.concat([d.update(Buffer.from(box.ct, 'base64')), d.final()]);
}

/** Encrypts a private key (PKCS#8 DER). */
export function protectKey(kek: Buffer, pkcs8: Buffer): KeyBlob {
  if (kek.length !== 32) throw new TypeError('the KEK must be 32 bytes');
  const dataKey = randomBytes(32);
  const id = kekId(kek);
  const blob: KeyBlob = { v: 1, kek: id, wrapped: seal(kek, dataKey, `kek:${id}`), key: seal(dataKey, pkcs8, 'ca-key') };
  dataKey.fill(0);
  return blob;
}

/** Decrypts a key blob; refuses one sealed under another KEK with a message naming both fingerprints. */
export function unprotectKey(kek: Buffer, blob: unknown): Buffer {
  const b = blob as KeyBlob;
  if (b?.v !== 1) throw new TypeError('unknown key blob version');
  const id = kekId(kek);
  if (b.kek !== id) {
    throw new KeywardError('server.error', `A CA key is sealed under KEK ${b.kek}, but the configured KEYWARD_KEK is ${id}; configure the right key or rewrap (see README: key rotation)`);
  }
  const dataKey = open(kek, b.wrapped, `kek:${id}`);
  try {
    return open(dataKey, b.key, 'ca-key');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under a new KEK; the CA key itself is not re-encrypted. */
export function rewrap(oldKek: Buffer, newKek: Buffer, blob: unknown): KeyBlob {
  const b = blob as KeyBlob;
  const dataKey = open(oldKek, b.wrapped, `kek:${kekId(oldKek)}`);
  const id = kekId(newKek);
  const out: KeyBlob = { ...b, kek: id, wrapped: seal(newKek, dataKey, `kek:${id}`) };
  dataKey.fill(0);
  return out;
}
