import { expect } from 'chai';
import { TtlCache } from '../../../services/keyward/src/kernel/ttl_cache.ts';

class Outage extends Error {}
const isOutage = (err: unknown) => err instanceof Outage;

/** A source whose answers the test controls: a value, an outage, or no answer at all (a stopped server). */
class Source {
  value = 'v1';
  mode: 'up' | 'down' | 'hang' = 'up';
  calls = 0;
  #hung: Array<() => void> = [];
  load = (): Promise<string> => {
    this.calls++;
    if (this.mode === 'up') return Promise.resolve(this.value);
    if (this.mode === 'down') return Promise.reject(new Outage('unreachable'));
    return new Promise((_, reject) => this.#hung.push(() => reject(new Outage('timed out'))));
  };
  timeOut(): void {
    for (const f of this.#hung.splice(0)) f();
  }
}

describe('ttl cache', () => {
  let now: number;
  let source: Source;
  beforeEach(() => {
    now = 0;
    source = new Source();
  });

  it('shares one load among concurrent misses and keeps the value for its time bound', async () => {
    const cache = new TtlCache<string, string>(1000, { now: () => now });
    const all = await Promise.all(Array.from({ length: 10 }, () => cache.get('k', source.load)));
    expect(all).to.deep.equal(Array(10).fill('v1'));
    expect(source.calls).to.equal(1);
    source.value = 'v2';
    now = 999;
    expect(await cache.get('k', source.load)).to.equal('v1');
    now = 1000;
    expect(await cache.get('k', source.load)).to.equal('v2');
  });

  it('does not keep a failed load, and without stale-if-error an outage is an error', async () => {
    const cache = new TtlCache<string, string>(1000, { now: () => now });
    await cache.get('k', source.load);
    now = 2000;
    source.mode = 'down';
    let failed = 0;
    for (let i = 0; i < 2; i++) await cache.get('k', source.load).catch(() => failed++);
    expect(failed).to.equal(2);
    expect(source.calls).to.equal(3);
  });

  describe('stale-if-error', () => {
    const grace = { graceMs: 10_000, isOutage, waitMs: 20 };

    it('serves the last value during an outage, for at most the grace period past its time bound', async () => {
      const cache = new TtlCache<string, string>(1000, { now: () => now, staleIfError: grace });
      await cache.get('k', source.load);
      source.mode = 'down';
      now = 1500;
      expect(await cache.get('k', source.load)).to.equal('v1');
      expect(cache.degraded).to.equal(true);
      now = 11_000; // 1 s bound + 10 s grace
      expect(await cache.get('k', source.load)).to.equal('v1');
      now = 11_001;
      const err = await cache.get('k', source.load).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Outage);
      expect(cache.staleServed).to.equal(2);
    });

    it('does not serve stale values for an answer that is not an outage', async () => {
      const cache = new TtlCache<string, string>(1000, { now: () => now, staleIfError: grace });
      await cache.get('k', source.load);
      now = 1500;
      const notFound = new Error('not found');
      const err = await cache
        .get('k', () => Promise.reject(notFound))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).to.equal(notFound);
    });

    it('once the source is known to be down, answers without waiting for its timeout, and asks it once at a time', async () => {
      const cache = new TtlCache<string, string>(1000, { now: () => now, staleIfError: grace });
      await cache.get('k', source.load);
      source.mode = 'hang';
      now = 1500;
      const first = cache.get('k', source.load); // waits for the source's timeout: the outage is not known yet
      source.timeOut();
      expect(await first).to.equal('v1');
      const calls = source.calls;
      const answers = await Promise.all(Array.from({ length: 5 }, () => cache.get('k', source.load)));
      expect(answers).to.deep.equal(Array(5).fill('v1'));
      expect(source.calls - calls).to.equal(1, 'one reload while down, shared');
      source.timeOut();
    });

    it('is fresh again as soon as the source answers', async () => {
      const cache = new TtlCache<string, string>(1000, { now: () => now, staleIfError: grace });
      await cache.get('k', source.load);
      source.mode = 'down';
      now = 1500;
      expect(await cache.get('k', source.load)).to.equal('v1');
      source.mode = 'up';
      source.value = 'v2';
      now = 1600; // still known down: the source is asked and answers at once
      expect(await cache.get('k', source.load)).to.equal('v2');
      expect(cache.degraded).to.equal(false);
      source.value = 'v3';
      expect(await cache.get('k', source.load)).to.equal('v2', 'and cached again for its time bound');
    });

    it('forgets the last values on clear', async () => {
      const cache = new TtlCache<string, string>(1000, { now: () => now, staleIfError: grace });
      await cache.get('k', source.load);
      cache.clear();
      source.mode = 'down';
      now = 1500;
      const err = await cache.get('k', source.load).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Outage);
    });
  });
});
