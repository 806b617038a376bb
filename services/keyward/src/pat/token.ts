/**
 * The personal access token format: `kwp_<id>_<secret>`, only a hash stored, compared in constant time.
 *
 * - `kwp_` is a fixed prefix so secret scanners (and our log redaction,
 *   kernel/log.ts) recognise a leaked token;
 * - `<id>`: 16 lowercase hex digits (64 random bits), the row's key, shown in
 *   lists and used to revoke;
 * - `<secret>`: 43 base62 characters (256 random bits).
 *
 * Only SHA-256 of the whole token is stored. A fast hash is right for a
 * 256-bit random secret: there is nothing to guess, so a slow KDF would only
 * cost every request time. Comparison is in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const PAT_PREFIX = 'kwp_';
const SHAPE = /^kwp_([0-9a-f]{16})_([0-9A-Za-z]{43})$/;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** 32 random bytes as exactly 43 base62 digits (62^43 > 2^256). */
function base62(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out.padStart(43, '0');
}

export interface GeneratedPat {
  readonly id: string;
  readonly token: string;
  readonly hash: Uint8Array;
}

/**
 * A new token and the hash to store.
 * @example
 * const { id, token, hash } = generatePat(); // token: kwp_3f9c…_Q2x…
 */
export function generatePat(): GeneratedPat {
  const id = randomBytes(8).toString('hex');
  const token = `${PAT_PREFIX}${id}_${base62(randomBytes(32))}`;
  return { id, token, hash: hashPat(token) };
}

/** True when the string has the shape of a PAT (it may still be unknown or wrong). */
export const looksLikePat = (token: string): boolean => token.startsWith(PAT_PREFIX);

/** The id of a well-formed token, or undefined. */
export function patId(token: string): string | undefined {
  return SHAPE.exec(token)?.[1];
}

export function hashPat(token: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(token, 'utf8').digest());
}

/** A hash no token has, compared against when the id is unknown so both answers take the same work. */
const NO_TOKEN = hashPat(`${PAT_PREFIX}0000000000000000_${'0'.repeat(43)}-unknown`);

/** Constant-time check of a presented token against the stored hash (or against nothing, when the id is unknown). */
export function patMatches(token: string, stored: Uint8Array | undefined): boolean {
  const expected = stored && stored.length === 32 ? stored : NO_TOKEN;
  const equal = timingSafeEqual(hashPat(token), expected);
  return equal && stored !== undefined;
}
