/** The certificate search's WHERE clause: one condition per filter, parameters bound, and keyset paging after a serial. */
import { expect } from 'chai';
import { certificateSearch } from '../../../services/keyward/src/storage/issuance_store.ts';

const NOW = new Date('2026-11-01T00:00:00Z');
const page = { first: 0, max: 50 };

describe('storage: certificate search queries (certificateSearch)', () => {
  const cases: Array<[string, Parameters<typeof certificateSearch>[1], string, unknown[]]> = [
    ['no filter', page, 'WHERE realm = $1', ['demo']],
    ['status=revoked', { ...page, status: 'revoked' }, "WHERE realm = $1 AND status = 'revoked'", ['demo']],
    ['status=valid', { ...page, status: 'valid' }, "WHERE realm = $1 AND status = 'valid' AND not_after > $2", ['demo', NOW]],
    ['status=expired', { ...page, status: 'expired' }, "WHERE realm = $1 AND status = 'valid' AND not_after <= $2", ['demo', NOW]],
    ['subject', { ...page, subject: 'web' }, "WHERE realm = $1 AND subject ILIKE '%' || $2 || '%'", ['demo', 'web']],
    ['san', { ...page, san: 'dns:a.example' }, 'WHERE realm = $1 AND sans @> $2::jsonb', ['demo', '["dns:a.example"]']],
    [
      'requester',
      { ...page, requester: 'svc' },
      "WHERE realm = $1 AND (requester->>'name' = $2 OR requester->>'id' = $2)",
      ['demo', 'svc'],
    ],
    ['policy', { ...page, policy: 'web' }, 'WHERE realm = $1 AND policy = $2', ['demo', 'web']],
    ['end entity', { ...page, endEntity: 'gw' }, 'WHERE realm = $1 AND end_entity = $2', ['demo', 'gw']],
    ['expiring before', { ...page, expiringBefore: NOW }, 'WHERE realm = $1 AND not_after < $2', ['demo', NOW]],
  ];
  for (const [name, filter, where, params] of cases) {
    it(`filters by ${name}`, () => {
      const c = certificateSearch('demo', filter, NOW);
      expect([c.where(), c.params]).to.deep.equal([where, params]);
    });
  }

  it('pages by keyset after a serial: bounded by its creation time (an index range), ties ordered by serial', () => {
    const c = certificateSearch('demo', { ...page, policy: 'web', after: 'a1b2' }, NOW);
    const at = '(SELECT created_at FROM certificates WHERE serial = $3)';
    expect(c.where()).to.equal(`WHERE realm = $1 AND policy = $2 AND created_at <= ${at} AND (created_at < ${at} OR serial > $3)`);
    expect(c.params).to.deep.equal(['demo', 'web', 'a1b2']);
    expect(c.page(50, 0)).to.equal('LIMIT $4 OFFSET $5');
  });

  it('combines every filter in one statement, each value bound once', () => {
    const c = certificateSearch(
      'demo',
      { ...page, status: 'valid', subject: 's', san: 'dns:x', requester: 'r', policy: 'p', endEntity: 'e', expiringBefore: NOW },
      NOW,
    );
    expect(c.params).to.deep.equal(['demo', NOW, 's', '["dns:x"]', 'r', 'p', 'e', NOW]);
    expect(c.where().match(/\$\d+/g)).to.have.length(9); // requester's value is used twice
  });
});
