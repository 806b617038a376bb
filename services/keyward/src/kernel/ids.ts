import { randomBytes, randomUUID } from 'node:crypto';

/** A random UUID v4 for database rows and request ids. */
export const newId = (): string => randomUUID();

/**
 * A certificate serial number: 16 random octets with the top bit cleared and
 * the next bit set, so the DER INTEGER is positive, exactly 16 octets (≤ 20,
 * RFC 5280 §4.1.2.2) and carries 126 random bits (CA/B Forum asks for ≥ 64).
 * Lowercase hex, as the API renders serials.
 */
export function newSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}
