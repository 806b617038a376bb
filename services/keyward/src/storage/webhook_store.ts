/**
 * PostgreSQL implementation of the webhooks port: webhooks with their sealed
 * secrets, the fan-out of the event outbox into deliveries, the delivery log.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../audit/event.ts';
import type { EventType } from '../events/catalogue.ts';
import { cloudEvent } from '../events/cloudevents.ts';
import type { AttemptView, DeliveryView, DueDelivery, WebhookStore, WebhookView } from '../events/ports.ts';
import type { AuditLog } from './audit_log.ts';
import type { Database } from './database.ts';
import { openAnswer, sealAnswer } from './idempotency_store.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const webhook = (r: any): WebhookView => ({
  realm: r.realm,
  name: r.name,
  url: r.url,
  events: r.events,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const delivery = (r: any): DeliveryView => ({
  id: r.id,
  webhook: r.webhook,
  eventId: r.event_id,
  eventType: r.event_type,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at ?? undefined,
  lastStatusCode: r.last_status_code ?? undefined,
  lastError: r.last_error ?? undefined,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at ?? undefined,
});

/** The additional data a secret is sealed with: it cannot be moved to another webhook's row. */
const aad = (realm: string, name: string) => `webhook-secret\0${realm}\0${name}`;

export class PgWebhookStore implements WebhookStore {
  readonly #db: Database;
  readonly #audit: AuditLog;
  readonly #kek: Uint8Array;
  readonly #publicUrl: string;
  constructor(db: Database, audit: AuditLog, kek: Uint8Array, publicUrl: string) {
    this.#db = db;
    this.#audit = audit;
    this.#kek = kek;
    this.#publicUrl = publicUrl;
  }

  put(
    w: { realm: string; name: string; url: string; events: readonly EventType[]; secret: string | undefined },
    at: Date,
    audit: AuditEventInput,
  ): Promise<{ created: boolean; view: WebhookView }> {
    return this.#db.tx(async (q) => {
      const sealed = w.secret === undefined ? null : JSON.stringify(sealAnswer(this.#kek, aad(w.realm, w.name), w.secret));
      const r = (
        await q.query(
          `INSERT INTO webhooks (realm, name, url, events, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (realm, name) DO UPDATE SET url = EXCLUDED.url, events = EXCLUDED.events,
             secret = CASE WHEN $7 THEN EXCLUDED.secret ELSE webhooks.secret END, updated_at = EXCLUDED.updated_at
           RETURNING *, (xmax = 0) AS created`,
          [w.realm, w.name, w.url, w.events, sealed ?? '{}', at, sealed !== null],
        )
      ).rows[0]!;
      await this.#audit.record(q, audit);
      return { created: r.created, view: webhook(r) };
    });
  }

  async get(realm: string, name: string): Promise<WebhookView | undefined> {
    const r = (await this.#db.query('SELECT * FROM webhooks WHERE realm = $1 AND name = $2', [realm, name])).rows[0];
    return r ? webhook(r) : undefined;
  }

  async list(realm: string): Promise<WebhookView[]> {
    return (await this.#db.query('SELECT * FROM webhooks WHERE realm = $1 ORDER BY name', [realm])).rows.map(webhook);
  }

  delete(realm: string, name: string, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const gone = ((await q.query('DELETE FROM webhooks WHERE realm = $1 AND name = $2', [realm, name])).rowCount ?? 0) > 0;
      if (gone) await this.#audit.record(q, audit);
      return gone;
    });
  }

  async deliveries(realm: string, name: string, o: { max: number; status?: DeliveryView['status'] | undefined }): Promise<DeliveryView[]> {
    const r = await this.#db.query(
      `SELECT * FROM webhook_deliveries WHERE realm = $1 AND webhook = $2 AND ($3::text IS NULL OR status = $3)
        ORDER BY created_at DESC, id LIMIT $4`,
      [realm, name, o.status ?? null, o.max],
    );
    return r.rows.map(delivery);
  }

  async delivery(realm: string, name: string, id: string): Promise<DeliveryView | undefined> {
    const r = (await this.#db.query('SELECT * FROM webhook_deliveries WHERE realm = $1 AND webhook = $2 AND id = $3', [realm, name, id]))
      .rows[0];
    if (!r) return undefined;
    const attempts = await this.#db.query('SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt', [id]);
    const attemptLog: AttemptView[] = attempts.rows.map((a: any) => ({
      attempt: a.attempt,
      at: a.at,
      statusCode: a.status_code ?? undefined,
      error: a.error ?? undefined,
      durationMs: a.duration_ms,
    }));
    return { ...delivery(r), attemptLog };
  }

  redeliver(realm: string, name: string, id: string, at: Date, audit: AuditEventInput): Promise<boolean> {
    return this.#db.tx(async (q) => {
      const r = await q.query(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4 WHERE realm = $1 AND webhook = $2 AND id = $3`,
        [realm, name, id, at],
      );
      if (!r.rowCount) return false;
      await this.#audit.record(q, audit);
      return true;
    });
  }

  /**
   * One transaction: locks up to `max` outbox rows not fanned out yet (SKIP LOCKED: a second worker takes others),
   * inserts one delivery per matching webhook — the CloudEvent built once, its bytes stored — and marks the rows.
   */
  fanOut(max: number): Promise<number> {
    return this.#db.tx(async (q) => {
      const events = (
        await q.query(
          `SELECT seq, id, type, realm, subject, data, at FROM event_outbox WHERE NOT fanned_out
            ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [max],
        )
      ).rows;
      if (!events.length) return 0;
      const realms = [...new Set(events.map((e: any) => e.realm as string))];
      const hooks = (await q.query('SELECT realm, name, events FROM webhooks WHERE realm = ANY($1)', [realms])).rows;
      const rows: unknown[][] = [];
      for (const e of events) {
        const body = cloudEvent(this.#publicUrl, {
          id: e.id,
          type: e.type,
          realm: e.realm,
          subject: e.subject ?? undefined,
          data: e.data,
          at: e.at,
        });
        for (const h of hooks)
          if (h.realm === e.realm && (h.events as string[]).includes(e.type))
            rows.push([randomUUID(), e.realm, h.name, e.id, e.type, body, e.at]);
      }
      if (rows.length) {
        await q.query(
          `INSERT INTO webhook_deliveries (id, realm, webhook, event_id, event_type, body, status, next_attempt_at, created_at)
           SELECT d.id, d.realm, d.webhook, d.event_id, d.event_type, d.body, 'pending', now(), d.at
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[])
               AS d (id, realm, webhook, event_id, event_type, body, at)
           ON CONFLICT (realm, webhook, event_id) DO NOTHING`,
          [0, 1, 2, 3, 4, 5, 6].map((i) => rows.map((r) => r[i])),
        );
      }
      await q.query('UPDATE event_outbox SET fanned_out = true WHERE seq = ANY($1)', [events.map((e: any) => e.seq)]);
      return events.length;
    });
  }

  async purge(eventsBefore: Date, deliveriesBefore: Date): Promise<void> {
    await this.#db.query('DELETE FROM event_outbox WHERE fanned_out AND at < $1', [eventsBefore]);
    await this.#db.query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1", [deliveriesBefore]);
  }

  async claimDue(at: Date, max: number, leaseMs: number): Promise<DueDelivery[]> {
    const r = await this.#db.query(
      `UPDATE webhook_deliveries d SET next_attempt_at = $2::timestamptz + make_interval(secs => $3::float8 / 1000)
         FROM webhooks w
        WHERE w.realm = d.realm AND w.name = d.webhook
          AND d.id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2
                        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.id, d.realm, d.webhook, d.body, d.attempts, w.url, w.secret`,
      [max, at, leaseMs],
    );
    return r.rows.map((x: any) => ({
      id: x.id,
      realm: x.realm,
      webhook: x.webhook,
      url: x.url,
      body: x.body,
      attempts: x.attempts,
      secret: openAnswer(this.#kek, aad(x.realm, x.webhook), x.secret) as string,
    }));
  }

  recordAttempt(id: string, a: AttemptView, next: { status: DeliveryView['status']; nextAttemptAt: Date | undefined }): Promise<void> {
    return this.#db.tx(async (q) => {
      await q.query(
        `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [id, a.attempt, a.at, a.statusCode ?? null, a.error ?? null, a.durationMs],
      );
      await q.query(
        `UPDATE webhook_deliveries SET attempts = $2, status = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6,
           delivered_at = CASE WHEN $3 = 'delivered' THEN $7::timestamptz ELSE delivered_at END
         WHERE id = $1`,
        [id, a.attempt, next.status, next.nextAttemptAt ?? null, a.statusCode ?? null, a.error ?? null, a.at],
      );
    });
  }
}
