/** The PAT rules with a frozen clock and in-memory adapters. */
import { expect } from 'chai';
import { REALM, refusal, user, world } from './fakes.ts';

const DAY = 86_400_000;

describe('personal access tokens (domain)', () => {
  async function enabled(max = 366) {
    const w = world();
    w.directory.add('alice', ['keyward-requester']);
    w.directory.add('ada', ['keyward-admin']);
    await w.settings.change(REALM, 'personal_access_tokens', { enabled: true, maxExpirationDays: max }, user('ada'));
    return w;
  }

  describe('creating', () => {
    it('refuses while disabled with 403 pat.disabled', async () => {
      const w = world();
      w.directory.add('alice', ['keyward-requester']);
      expect((await refusal(w.pats.create(user('alice'), { expiresInDays: 1 }))).code).to.equal('pat.disabled');
    });

    it('refuses API clients with pat.users_only', async () => {
      const w = await enabled();
      const client = { ...user('svc'), kind: 'client' as const, clientId: 'svc' };
      expect((await refusal(w.pats.create(client, { expiresInDays: 1 }))).code).to.equal('pat.users_only');
    });

    it('refuses more days than the maximum with pat.expiry_exceeded and the maximum', async () => {
      const w = await enabled(30);
      const e = await refusal(w.pats.create(user('alice'), { expiresInDays: 31 }));
      expect(e.code).to.equal('pat.expiry_exceeded');
      expect(e.extras.maximum).to.equal(30);
      expect((await w.pats.create(user('alice'), { expiresInDays: 30 })).expiresInDays).to.equal(30);
    });

    const bounded: Array<[string, 'pat' | 'client_certificate', number, number]> = [
      ['a PAT with 10.5 days left', 'pat', 10.5, 10],
      ['a PAT with 12 hours left', 'pat', 0.5, 0],
      ['a client certificate with 3 days left', 'client_certificate', 3, 3],
    ];
    for (const [what, credential, daysLeft, maximum] of bounded) {
      it(`bounds a token created with ${what} to ${maximum} days`, async () => {
        const w = await enabled();
        const p = user('alice', { credential, credentialExpiresAt: new Date(w.clock.now().getTime() + daysLeft * DAY) });
        const e = await refusal(w.pats.create(p, { expiresInDays: maximum + 1 }));
        expect(e.code).to.equal('pat.expiry_exceeded');
        expect(e.extras.maximum).to.equal(maximum);
        expect(e.detail).to.contain('may not outlive it');
        if (maximum > 0) expect((await w.pats.create(p, { expiresInDays: maximum })).expiresInDays).to.equal(maximum);
      });
    }

    it('computes the expiry from the creation time and the days', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { name: '  nightly  ', expiresInDays: 7 });
      expect(t).to.include({
        name: 'nightly',
        createdAt: '2026-11-01T00:00:00.000Z',
        expiresAt: '2026-11-08T00:00:00.000Z',
        status: 'active',
        lastUsedAt: null,
      });
    });
  });

  describe('authenticating', () => {
    it('refuses at the very instant of expiry with 401 pat.expired, and expiry wins over disabled', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { expiresInDays: 1 });
      w.clock.advance(DAY - 1);
      expect((await w.pats.authenticate(t.token)).username).to.equal('alice');
      w.clock.advance(1);
      expect((await refusal(w.pats.authenticate(t.token))).code).to.equal('pat.expired');
      await w.settings.change(REALM, 'personal_access_tokens', { enabled: false }, user('ada'));
      expect((await refusal(w.pats.authenticate(t.token))).code).to.equal('pat.expired');
    });

    it('refuses while disabled with 401 pat.disabled_in_use and accepts again when re-enabled', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { expiresInDays: 5 });
      await w.settings.change(REALM, 'personal_access_tokens', { enabled: false }, user('ada'));
      const e = await refusal(w.pats.authenticate(t.token));
      expect([e.code, e.status]).to.deep.equal(['pat.disabled_in_use', 401]);
      await w.settings.change(REALM, 'personal_access_tokens', { enabled: true }, user('ada'));
      expect((await w.pats.authenticate(t.token)).credential).to.equal('pat');
    });

    it('answers an unknown id and a wrong secret alike', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { expiresInDays: 5 });
      const wrong = await refusal(w.pats.authenticate(t.token.slice(0, -1) + (t.token.endsWith('x') ? 'y' : 'x')));
      const unknown = await refusal(w.pats.authenticate(`kwp_ffffffffffffffff_${t.token.split('_')[2]}`));
      expect([wrong.code, wrong.detail, wrong.status]).to.deep.equal([unknown.code, unknown.detail, unknown.status]);
      expect(wrong.code).to.equal('pat.invalid');
    });

    it('writes lastUsedAt at most once a minute per token', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { expiresInDays: 5 });
      await w.pats.authenticate(t.token);
      expect(w.patStore.touches).to.equal(1);
      for (let i = 0; i < 10; i++) {
        w.clock.advance(5_000);
        await w.pats.authenticate(t.token);
      }
      expect(w.patStore.touches).to.equal(1);
      w.clock.advance(10_001);
      await w.pats.authenticate(t.token);
      expect(w.patStore.touches).to.equal(2);
      expect(w.patStore.rows.get(t.id)!.lastUsedAt!.toISOString()).to.equal(w.clock.now().toISOString());
    });

    it('audits refused uses at most once a minute per token and reason, counting the rest', async () => {
      const w = await enabled();
      const t = await w.pats.create(user('alice'), { expiresInDays: 5 });
      const wrong = t.token.slice(0, -1) + (t.token.endsWith('x') ? 'y' : 'x');
      for (let i = 0; i < 3; i++) await refusal(w.pats.authenticate(wrong));
      w.clock.advance(60_000);
      await refusal(w.pats.authenticate(wrong));
      await new Promise((r) => setImmediate(r));
      const denied = w.patStore.audits.filter((a) => a.action === 'personal_access_token.use_denied');
      expect(denied.map((a) => a.details)).to.deep.equal([
        { reason: 'wrong_secret', name: undefined },
        { reason: 'wrong_secret', name: undefined, suppressedSinceLast: 2 },
      ]);
    });

    it('audits tokens that name no stored token without a realm, at most 60 a minute, counting the rest', async () => {
      const w = await enabled();
      for (let i = 0; i < 70; i++) await refusal(w.pats.authenticate(`kwp_${i.toString(16).padStart(16, '0')}_${'a'.repeat(43)}`));
      await refusal(w.pats.authenticate('kwp_garbage'));
      await new Promise((r) => setImmediate(r));
      const denied = () => w.patStore.audits.filter((a) => a.action === 'personal_access_token.use_denied');
      expect(denied()).to.have.length(60);
      expect(denied()[0]).to.deep.include({ target: '0000000000000000', details: { reason: 'unknown_token' } });
      expect(denied()[0]!.realm).to.equal(undefined);
      w.clock.advance(60_000);
      await refusal(w.pats.authenticate('kwp_garbage'));
      await new Promise((r) => setImmediate(r));
      expect(denied().at(-1)).to.deep.include({ target: undefined, details: { reason: 'malformed', suppressedSinceLast: 11 } });
    });

    const losses: Array<[string, (w: ReturnType<typeof world>) => void, string]> = [
      ['deleted', (w) => w.directory.users.delete('id-alice'), 'user_deleted'],
      ['disabled', (w) => w.directory.users.set('id-alice', { id: 'id-alice', username: 'alice', enabled: false }), 'user_disabled'],
      [
        'left without a keyward-* role',
        (w) => w.directory.roles.set('id-alice', ['offline_access', 'default-roles-demo']),
        'no_keyward_role',
      ],
    ];
    for (const [what, change, reason] of losses) {
      it(`deletes every token of a user ${what} at the next use (${reason})`, async () => {
        const w = await enabled();
        const a = await w.pats.create(user('alice'), { expiresInDays: 5 });
        await w.pats.create(user('alice'), { expiresInDays: 6 });
        change(w);
        expect((await refusal(w.pats.authenticate(a.token))).code).to.equal('pat.invalid');
        expect(w.patStore.rows.size).to.equal(0);
        expect(
          w.patStore.audits.filter((e) => e.action === 'personal_access_token.revoked').map((e) => [e.actor.kind, e.details!.reason]),
        ).to.deep.equal([
          ['system', reason],
          ['system', reason],
        ]);
      });
    }
  });

  describe('the sweep', () => {
    it('removes the tokens of users who lost access, keeps the others, and leaves everyone alone while Keycloak is down', async () => {
      const w = await enabled();
      w.directory.add('bob', ['keyward-requester']);
      await w.pats.create(user('alice'), { expiresInDays: 5 });
      await w.pats.create(user('bob'), { expiresInDays: 5 });
      w.directory.roles.set('id-bob', []);
      w.directory.down = true;
      expect(await w.pats.sweep()).to.deep.equal({ checked: 2, removed: 0, failed: 2 });
      expect(w.patStore.rows.size).to.equal(2);
      w.directory.down = false;
      expect(await w.pats.sweep()).to.deep.equal({ checked: 2, removed: 1, failed: 0 });
      expect([...w.patStore.rows.values()].map((r) => r.username)).to.deep.equal(['alice']);
    });
  });

  describe('the admin view', () => {
    it('flags tokens above a lowered maximum and keeps their expiry', async () => {
      const w = await enabled(100);
      const t = await w.pats.create(user('alice'), { expiresInDays: 90 });
      await w.settings.change(REALM, 'personal_access_tokens', { maxExpirationDays: 30 }, user('ada'));
      const page = await w.pats.adminList(REALM, user('ada'));
      expect(page.items[0]).to.include({ id: t.id, expiresInDays: 90, expiresAt: t.expiresAt, exceedsMaximum: true });
      expect(page.maximumExpirationDays).to.equal(30);
      expect((await w.pats.authenticate(t.token)).username).to.equal('alice');
    });

    it('is refused to users without keyward-admin or keyward-user-admin', async () => {
      const w = await enabled();
      expect((await refusal(w.pats.adminList(REALM, user('alice')))).code).to.equal('auth.forbidden');
      expect((await refusal(w.pats.adminRevoke(REALM, user('alice'), { usernames: ['ada'] }))).code).to.equal('auth.forbidden');
    });
  });
});
