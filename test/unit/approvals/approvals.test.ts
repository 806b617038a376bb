/** The generic approval mechanism, with a kind of its own (nothing of settings or devices), in memory and a frozen clock. */
import { expect } from 'chai';
import { ApprovalService, type ApprovalKind } from '../../../services/keyward/src/approvals/approvals.ts';
import type { Principal } from '../../../services/keyward/src/authn/principal.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { MemoryApprovals, REALM, refusal, user } from './fakes.ts';

/** The state a kind changes, standing in for the store's transaction. */
interface Shelf {
  published: string[];
  failNext: boolean;
}

function setup() {
  const clock = frozenClock('2026-11-01T00:00:00Z');
  const shelf: Shelf = { published: [], failNext: false };
  const store = new MemoryApprovals(shelf);
  const approvals = new ApprovalService({ store, clock, ttlSeconds: 600 });
  const abandoned: string[] = [];
  const reviewers = new Set(['id-rita', 'id-rob']);
  const kind: ApprovalKind<{ title: string }, Shelf> = {
    authorize: async (p: Principal) => {
      if (!reviewers.has(p.subject)) throw new KeywardError('auth.forbidden', `${p.username} reviews no books`);
    },
    prepare: async (a, approver) => ({
      effect: { title: String(a.payload.title) },
      audit: [{ action: 'book.published', actor: { kind: 'user', id: approver.subject }, realm: a.realm, target: String(a.payload.title) }],
    }),
    apply: async (tx, e) => {
      if (tx.failNext) throw new Error('the shelf is full');
      tx.published.push(e.title);
    },
    abandon: async (e) => void abandoned.push(e.title),
  };
  approvals.register('books.publish', kind);
  return { clock, shelf, store, approvals, abandoned };
}

describe('approvals (generic)', () => {
  it("applies a registered kind's effect in the decision, once, with the kind's audit events after approval.approved", async () => {
    const w = setup();
    const a = await w.approvals.propose(REALM, 'books.publish/dune', user('paul'), { title: 'Dune' });
    expect(a).to.deep.include({ kind: 'books.publish/dune', status: 'pending', change: { title: 'Dune' } });
    expect(w.shelf.published).to.deep.equal([]);
    expect((await w.approvals.approve(REALM, a.id, user('rita'))).status).to.equal('approved');
    expect(w.shelf.published).to.deep.equal(['Dune']);
    expect(w.store.audit.map((e) => e.action)).to.deep.equal(['approval.proposed', 'approval.approved', 'book.published']);
    expect((await refusal(w.approvals.approve(REALM, a.id, user('rob')))).code).to.equal('approval.not_pending');
    expect(w.shelf.published).to.deep.equal(['Dune']);
  });

  it('stores no decision when the effect fails, and lets the kind undo its outside work', async () => {
    const w = setup();
    const a = await w.approvals.propose(REALM, 'books.publish/dune', user('paul'), { title: 'Dune' });
    w.shelf.failNext = true;
    let err: unknown;
    await w.approvals.approve(REALM, a.id, user('rita')).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.equal('the shelf is full');
    expect(w.abandoned).to.deep.equal(['Dune']);
    expect((await w.approvals.get(REALM, a.id, user('rita'))).status).to.equal('pending');
  });

  it('keeps one pending approval per kind and subject: another subject of the same kind may wait beside it', async () => {
    const w = setup();
    await w.approvals.propose(REALM, 'books.publish/dune', user('paul'), { title: 'Dune' });
    const e = await refusal(w.approvals.propose(REALM, 'books.publish/dune', user('paul'), { title: 'Dune' }));
    expect(e.code).to.equal('approval.already_pending');
    expect((await w.approvals.propose(REALM, 'books.publish/emma', user('paul'), { title: 'Emma' })).status).to.equal('pending');
  });

  it('lists only what the caller may review, and refuses a caller who may review nothing', async () => {
    const w = setup();
    await w.approvals.propose(REALM, 'books.publish/dune', user('paul'), { title: 'Dune' });
    expect((await w.approvals.list(REALM, user('rob'))).map((a) => a.kind)).to.deep.equal(['books.publish/dune']);
    expect((await refusal(w.approvals.list(REALM, user('paul')))).code).to.equal('auth.forbidden');
  });

  it('treats registration mistakes and unknown kinds as misuse (TypeError)', async () => {
    const w = setup();
    const rules = { authorize: async () => {}, prepare: async () => ({ effect: 1, audit: [] }), apply: async () => {} };
    expect(() => w.approvals.register('books.publish', rules)).to.throw(TypeError, /already registered/);
    expect(() => w.approvals.register('books.publish/x', rules)).to.throw(TypeError, /without \//);
    let err: unknown;
    await w.approvals.propose(REALM, 'films.release', user('paul'), {}).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
    expect(() => new ApprovalService({ store: w.store, clock: w.clock, ttlSeconds: 0 })).to.throw(TypeError);
  });
});
