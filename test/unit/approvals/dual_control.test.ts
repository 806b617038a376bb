/** Dual control over protected settings, with a frozen clock. */
import { expect } from 'chai';
import { REALM, refusal, user } from './fakes.ts';
import { settingsWorld as world } from '../settings/fakes.ts';

describe('dual control (domain)', () => {
  async function guarded(ttlSeconds = 3600) {
    const w = world({ ttlSeconds });
    for (const [n, roles] of [
      ['ada', ['keyward-admin']],
      ['abe', ['keyward-admin']],
      ['ulla', ['keyward-user-admin']],
      ['alice', ['keyward-requester']],
    ] as const)
      w.directory.add(n, [...roles]);
    expect((await w.settings.change(REALM, 'dual_control', { enabled: true }, user('ada'))).outcome).to.equal('applied');
    return w;
  }
  const propose = async (w: Awaited<ReturnType<typeof guarded>>, by: string, input: unknown) => {
    const o = await w.settings.change(REALM, 'personal_access_tokens', input, user(by));
    if (o.outcome !== 'pending') throw new Error('expected a pending change');
    return o.approval;
  };

  it('refuses the proposer under any credential, even a PAT of the same user', async () => {
    const w = await guarded();
    const a = await propose(w, 'ada', { enabled: true });
    for (const credential of ['bearer', 'pat', 'client_certificate'] as const) {
      expect((await refusal(w.approvals.approve(REALM, a.id, user('ada', { credential })))).code).to.equal('approval.self_approval');
    }
    expect((await w.settings.value(REALM, 'personal_access_tokens')).enabled).to.equal(false);
    expect((await w.approvals.approve(REALM, a.id, user('ulla'))).status).to.equal('approved');
    expect((await w.settings.value(REALM, 'personal_access_tokens')).enabled).to.equal(true);
  });

  it('expires a pending change after the TTL: approval.expired, shown as expired, and it no longer blocks', async () => {
    const w = await guarded(60);
    const a = await propose(w, 'ada', { enabled: true });
    w.clock.advance(59_999);
    expect((await w.approvals.get(REALM, a.id, user('ulla'))).status).to.equal('pending');
    w.clock.advance(1);
    expect((await refusal(w.approvals.approve(REALM, a.id, user('ulla')))).code).to.equal('approval.expired');
    expect((await w.approvals.get(REALM, a.id, user('ulla'))).status).to.equal('expired');
    const b = await propose(w, 'ulla', { enabled: true });
    expect(b.id).to.not.equal(a.id);
    expect(w.approvalStore.audit.map((e) => e.action)).to.include('approval.expired');
  });

  it('marks due approvals expired in the sweep, with an event; approving one then still says approval.expired', async () => {
    const w = await guarded(60);
    const a = await propose(w, 'ada', { enabled: true });
    w.clock.advance(61_000);
    expect(await w.approvals.expireDue()).to.equal(1);
    expect(await w.approvals.expireDue()).to.equal(0);
    expect((await refusal(w.approvals.approve(REALM, a.id, user('ulla')))).code).to.equal('approval.expired');
    expect((await refusal(w.approvals.reject(REALM, a.id, user('ulla'), undefined))).code).to.equal('approval.expired');
  });

  it('takes exactly one of two concurrent decisions', async () => {
    const w = await guarded();
    const a = await propose(w, 'ada', { enabled: true });
    const results = await Promise.allSettled([
      w.approvals.approve(REALM, a.id, user('ulla')),
      w.approvals.reject(REALM, a.id, user('abe'), 'no'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason.code).to.equal('approval.not_pending');
  });

  it('refuses an approval whose setting changed since the proposal with approval.stale', async () => {
    const w = await guarded();
    const a = await propose(w, 'ada', { enabled: true, maxExpirationDays: 90 });
    // Dual control is switched off (with a second admin), then the setting is changed directly.
    const off = await w.settings.change(REALM, 'dual_control', { enabled: false }, user('ada'));
    if (off.outcome !== 'pending') throw new Error('expected pending');
    await w.approvals.approve(REALM, off.approval.id, user('abe'));
    expect((await w.settings.change(REALM, 'personal_access_tokens', { maxExpirationDays: 10 }, user('ulla'))).outcome).to.equal('applied');
    expect((await refusal(w.approvals.approve(REALM, a.id, user('ulla')))).code).to.equal('approval.stale');
    expect((await w.settings.value(REALM, 'personal_access_tokens')).maxExpirationDays).to.equal(10);
  });

  it('lets only keyward-admin review the dual-control switch, and lists only what the caller may review', async () => {
    const w = await guarded();
    const off = await w.settings.change(REALM, 'dual_control', { enabled: false }, user('ada'));
    if (off.outcome !== 'pending') throw new Error('expected pending');
    const pat = await propose(w, 'ada', { enabled: true });
    expect((await refusal(w.approvals.approve(REALM, off.approval.id, user('ulla')))).code).to.equal('auth.forbidden');
    expect((await w.approvals.list(REALM, user('ulla'))).map((a) => a.id)).to.deep.equal([pat.id]);
    expect((await w.approvals.list(REALM, user('abe'))).map((a) => a.id)).to.have.members([pat.id, off.approval.id]);
    expect((await refusal(w.approvals.list(REALM, user('alice')))).code).to.equal('auth.forbidden');
  });

  it('lets the proposer withdraw a change by rejecting it', async () => {
    const w = await guarded();
    const a = await propose(w, 'ulla', { enabled: true });
    const r = await w.approvals.reject(REALM, a.id, user('ulla'), undefined);
    expect(r.status).to.equal('rejected');
    expect(w.approvalStore.audit.at(-1)!.details).to.include({ withdrawn: true });
  });
});
