/**
 * Outbox rows as CloudEvents 1.0 in the structured JSON mode (CloudEvents
 * JSON Event Format §3): the attributes and `data` in one JSON object, sent
 * with Content-Type `application/cloudevents+json`.
 */
import { CLOUDEVENT_TYPE_PREFIX, type EventType } from './catalogue.ts';

export interface StoredEvent {
  readonly id: string;
  readonly type: EventType;
  readonly realm: string;
  readonly subject: string | undefined;
  readonly data: unknown;
  readonly at: Date;
}

/** The media type of a structured-mode CloudEvent in JSON. */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/**
 * The JSON text of an event, as every attempt of every delivery sends it.
 * @example
 * cloudEvent('https://keyward.example', event)
 * // '{"specversion":"1.0","id":"…","source":"https://keyward.example/v1/realms/demo",…}'
 */
export function cloudEvent(publicUrl: string, e: StoredEvent): string {
  return JSON.stringify({
    specversion: '1.0',
    id: e.id,
    source: `${publicUrl.replace(/\/+$/, '')}/v1/realms/${encodeURIComponent(e.realm)}`,
    type: `${CLOUDEVENT_TYPE_PREFIX}${e.type}`,
    time: e.at.toISOString(),
    ...(e.subject ? { subject: e.subject } : {}),
    datacontenttype: 'application/json',
    data: e.data,
  });
}
