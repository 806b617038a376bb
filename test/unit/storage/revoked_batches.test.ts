/** The streamed CRL's read: the revoked list through a cursor, a batch per FETCH, closed at the end (a recording fake here). */
import { expect } from 'chai';
import type { Queryable } from '../../../services/keyward/src/storage/database.ts';
import { revokedBatches } from '../../../services/keyward/src/storage/issuance_store.ts';

const AT = new Date('2026-11-01T00:00:00Z');

/** A Queryable that answers each FETCH with the next rows of `rows`, recording every statement. */
function cursorFake(rows: number) {
  const seen: Array<{ sql: string; params: unknown[] | undefined }> = [];
  let at = 0;
  const q = {
    query: async (sql: string, params?: unknown[]) => {
      seen.push({ sql, params });
      const fetch = /^FETCH FORWARD (\d+) FROM keyward_revoked$/.exec(sql);
      if (!fetch) return { rows: [], rowCount: 0 };
      const n = Math.min(Number(fetch[1]), rows - at);
      const out = Array.from({ length: n }, (_, i) => ({
        serial: (at + i + 1).toString(16),
        revoked_at: AT,
        revocation_reason: 'keyCompromise',
      }));
      at += n;
      return { rows: out, rowCount: n };
    },
  };
  return { q: q as unknown as Queryable, seen };
}

describe('storage: revoked list for the streamed CRL (revokedBatches)', () => {
  it('declares one cursor over the CRL order, fetches batch by batch and closes it', async () => {
    const { q, seen } = cursorFake(7);
    const got: string[][] = [];
    for await (const b of revokedBatches(q, 'ca-1', 3)) got.push(b.map((e) => e.serialHex));
    expect(got).to.deep.equal([['1', '2', '3'], ['4', '5', '6'], ['7']]);
    expect(seen.map((s) => s.sql)).to.deep.equal([
      'DECLARE keyward_revoked NO SCROLL CURSOR FOR SELECT serial, revoked_at, revocation_reason ' +
        "FROM certificates WHERE ca_id = $1 AND status = 'revoked' ORDER BY revoked_at, serial",
      'FETCH FORWARD 3 FROM keyward_revoked',
      'FETCH FORWARD 3 FROM keyward_revoked',
      'FETCH FORWARD 3 FROM keyward_revoked',
      'CLOSE keyward_revoked',
    ]);
    expect(seen[0]!.params).to.deep.equal(['ca-1']);
  });

  it('turns rows into CRL entries and stops after an exact last batch with one empty FETCH', async () => {
    const { q, seen } = cursorFake(4);
    const all = [];
    for await (const b of revokedBatches(q, 'ca-1', 2)) all.push(...b);
    expect(all).to.deep.equal(['1', '2', '3', '4'].map((serialHex) => ({ serialHex, revokedAt: AT, reason: 'keyCompromise' })));
    expect(seen.filter((s) => s.sql.startsWith('FETCH'))).to.have.length(3);
    expect(seen.at(-1)!.sql).to.equal('CLOSE keyward_revoked');
  });

  it('closes the cursor when the reader stops early, and refuses a batch that is not a positive integer', async () => {
    const { q, seen } = cursorFake(10);
    for await (const b of revokedBatches(q, 'ca-1', 2)) {
      expect(b).to.have.length(2);
      break;
    }
    expect(seen.at(-1)!.sql).to.equal('CLOSE keyward_revoked');
    for (const bad of [0, -1, 1.5]) {
      let error: unknown;
      try {
        for await (const _ of revokedBatches(q, 'ca-1', bad)) void _;
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(TypeError);
    }
  });
});
