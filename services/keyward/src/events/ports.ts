/** What webhooks need from storage (storage/webhook_store.ts implements it on PostgreSQL). */
import type { AuditEventInput } from '../audit/event.ts';
import type { EventType } from './catalogue.ts';

export interface WebhookView {
  readonly realm: string;
  readonly name: string;
  readonly url: string;
  readonly events: readonly EventType[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface AttemptView {
  readonly attempt: number;
  readonly at: Date;
  readonly statusCode: number | undefined;
  readonly error: string | undefined;
  readonly durationMs: number;
}

export interface DeliveryView {
  /** The webhook-id header: the same on every attempt. */
  readonly id: string;
  readonly webhook: string;
  readonly eventId: string;
  readonly eventType: EventType;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly nextAttemptAt: Date | undefined;
  readonly lastStatusCode: number | undefined;
  readonly lastError: string | undefined;
  readonly createdAt: Date;
  readonly deliveredAt: Date | undefined;
  readonly attemptLog?: readonly AttemptView[];
}

/** A delivery the worker is to attempt now: where, with what secret, and the body to send. */
export interface DueDelivery {
  readonly id: string;
  readonly realm: string;
  readonly webhook: string;
  readonly url: string;
  readonly secret: string;
  readonly body: string;
  readonly attempts: number;
}

export interface WebhookStore {
  /** Creates or replaces; `secret` undefined keeps the stored one (a new webhook always has one). */
  put(
    w: { realm: string; name: string; url: string; events: readonly EventType[]; secret: string | undefined },
    at: Date,
    audit: AuditEventInput,
  ): Promise<{ created: boolean; view: WebhookView }>;
  get(realm: string, name: string): Promise<WebhookView | undefined>;
  list(realm: string): Promise<WebhookView[]>;
  delete(realm: string, name: string, audit: AuditEventInput): Promise<boolean>;
  deliveries(realm: string, name: string, o: { max: number; status?: DeliveryView['status'] | undefined }): Promise<DeliveryView[]>;
  delivery(realm: string, name: string, id: string): Promise<DeliveryView | undefined>;
  /** Schedules a delivery again now (whatever its state); false when unknown. */
  redeliver(realm: string, name: string, id: string, at: Date, audit: AuditEventInput): Promise<boolean>;
  /** Turns up to `max` outbox events into deliveries for the matching webhooks; how many events it read. */
  fanOut(max: number): Promise<number>;
  /** Deliveries due at `at`, claimed for `leaseMs` (another worker skips them meanwhile). */
  claimDue(at: Date, max: number, leaseMs: number): Promise<DueDelivery[]>;
  /** Deletes outbox rows fanned out before `eventsBefore` and finished deliveries created before `deliveriesBefore`. */
  purge(eventsBefore: Date, deliveriesBefore: Date): Promise<void>;
  /** Records one attempt and the delivery's next state. */
  recordAttempt(id: string, attempt: AttemptView, next: { status: DeliveryView['status']; nextAttemptAt: Date | undefined }): Promise<void>;
}
