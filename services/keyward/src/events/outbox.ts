/**
 * The transactional outbox: an event is a row written in the transaction of
 * the change it reports, so it exists if and only if the change commits — a
 * rolled-back issuance sends nothing, and a committed one is sent at least
 * once, even when the process dies right after the commit. The delivery
 * worker (./delivery.ts) reads the rows later, on one replica.
 *
 * This module knows nothing of the events' producers: any store that holds a
 * transaction passes it in.
 */
import { randomUUID } from 'node:crypto';
import type { EventInput } from './catalogue.ts';

/** What recordEvent needs of a transaction: one statement (a pg client or Keyward's Queryable). */
export interface EventTx {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The columns of an outbox row, in {@link outboxRow}'s order. */
export const OUTBOX_COLUMNS = ['id', 'type', 'realm', 'subject', 'data', 'at'] as const;

/** The row of `event` in event_outbox; its id (the CloudEvents id) and time are drawn now. */
export function outboxRow(event: EventInput, at: Date): unknown[] {
  return [randomUUID(), event.type, event.realm, event.subject ?? null, JSON.stringify(event.data), at];
}

/** The INSERT of one outbox row, parameters numbered from `offset + 1` (to join another statement). */
export function outboxInsertSql(offset: number): string {
  const p = OUTBOX_COLUMNS.map((_, i) => `$${offset + i + 1}`);
  return `INSERT INTO event_outbox (${OUTBOX_COLUMNS.join(', ')}) VALUES (${p.join(', ')})`;
}

/**
 * Records an event inside the caller's transaction.
 * @example
 * await db.tx(async (q) => {
 *   await q.query('UPDATE …');
 *   await recordEvent(q, { type: 'certificate.held', realm, subject: serial, data: { serialNumber: serial } });
 * });
 */
export async function recordEvent(tx: EventTx, event: EventInput, at: Date = new Date()): Promise<void> {
  await tx.query(outboxInsertSql(0), outboxRow(event, at));
}
