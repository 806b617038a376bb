/**
 * AES-256-GCM boxes for the secrets Keyward keeps in PostgreSQL (idempotent
 * answers, EAB HMAC keys, webhook secrets): each secret under its own random
 * data key, the data key wrapped by the key-encryption key, with additional
 * data that binds the box to its row (NIST SP 800-38D; the same envelope as
 * CA keys, ca/key_protection.ts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256-GCM ciphertext with its IV and tag, base64 inside. */
export interface Box {
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

/**
 * Encrypts `plain` under `key` with `aad` as additional data.
 * @example const b = box(dataKey, Buffer.from('secret'), 'acme-eab:kw-1');
 */
export function box(key: Uint8Array, plain: Uint8Array, aad: string): Box {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

/** Decrypts what {@link box} made; throws when the key, the additional data or the box is wrong. */
export function unbox(key: Uint8Array, b: Box, aad: string): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(b.iv, 'base64'));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(b.tag, 'base64'));
  return Buffer.concat([d.update(Buffer.from(b.ct, 'base64')), d.final()]);
}
