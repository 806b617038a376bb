/**
 * Delivering webhooks, at least once: the leader replica fans outbox events
 * out to the matching webhooks, then sends each due delivery, signed per
 * Standard Webhooks with the same webhook-id and body on every attempt. A
 * failed attempt (no answer within the timeout, a refused destination, or a
 * status other than 2xx) is retried with exponential back-off — base × 2^n,
 * ±20 % jitter, capped — until the attempt cap; then the delivery is `failed`
 * and stays in the log, where it can be redelivered.
 */
import type { Logger } from '../kernel/log.ts';
import type { Clock } from '../kernel/clock.ts';
import { CLOUDEVENTS_JSON } from './cloudevents.ts';
import type { PostResult } from './destination.ts';
import type { DueDelivery, WebhookStore } from './ports.ts';
import { signedHeaders } from './standard_webhooks.ts';

export interface RetryPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxAttempts: number;
}

/** The wait before attempt `attempts + 1`, after `attempts` failed ones. */
export function backoffMs(policy: RetryPolicy, attempts: number, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(Math.min(policy.maxMs, exp * (0.8 + 0.4 * random())));
}

export interface WebhookDeliveryDeps {
  readonly store: WebhookStore;
  /** Sends one attempt (events/destination.ts post, bound to the allowed networks and the timeout). */
  readonly send: (url: string, headers: Record<string, string>, body: string) => Promise<PostResult>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly retry: RetryPolicy;
  /** Attempts in flight at once. */
  readonly concurrency?: number;
  /** How long a claimed delivery is left to this worker (longer than an attempt's timeout). */
  readonly claimMs: number;
}

/** How long an event stays in the outbox after its fan-out (a trace of what was sent), in days. */
export const OUTBOX_KEEP_DAYS = 7;
/** How long a finished delivery stays in the delivery log, in days. */
export const DELIVERY_LOG_KEEP_DAYS = 30;
const DAY_MS = 86_400_000;

export class WebhookDelivery {
  readonly #d: WebhookDeliveryDeps;
  #purgedAt = -Infinity;
  constructor(deps: WebhookDeliveryDeps) {
    this.#d = deps;
  }

  /** One round: fan out what the outbox holds, then attempt every due delivery. */
  async run(): Promise<{ fannedOut: number; attempted: number }> {
    let fannedOut = 0;
    for (let n = await this.#d.store.fanOut(500); n > 0; n = await this.#d.store.fanOut(500)) fannedOut += n;
    let attempted = 0;
    for (;;) {
      const due = await this.#d.store.claimDue(this.#d.clock.now(), this.#d.concurrency ?? 8, this.#d.claimMs);
      if (!due.length) break;
      await Promise.all(due.map((x) => this.#attempt(x)));
      attempted += due.length;
    }
    if (performance.now() - this.#purgedAt > 3_600_000) {
      const now = this.#d.clock.now().getTime();
      await this.#d.store.purge(new Date(now - OUTBOX_KEEP_DAYS * DAY_MS), new Date(now - DELIVERY_LOG_KEEP_DAYS * DAY_MS));
      this.#purgedAt = performance.now();
    }
    return { fannedOut, attempted };
  }

  async #attempt(x: DueDelivery): Promise<void> {
    const at = this.#d.clock.now();
    const started = performance.now();
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const headers = { 'content-type': CLOUDEVENTS_JSON, ...signedHeaders(x.secret, x.id, Math.floor(at.getTime() / 1000), x.body) };
      statusCode = (await this.#d.send(x.url, headers, x.body)).statusCode;
      if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
    } catch (err) {
      error = (err as Error).message.slice(0, 300);
    }
    const attempt = x.attempts + 1;
    const done = error === undefined;
    const failed = !done && attempt >= this.#d.retry.maxAttempts;
    const next = done || failed ? undefined : new Date(at.getTime() + backoffMs(this.#d.retry, attempt));
    if (!done) this.#d.log.info('webhook attempt failed', { realm: x.realm, webhook: x.webhook, delivery: x.id, attempt, error });
    await this.#d.store.recordAttempt(
      x.id,
      { attempt, at, statusCode, error, durationMs: Math.round(performance.now() - started) },
      { status: done ? 'delivered' : failed ? 'failed' : 'pending', nextAttemptAt: next },
    );
  }
}
