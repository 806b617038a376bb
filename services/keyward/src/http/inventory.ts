/**
 * The certificate inventory as CSV (RFC 4180) or JSON Lines
 * (application/x-ndjson): one line per certificate, written as the database
 * cursor yields its batches, waiting for the client to drain the socket
 * between batches, so an export of a million certificates holds one batch in
 * memory at a time.
 */
import type { Response } from 'express';
import type { CertificateSummary } from '../issuance/ports.ts';

export const INVENTORY_TYPES = ['text/csv', 'application/x-ndjson'] as const;
export type InventoryType = (typeof INVENTORY_TYPES)[number];

/** The columns of an export, in order. */
export const INVENTORY_COLUMNS = [
  'serialNumber',
  'subject',
  'sans',
  'policy',
  'status',
  'notBefore',
  'notAfter',
  'revokedAt',
  'revocationReason',
  'requesterKind',
  'requesterId',
  'requesterName',
  'endEntity',
  'requestId',
  'keyType',
  'createdAt',
] as const;

type Row = Record<(typeof INVENTORY_COLUMNS)[number], string | readonly string[] | undefined>;

function row(c: CertificateSummary, now: Date): Row {
  return {
    serialNumber: c.serial,
    subject: c.subject,
    sans: c.sans,
    policy: c.policy,
    status: c.status === 'valid' && c.notAfter <= now ? 'expired' : c.status,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    revokedAt: c.revokedAt?.toISOString(),
    revocationReason: c.revocationReason,
    requesterKind: c.requester.kind,
    requesterId: c.requester.id,
    requesterName: c.requester.name,
    endEntity: c.endEntity,
    requestId: c.requestId,
    keyType: c.keyType,
    createdAt: c.createdAt.toISOString(),
  };
}

/**
 * A CSV field (RFC 4180 §2): quoted when it holds a comma, quote or line break; a leading =, +, - or @ is
 * prefixed with ' (spreadsheets would run it as a formula).
 */
function csvField(v: string | readonly string[] | undefined): string {
  let s = v === undefined ? '' : Array.isArray(v) ? v.join(' ') : (v as string);
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The lines of one batch. */
export function inventoryLines(type: InventoryType, batch: readonly CertificateSummary[], now: Date): string {
  if (type === 'application/x-ndjson') return batch.map((c) => JSON.stringify(row(c, now)) + '\n').join('');
  return batch.map((c) => INVENTORY_COLUMNS.map((k) => csvField(row(c, now)[k])).join(',') + '\r\n').join('');
}

/** Until the socket takes more (or the client is gone), leaving no listener behind. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Streams the batches to `res` (headers sent before the first batch is read, so a failure mid-way cuts the body). */
export async function sendInventory(
  res: Response,
  type: InventoryType,
  batches: AsyncIterable<readonly CertificateSummary[]>,
  now: Date,
): Promise<void> {
  res.status(200).type(type === 'text/csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson');
  res.setHeader('Content-Disposition', `attachment; filename="certificates.${type === 'text/csv' ? 'csv' : 'ndjson'}"`);
  if (type === 'text/csv') res.write(INVENTORY_COLUMNS.join(',') + '\r\n');
  for await (const batch of batches) {
    if (res.destroyed) break; // the client went away: returning closes the cursor
    if (!res.write(inventoryLines(type, batch, now))) await drained(res);
  }
  res.end();
}
