/**
 * Leadership among replicas for one periodic task, through a lease row in
 * PostgreSQL: the holder renews it every third of its time; another replica
 * takes it over only once it has expired. A lease rather than a session
 * advisory lock, because a stalled replica (a paused container, a long
 * stop-the-world pause, SIGSTOP) keeps its connections, and with them its
 * locks, but stops renewing.
 *
 * A holder counts itself leader only while its last renewal is younger than
 * half the lease time by its own monotonic clock, which keeps running while
 * the process is stopped: a replica that wakes up after a long stall does no
 * periodic work before it has renewed, and by then another replica may hold
 * the lease.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../kernel/log.ts';
import type { Queryable } from './database.ts';

export interface LeaderLeaseOptions {
  /** The task: one leader per name. */
  readonly name: string;
  /** How long a lease lasts without renewal, in seconds (at least 1). */
  readonly seconds: number;
  readonly log?: Logger | undefined;
  /** This replica's id in the lease row (default: its pid and a random suffix). */
  readonly holder?: string | undefined;
  /** Monotonic milliseconds (tests drive them to play a stalled process). */
  readonly now?: () => number;
}

export class LeaderLease {
  readonly #db: Queryable;
  readonly #name: string;
  readonly #seconds: number;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly holder: string;
  #renewedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<boolean> | undefined;
  #held = false;

  constructor(db: Queryable, options: LeaderLeaseOptions) {
    if (!(options.seconds >= 1)) throw new TypeError('a lease lasts at least 1 s');
    this.#db = db;
    this.#name = options.name;
    this.#seconds = options.seconds;
    this.#log = options.log;
    this.#now = options.now ?? (() => performance.now());
    this.holder = options.holder ?? `${process.pid}-${randomBytes(4).toString('hex')}`;
  }

  /** Whether this replica holds the lease now: renewed within half the lease time. */
  get isLeader(): boolean {
    return this.#now() - this.#renewedAt < (this.#seconds * 1000) / 2;
  }

  /** Acquires or renews the lease once; true when this replica holds it. */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renew(): Promise<boolean> {
    const started = this.#now();
    let held = false;
    try {
      const res = await this.#db.query<{ holder: string }>(
        `INSERT INTO leader_leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (name) DO UPDATE
           SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
               acquired_at = CASE WHEN leader_leases.holder = EXCLUDED.holder THEN leader_leases.acquired_at ELSE now() END
           WHERE leader_leases.holder = EXCLUDED.holder OR leader_leases.expires_at < now()
         RETURNING holder`,
        [this.#name, this.holder, this.#seconds],
      );
      held = res.rows[0]?.holder === this.holder;
    } catch (err) {
      this.#log?.warn('could not renew a leader lease; the task pauses on this replica', { lease: this.#name, err });
    }
    this.#renewedAt = held ? started : -Infinity;
    if (held !== this.#held) {
      this.#log?.info(held ? 'this replica now runs a periodic task' : 'another replica runs a periodic task', { lease: this.#name });
      this.#held = held;
    }
    return held;
  }

  /** Renews now and every third of the lease time, until {@link stop}. */
  start(): this {
    if (this.#timer) return this;
    void this.renew();
    this.#timer = setInterval(() => void this.renew(), (this.#seconds * 1000) / 3).unref();
    return this;
  }

  /** Stops renewing and gives the lease up, so that another replica takes over at its next renewal (a clean stop). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
    if (!this.#held) return;
    this.#renewedAt = -Infinity;
    this.#held = false;
    await this.#db
      .query('DELETE FROM leader_leases WHERE name = $1 AND holder = $2', [this.#name, this.holder])
      .catch((err: unknown) => this.#log?.warn('could not give a leader lease up; it expires by itself', { lease: this.#name, err }));
  }

  /** Runs `work` when this replica is the leader; otherwise does nothing. */
  async whenLeader(work: () => Promise<unknown>): Promise<void> {
    if (this.isLeader) await work();
  }
}
