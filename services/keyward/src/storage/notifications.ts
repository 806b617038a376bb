/**
 * Cache invalidation across replicas through PostgreSQL's LISTEN/NOTIFY: a
 * change announces itself with `pg_notify` inside its own transaction (so the
 * announcement goes out exactly when the change commits, to every replica
 * listening, the writer included), and each replica drops what it cached.
 * A notification can be missed (a replica reconnecting to the database), so
 * every cache keeps its time bound as the fallback; after a reconnection the
 * handlers are called as if everything had changed.
 */
import pg from 'pg';
import type { Logger } from '../kernel/log.ts';
import type { Queryable } from './database.ts';

/** The channels Keyward announces changes on. */
export const CHANNELS = {
  /** A certificate was revoked (payload: the realm). */
  revocation: 'keyward_revocation',
  /** A realm was managed, changed or no longer managed (payload: the realm). */
  realms: 'keyward_realms',
  /** A realm's policies changed (payload: the realm). */
  policies: 'keyward_policies',
  /** A realm's CAs changed: rotated or retired (payload: the realm). */
  cas: 'keyward_cas',
} as const;

export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/** Announces a change on `channel` when the transaction of `q` commits. */
export async function announce(q: Queryable, channel: Channel, payload = ''): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

export class ChangeListener {
  readonly #url: string;
  readonly #log: Logger | undefined;
  readonly #handlers = new Map<Channel, Array<(payload: string | undefined) => void>>();
  #client: pg.Client | undefined;
  #stopped = false;
  #retryMs = 500;
  #timer: NodeJS.Timeout | undefined;
  #connected: Promise<void> | undefined;

  constructor(url: string, log?: Logger) {
    this.#url = url;
    this.#log = log;
  }

  /** Calls `handler` on each announcement on `channel` (payload undefined: after a reconnection, anything may have changed). */
  on(channel: Channel, handler: (payload: string | undefined) => void): this {
    this.#handlers.set(channel, [...(this.#handlers.get(channel) ?? []), handler]);
    return this;
  }

  /** Connects and listens; resolves once listening (or after the first failed attempt, which keeps retrying). */
  start(): Promise<void> {
    this.#connected ??= this.#connect(false);
    return this.#connected;
  }

  async #connect(again: boolean): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true, connectionTimeoutMillis: 5000 });
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      for (const h of this.#handlers.get(n.channel as Channel) ?? []) h(n.payload);
    });
    try {
      await client.connect();
      for (const channel of this.#handlers.keys()) await client.query(`LISTEN ${channel}`);
      this.#client = client;
      this.#retryMs = 500;
      if (again) {
        this.#log?.info('listening for changes of other replicas again');
        for (const hs of this.#handlers.values()) for (const h of hs) h(undefined);
      }
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      this.#lost(client, err);
    }
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#stopped || this.#timer || (this.#client && this.#client !== client)) return;
    this.#client = undefined;
    this.#log?.warn("lost the database connection that hears other replicas' changes; retrying (caches fall back to their time bounds)", {
      err,
    });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect(true);
    }, this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }
}
