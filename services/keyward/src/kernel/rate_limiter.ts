/**
 * A token bucket per key (e.g. a source address): `perMinute` events a
 * minute on average, bursts up to `burst`. In memory, so per server process.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;

  constructor(options: { perMinute: number; burst?: number; now?: () => number }) {
    if (!(options.perMinute > 0)) throw new TypeError('perMinute must be positive');
    this.#perMs = options.perMinute / 60_000;
    this.#burst = options.burst ?? Math.max(1, Math.ceil(options.perMinute / 2));
    this.#now = options.now ?? Date.now;
  }

  /** Takes one token: 0 when allowed, else the seconds to wait before the next one. */
  take(key: string): number {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
    b.at = now;
    if (this.#buckets.size > 10_000) this.#prune(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.#buckets.set(key, b);
      return 0;
    }
    this.#buckets.set(key, b);
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs / 1000));
  }

  /** Forgets buckets that have refilled (they equal a fresh one). */
  #prune(now: number): void {
    for (const [k, b] of this.#buckets) if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(k);
  }
}
