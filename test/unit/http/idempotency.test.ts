import { expect } from 'chai';
import type { Request } from 'express';
import { idempotent, replayable, requestFingerprint, type IdempotencyStore } from '../../../services/keyward/src/http/idempotency.ts';
import { isKeywardError } from '../../../services/keyward/src/kernel/errors.ts';

/** The store's contract in memory: one row per scope and key. */
class MemoryStore implements IdempotencyStore {
  readonly rows = new Map<string, { requestHash: string; serial: string; status?: number; response?: unknown; age: number }>();
  async claim(scope: string, key: string, requestHash: string, serial: string) {
    const row = this.rows.get(`${scope}\0${key}`);
    if (!row) {
      this.rows.set(`${scope}\0${key}`, { requestHash, serial, age: 0 });
      return undefined;
    }
    return { requestHash: row.requestHash, serial: row.serial, status: row.status, response: row.response, ageSeconds: row.age };
  }
  async complete(scope: string, key: string, status: number, response: unknown) {
    const row = this.rows.get(`${scope}\0${key}`)!;
    Object.assign(row, { status, response: JSON.parse(JSON.stringify(response)) });
  }
  async release(scope: string, key: string) {
    const row = this.rows.get(`${scope}\0${key}`);
    if (row && row.status === undefined) this.rows.delete(`${scope}\0${key}`);
  }
}

const request = (body: unknown, key?: string) =>
  ({
    method: 'POST',
    path: '/v1/personal-access-tokens',
    query: {},
    body,
    get: (h: string) => (h.toLowerCase() === 'idempotency-key' ? key : undefined),
  }) as unknown as Request;

describe('idempotent creation (Idempotency-Key)', () => {
  it('runs a creation once per key and replays its answer, secret included', async () => {
    const store = new MemoryStore();
    let made = 0;
    const create = async () => ({ status: 201, body: { id: String(++made), token: `kwp_secret_${made}` } });
    const first = await replayable(store, request({ expiresInDays: 1 }, 'k1'), 'r/r/alice', create);
    const retry = await replayable(store, request({ expiresInDays: 1 }, 'k1'), 'r/r/alice', create);
    expect(first).to.deep.equal({ status: 201, body: { id: '1', token: 'kwp_secret_1' }, replayed: false });
    expect(retry).to.deep.equal({ status: 201, body: { id: '1', token: 'kwp_secret_1' }, replayed: true });
    expect(made).to.equal(1);
  });

  it('runs every request without a key, and keeps keys apart per caller', async () => {
    const store = new MemoryStore();
    let made = 0;
    const create = async () => ({ status: 201, body: { n: ++made } });
    await replayable(store, request({}), 'r/r/alice', create);
    await replayable(store, request({}), 'r/r/alice', create);
    await replayable(store, request({}, 'k'), 'r/r/alice', create);
    await replayable(store, request({}, 'k'), 'r/r/bob', create);
    expect(made).to.equal(4);
  });

  it('refuses the key for another body with idempotency.key_reused', async () => {
    const store = new MemoryStore();
    await replayable(store, request({ expiresInDays: 1 }, 'k'), 's', async () => ({ status: 201, body: {} }));
    const err = await replayable(store, request({ expiresInDays: 2 }, 'k'), 's', async () => ({ status: 201, body: {} })).catch(
      (e: unknown) => e,
    );
    expect(isKeywardError(err, 'idempotency.key_reused')).to.equal(true);
  });

  it('answers idempotency.in_progress while a first attempt runs, and lets a failed attempt be retried', async () => {
    const store = new MemoryStore();
    await store.claim('s', 'k', requestFingerprint(request({}, 'k')), 'aa'); // a first attempt still running
    const busy = await replayable(store, request({}, 'k'), 's', async () => ({ status: 201, body: {} })).catch((e: unknown) => e);
    expect(isKeywardError(busy, 'idempotency.in_progress')).to.equal(true);
    const failing = await idempotent(store, 's', 'k2', 'h', async () => {
      throw new Error('Keycloak said no');
    }).catch((e: Error) => e.message);
    expect(failing).to.equal('Keycloak said no');
    expect(store.rows.has('s\0k2'), 'the key is given up').to.equal(false);
    const again = await idempotent(store, 's', 'k2', 'h', async () => ({ status: 201, body: { ok: true } }));
    expect(again).to.deep.equal({ status: 201, body: { ok: true }, replayed: false });
  });

  it('creates anew after an abandoned first attempt when nothing can be found again', async () => {
    const store = new MemoryStore();
    await store.claim('s', 'k', 'h', 'aa');
    store.rows.get('s\0k')!.age = 120;
    const out = await idempotent(store, 's', 'k', 'h', async (serial) => ({ status: 201, body: { serial } }));
    expect(out).to.deep.equal({ status: 201, body: { serial: 'aa' }, replayed: false });
  });
});
