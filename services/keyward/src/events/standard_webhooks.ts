/**
 * Signing as the Standard Webhooks specification (standardwebhooks.com,
 * version 1.0.0) defines it: the headers `webhook-id`, `webhook-timestamp`
 * (Unix seconds of this attempt) and `webhook-signature: v1,<base64>`, the
 * HMAC-SHA256 of `id.timestamp.body` under the secret's bytes; secrets are
 * `whsec_` followed by the base64 of 24 to 64 random bytes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';

const SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** A new secret: `whsec_` and 32 random bytes in base64. */
export const generateSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The key of a `whsec_…` secret.
 * @throws KeywardError webhook.secret_invalid for anything else (the message never repeats the secret)
 */
export function secretKey(secret: string): Buffer {
  const m = SECRET.exec(secret);
  const key = m ? Buffer.from(m[1]!, 'base64') : Buffer.alloc(0);
  if (key.length < 24 || key.length > 64)
    throw new KeywardError('webhook.secret_invalid', 'A webhook secret is whsec_ followed by the base64 of 24 to 64 random bytes');
  return key;
}

/**
 * The `webhook-signature` value of one message.
 * @example signature('whsec_…', 'msg-id', 1700000000, '{"a":1}') // 'v1,…base64…'
 */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The three headers of one attempt. */
export function signedHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature(secret, id, timestamp, body) };
}

/**
 * Whether a received message carries a valid signature under `secret` (any of the space-separated
 * `v1,` signatures) and a timestamp within `toleranceSeconds` of `now` — what a receiver checks.
 */
export function verify(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  now = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!/^\d+$/.test(headers.timestamp) || Math.abs(now / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((s) => {
    const b = Buffer.from(s);
    return b.length === expected.length && timingSafeEqual(b, expected);
  });
}
