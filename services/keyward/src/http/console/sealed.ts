/**
 * Sealing of what the web console keeps: a session's tokens in its database
 * row, and the login state in its short-lived cookie. The same envelope as CA
 * private keys (ca/key_protection.ts): a random 256-bit data key encrypts the
 * value with AES-256-GCM, the key-encryption key wraps the data key, and the
 * blob names its KEK by fingerprint. The additional data binds a blob to its
 * use (and a session's to the row's id hash), so a blob copied to another row
 * or cookie does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { kekId } from '../../ca/index.ts';

interface Box {
  readonly iv: string;
  readonly tag: string;
  readonly ct: string;
}

export interface SealedBlob {
  readonly v: 1;
  readonly kek: string;
  readonly wrapped: Box;
  readonly data: Box;
}

function seal(key: Buffer, plain: Buffer, aad: string): Box {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: iv.toString('base64url'), tag: c.getAuthTag().toString('base64url'), ct: ct.toString('base64url') };
}

function open(key: Buffer, box: Box, aad: string): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64url'));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(Buffer.from(box.tag, 'base64url'));
  return Buffer.concat([d.update(Buffer.from(box.ct, 'base64url')), d.final()]);
}

/** Seals a JSON value under the KEK for the use `aad`. */
export function sealJson(kek: Buffer, value: unknown, aad: string): SealedBlob {
  const id = kekId(kek);
  const dataKey = randomBytes(32);
  try {
    return { v: 1, kek: id, wrapped: seal(kek, dataKey, `kek:${id}`), data: seal(dataKey, Buffer.from(JSON.stringify(value)), aad) };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens a sealed blob; undefined when it does not open (another KEK, another use, tampered, malformed). */
export function openJson<T>(kek: Buffer, blob: unknown, aad: string): T | undefined {
  const b = blob as SealedBlob | undefined;
  if (!b || b.v !== 1 || b.kek !== kekId(kek) || !b.wrapped || !b.data) return undefined;
  let dataKey: Buffer | undefined;
  try {
    dataKey = open(kek, b.wrapped, `kek:${b.kek}`);
    return JSON.parse(open(dataKey, b.data, aad).toString('utf8')) as T;
  } catch {
    return undefined;
  } finally {
    dataKey?.fill(0);
  }
}

/** A sealed blob as a cookie value (base64url of its JSON), and back. */
export const blobToCookie = (b: SealedBlob): string => Buffer.from(JSON.stringify(b)).toString('base64url');
export function cookieToBlob(value: string): unknown {
  try {
    return JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
