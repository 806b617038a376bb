/**
 * A small time-bounded cache with in-flight de-duplication: concurrent misses
 * share one load. Used where a short, documented staleness buys the hot path
 * its speed (realms, policies, default policies, roles).
 */
export class TtlCache<K, V> {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<K, { value: Promise<V>; expires: number }>();

  constructor(ttlMs: number, options: { max?: number; now?: () => number } = {}) {
    this.#ttlMs = ttlMs;
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get(key: K, load: () => Promise<V>): Promise<V> {
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    if (this.#ttlMs <= 0) return load();
    const value = load();
    this.#entries.set(key, { value, expires: now + this.#ttlMs });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    if (this.#entries.size > this.#max) {
      for (const [k, e] of this.#entries) if (e.expires <= now || this.#entries.size > this.#max) this.#entries.delete(k);
    }
    return value;
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
