/**
 * Idempotent creation: `Idempotency-Key` on the POSTs whose retry would
 * duplicate work or lose a one-time answer — certificates (`POST
 * …/certificates`, `POST …/end-entities/{name}/certificates`), API clients
 * (the secret), personal access tokens (the token) and users' client
 * certificates (the private key) — as the IETF httpapi draft "The
 * Idempotency-Key HTTP Header Field" describes it. A
 * retry with the same key and the same request gets the first answer back,
 * from any replica, marked `Idempotent-Replayed: true`; the same key with
 * another request is 422 `idempotency.key_reused`; a retry while the first
 * attempt still runs is 409 `idempotency.in_progress` with `Retry-After`.
 * Keys are each caller's own, per realm, and kept for 24 hours.
 *
 * The first attempt reserves the serial it issues under. When it committed the
 * certificate but could not record its answer (the process died, the
 * connection dropped), a retry finds the certificate by that serial; when it
 * never committed, a retry after a minute issues anew under the same serial.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Principal } from '../authn/principal.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newSerialHex } from '../kernel/ids.ts';

/** A first attempt that recorded nothing for this long counts as gone. */
const ABANDONED_SECONDS = 60;
const KEY = /^[\x21-\x7e]{1,255}$/;

/** Where keys live, shared by every replica (storage/idempotency_store.ts). */
export interface IdempotencyStore {
  claim(
    scope: string,
    key: string,
    requestHash: string,
    serial: string,
  ): Promise<{ requestHash: string; serial: string; status: number | undefined; response: unknown; ageSeconds: number } | undefined>;
  complete(scope: string, key: string, status: number, response: unknown): Promise<void>;
  release(scope: string, key: string): Promise<void>;
}

export interface IdempotentAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The request's key, or undefined without the header; 400 `idempotency.key_invalid` for a malformed one. */
export function idempotencyKey(req: Request): string | undefined {
  const raw = req.get('idempotency-key');
  if (raw === undefined) return undefined;
  // Structured field syntax (RFC 8941): a quoted string; a bare token is accepted too.
  const key = /^"(.*)"$/.exec(raw.trim())?.[1] ?? raw.trim();
  if (!KEY.test(key)) {
    throw new KeywardError('idempotency.key_invalid', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
      extras: { field: 'Idempotency-Key' },
    });
  }
  return key;
}

/** What makes two requests the same: method, path, query and body. */
export function requestFingerprint(req: Request): string {
  const body = Buffer.isBuffer(req.body) ? { raw: req.body.toString('base64') } : { json: req.body };
  return createHash('sha256')
    .update(JSON.stringify([req.method, req.path, req.query, body]))
    .digest('hex');
}

/**
 * Whose keys these are: keys are each caller's own, per realm the request acts on
 * (realm names hold no slash).
 */
export function idempotencyScope(realm: string, p: Principal): string {
  return `${realm}/${p.realm}/${p.subject}`;
}

/**
 * Runs `attempt` once per key: the first time with a reserved serial, later
 * by replaying its answer. `existing(serial)` finds what a first attempt
 * committed under that serial without recording its answer; creations that
 * cannot be found again (a token or secret that only the answer carries) pass
 * none, and a retry after an abandoned first attempt creates anew.
 */
export async function idempotent(
  store: IdempotencyStore,
  scope: string,
  key: string,
  fingerprint: string,
  attempt: (serial: string) => Promise<IdempotentAnswer>,
  existing: (serial: string) => Promise<IdempotentAnswer | undefined> = async () => undefined,
): Promise<IdempotentAnswer & { replayed: boolean }> {
  const reserved = newSerialHex();
  const found = await store.claim(scope, key, fingerprint, reserved);
  let serial = reserved;
  if (found) {
    if (found.requestHash !== fingerprint) {
      throw new KeywardError('idempotency.key_reused', 'This Idempotency-Key was used for a different request', {
        extras: { field: 'Idempotency-Key' },
      });
    }
    if (found.status !== undefined) return { status: found.status, body: found.response, replayed: true };
    const committed = await existing(found.serial);
    if (committed) {
      await store.complete(scope, key, committed.status, committed.body);
      return { ...committed, replayed: true };
    }
    if (found.ageSeconds < ABANDONED_SECONDS) {
      throw new KeywardError('idempotency.in_progress', 'A request with this Idempotency-Key is still being processed', {
        headers: { 'Retry-After': '1' },
      });
    }
    serial = found.serial; // the first attempt died before it committed: issue under its serial
  }
  let answer: IdempotentAnswer;
  try {
    answer = await attempt(serial);
  } catch (err) {
    const committed = await existing(serial).catch(() => undefined);
    if (committed) {
      await store.complete(scope, key, committed.status, committed.body);
      return { ...committed, replayed: false };
    }
    await store.release(scope, key).catch(() => {});
    throw err;
  }
  await store.complete(scope, key, answer.status, answer.body);
  return { ...answer, replayed: false };
}

/**
 * `run` under the request's Idempotency-Key when it has one (and the store is
 * configured), else simply `run`. The answer says whether it was replayed, for
 * the `Idempotent-Replayed` header.
 * @example const out = await replayable(store, req, idempotencyScope(realm, p), async () => ({ status: 201, body: await create() }));
 */
export async function replayable(
  store: IdempotencyStore | undefined,
  req: Request,
  scope: string,
  run: (serial: string | undefined) => Promise<IdempotentAnswer>,
  existing?: (serial: string) => Promise<IdempotentAnswer | undefined>,
): Promise<IdempotentAnswer & { replayed: boolean }> {
  const key = idempotencyKey(req);
  if (key === undefined || !store) return { ...(await run(undefined)), replayed: false };
  return idempotent(store, scope, key, requestFingerprint(req), run, existing);
}
