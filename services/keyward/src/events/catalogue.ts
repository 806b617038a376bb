/**
 * The lifecycle events Keyward sends to webhooks. A change records its event
 * with {@link recordEvent} (./outbox.ts) in its own transaction; the delivery
 * worker turns each into a CloudEvents 1.0 message (./cloudevents.ts) for the
 * realm's webhooks that subscribed to its type.
 *
 * Names are `noun.state` as in the audit trail; on the wire the CloudEvents
 * `type` is the name under the reverse-DNS prefix {@link CLOUDEVENT_TYPE_PREFIX}
 * (`io.keyward.certificate.issued`), as the CloudEvents specification
 * recommends for producers.
 */

export const EVENT_TYPES = [
  'certificate.issued',
  'certificate.revoked',
  'certificate.held',
  'certificate.released',
  'certificate.expiring',
  'certificate_request.pending',
  'approval.pending',
  'device.pending',
  'identity.requester_removed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (s: string): s is EventType => (EVENT_TYPES as readonly string[]).includes(s);

/** What each event says, for the documentation and the OpenAPI description. */
export const EVENT_DESCRIPTIONS: Readonly<Record<EventType, string>> = {
  'certificate.issued': 'A certificate was issued (subject: its serial).',
  'certificate.revoked': 'A certificate was revoked (subject: its serial; data.reason).',
  'certificate.held': 'A certificate was put on hold (certificateHold, RFC 5280 §5.3.1).',
  'certificate.released': 'A certificate on hold was released (removeFromCRL).',
  'certificate.expiring':
    'A valid certificate expires within a threshold (data.thresholdDays), found by the periodic sweep; once per certificate and threshold.',
  'certificate_request.pending': 'A certificate request waits for an approver (subject: the request id).',
  'approval.pending': 'A change under dual control waits for a second admin (subject: the approval id).',
  'device.pending': 'A device certificate waits for an admin to accept it (subject: the pending certificate id).',
  'identity.requester_removed': 'The Keycloak user or client that requested certificates is gone or disabled (subject: the requester id).',
};

/** The reverse-DNS prefix of the CloudEvents `type`. */
export const CLOUDEVENT_TYPE_PREFIX = 'io.keyward.';

/** One event, as a change records it. */
export interface EventInput {
  readonly type: EventType;
  readonly realm: string;
  /** What the event is about, in the realm: a serial, a request or approval id (the CloudEvents `subject`). */
  readonly subject?: string | undefined;
  /** The CloudEvents `data`: JSON, never a secret. */
  readonly data: Readonly<Record<string, unknown>>;
}
