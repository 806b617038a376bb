/** The approvals store's queries: listing by status at a time, and the due approvals the sweep expires. */
import { expect } from 'chai';
import type { ApprovalStatus } from '../../../services/keyward/src/approvals/ports.ts';
import { approvalListing, dueApprovals } from '../../../services/keyward/src/storage/approval_store.ts';

const AT = new Date('2026-11-01T00:00:00Z');

describe('storage: approval queries', () => {
  const cases: Array<[ApprovalStatus | undefined, string, unknown[]]> = [
    [undefined, 'WHERE realm = $1', ['demo']],
    ['pending', "WHERE realm = $1 AND status = 'pending' AND expires_at > $2", ['demo', AT]],
    ['expired', "WHERE realm = $1 AND (status = 'expired' OR (status = 'pending' AND expires_at <= $2))", ['demo', AT]],
    ['approved', 'WHERE realm = $1 AND status = $2', ['demo', 'approved']],
    ['rejected', 'WHERE realm = $1 AND status = $2', ['demo', 'rejected']],
  ];
  for (const [status, where, params] of cases) {
    it(`lists ${status ?? 'every status'}: a pending approval past its expiry counts as expired`, () => {
      const c = approvalListing('demo', status, AT);
      expect([c.where(), c.params]).to.deep.equal([where, params]);
    });
  }

  it('selects due pending approvals: all, or those of one realm and kind before a new proposal', () => {
    const all = dueApprovals(AT);
    expect([all.where(), all.params]).to.deep.equal(["WHERE status = 'pending' AND expires_at <= $1", [AT]]);
    const one = dueApprovals(AT, { realm: 'demo', kind: 'devices.accept/1' });
    expect([one.where(), one.params]).to.deep.equal([
      "WHERE status = 'pending' AND realm = $1 AND kind = $2 AND expires_at <= $3",
      ['demo', 'devices.accept/1', AT],
    ]);
  });
});
