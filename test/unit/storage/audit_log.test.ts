/** The audit trail's insert, built from parameters, inside the caller's transaction (a recording fake here). */
import { expect } from 'chai';
import { SYSTEM_ACTOR } from '../../../services/keyward/src/audit/event.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { AUDIT_EVENT_COLUMNS, AuditLog } from '../../../services/keyward/src/storage/audit_log.ts';
import type { Queryable } from '../../../services/keyward/src/storage/database.ts';

const NOW = '2026-11-01T00:00:00.000Z';

describe('storage: audit log', () => {
  const log = new AuditLog(frozenClock(NOW));

  it("records an event as one INSERT of its row, with a fresh id and the clock's time", async () => {
    const seen: Array<{ sql: unknown; params: unknown[] | undefined }> = [];
    const q = { query: async (sql: unknown, params?: unknown[]) => (seen.push({ sql, params }), { rows: [], rowCount: 1 }) };
    await log.record(q as unknown as Queryable, { action: 'approval.expired', actor: SYSTEM_ACTOR, realm: 'demo', target: 'a1' });
    expect(seen).to.have.length(1);
    expect(seen[0]!.sql).to.equal(`INSERT INTO audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) VALUES ($1, $2, $3, $4, $5, $6, $7)`);
    const [id, at, ...rest] = seen[0]!.params!;
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    expect((at as Date).toISOString()).to.equal(NOW);
    expect(rest).to.deep.equal(['demo', '{"kind":"system","id":"keyward"}', 'approval.expired', 'a1', '{}']);
  });

  it('writes an event without realm, target or details as NULL, NULL and {}', () => {
    const row = log.row({ action: 'realm.created', actor: SYSTEM_ACTOR });
    expect(Object.keys(row)).to.deep.equal([...AUDIT_EVENT_COLUMNS]);
    expect([row.realm, row.target, row.details]).to.deep.equal([null, null, '{}']);
  });

  it("numbers the insert's parameters after another statement's", () => {
    const { sql, params } = log.insertSql({ action: 'certificate.issued', actor: SYSTEM_ACTOR }, 14);
    expect(sql).to.match(/VALUES \(\$15, \$16, \$17, \$18, \$19, \$20, \$21\)$/);
    expect(params).to.have.length(7);
  });
});
