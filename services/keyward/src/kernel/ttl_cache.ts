/**
 * A small time-bounded cache with in-flight de-duplication: concurrent misses
 * share one load. Used where a short, documented staleness buys the hot path
 * its speed (realms, policies, default policies, roles).
 *
 * With `staleIfError`, a value older than the time bound is still served when
 * reloading it fails with an outage of its source (RFC 5861's stale-if-error),
 * for at most `graceMs` past its time bound. Once the source is known to be
 * down (from the failed load that saw the outage until the next load that
 * succeeds), it is still asked, once at a time per key, but a caller waits for
 * it only `waitMs` before being served the last value, so callers do not each
 * wait for the source's timeout; the first answer from the source makes values
 * fresh again.
 */
export interface StaleIfError {
  /** How long past its time bound a value may still be served while its source is down. */
  readonly graceMs: number;
  /** Whether a failed load means the source is unreachable (as opposed to a real answer, such as "not found"). */
  readonly isOutage: (err: unknown) => boolean;
  /** While the source counts as down, how long a caller waits for it before being served the last value (default 250 ms). */
  readonly waitMs?: number;
}

interface Entry<V> {
  /** The value being loaded, or the last loaded one. */
  value: Promise<V>;
  expires: number;
  /** The last value that loaded, and when: what stale-if-error serves. */
  last?: { readonly value: V; readonly at: number };
  /** A reload under way while the source is down. */
  refreshing?: Promise<V> | undefined;
}

const STALE: unique symbol = Symbol('stale');

export class TtlCache<K, V> {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #stale: StaleIfError | undefined;
  readonly #entries = new Map<K, Entry<V>>();
  #down = false;
  #staleServed = 0;

  constructor(ttlMs: number, options: { max?: number; now?: () => number; staleIfError?: StaleIfError | undefined } = {}) {
    this.#ttlMs = ttlMs;
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#stale = options.staleIfError;
  }

  get(key: K, load: () => Promise<V>): Promise<V> {
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const stale = this.#servable(hit, now);
    if (hit && stale && this.#down) {
      // The source is known to be down: ask it again (once at a time), but answer with the last
      // value unless it answers at once. The entry stays as it is until the source answers.
      const refresh = (hit.refreshing ??= this.#load(key, load, hit, false).finally(() => (hit.refreshing = undefined)));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<typeof STALE>((resolve) => (timer = setTimeout(resolve, this.#stale!.waitMs ?? 250, STALE)));
      return Promise.race([refresh.catch(() => STALE), late]).then((v) => {
        clearTimeout(timer);
        if (v !== STALE) return v as V;
        this.#staleServed++;
        return stale.value;
      });
    }
    if (this.#ttlMs <= 0 && !this.#stale) return load();
    return this.#load(key, load, hit, true);
  }

  #servable(hit: Entry<V> | undefined, now: number): { value: V } | undefined {
    if (!this.#stale || !hit?.last) return undefined;
    return now - hit.last.at <= this.#ttlMs + this.#stale.graceMs ? hit.last : undefined;
  }

  /**
   * Loads a value. `inPlace`: the load is what the key answers while it runs (concurrent misses share it);
   * otherwise (a reload while the source is down) the entry is replaced only once the load succeeded.
   */
  #load(key: K, load: () => Promise<V>, previous: Entry<V> | undefined, inPlace: boolean): Promise<V> {
    const started = this.#now();
    const last = previous?.last;
    const entry: Entry<V> = { value: undefined as unknown as Promise<V>, expires: started + this.#ttlMs, ...(last ? { last } : {}) };
    entry.value = load().then(
      (v) => {
        entry.last = { value: v, at: started };
        this.#down = false;
        if (!inPlace && (this.#ttlMs > 0 || this.#stale)) this.#entries.set(key, entry);
        return v;
      },
      (err: unknown) => {
        if (inPlace && this.#entries.get(key) === entry) {
          if (last) this.#entries.set(key, { value: Promise.resolve(last.value), expires: 0, last });
          else this.#entries.delete(key);
        }
        if (this.#stale?.isOutage(err)) {
          this.#down = true;
          const stale = inPlace ? this.#servable(entry, this.#now()) : undefined;
          if (stale) {
            this.#staleServed++;
            return stale.value;
          }
        }
        throw err;
      },
    );
    if (inPlace && (this.#ttlMs > 0 || this.#stale)) this.#entries.set(key, entry);
    if (this.#entries.size > this.#max) this.#evict(started);
    return entry.value;
  }

  #evict(now: number): void {
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.#max) break;
      if (e.expires <= now && !this.#servable(e, now)) this.#entries.delete(k);
    }
    for (const [k] of this.#entries) {
      if (this.#entries.size <= this.#max) break;
      this.#entries.delete(k);
    }
  }

  /** Whether the source is known to be down: its last load failed with an outage, and none has succeeded since. */
  get degraded(): boolean {
    return this.#down;
  }

  /** How many answers were served stale since start. */
  get staleServed(): number {
    return this.#staleServed;
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
