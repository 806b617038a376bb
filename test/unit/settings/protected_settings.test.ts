/** Protected settings: their documents, defaults, editors and their one writer, with a frozen clock. */
import { expect } from 'chai';
import { ApprovalService } from '../../../services/keyward/src/approvals/approvals.ts';
import { ProtectedSettings, SETTING_DEFINITIONS, SETTING_NAMES } from '../../../services/keyward/src/settings/protected_settings.ts';
import { MemoryApprovals, REALM, refusal, user } from '../approvals/fakes.ts';
import { settingsWorld as world } from './fakes.ts';

describe('protected settings', () => {
  const admins = (w: ReturnType<typeof world>) => {
    w.directory.add('ada', ['keyward-admin']);
    w.directory.add('abe', ['keyward-admin']);
    w.directory.add('ulla', ['keyward-user-admin']);
    w.directory.add('alice', ['keyward-requester']);
  };

  it('has the documented defaults while a realm never set them', async () => {
    const w = world();
    expect(await w.settings.value(REALM, 'personal_access_tokens')).to.deep.equal({ enabled: false, maxExpirationDays: 366 });
    expect(await w.settings.value(REALM, 'client_certificates')).to.deep.equal({ enabled: false, maxExpirationDays: 366 });
    expect(await w.settings.value(REALM, 'dual_control')).to.deep.equal({ enabled: false });
    expect(await w.settings.value(REALM, 'devices')).to.deep.equal({ enabled: false, maxPending: 100, rejectForHours: 24 });
    expect(SETTING_NAMES).to.have.members(Object.keys(SETTING_DEFINITIONS));
  });

  it('applies a change at once while dual control is off, with one audit event from → to', async () => {
    const w = world();
    admins(w);
    const out = await w.settings.change(REALM, 'client_certificates', { enabled: true, maxExpirationDays: 30 }, user('ulla'));
    expect(out).to.deep.include({ outcome: 'applied', changed: true, value: { enabled: true, maxExpirationDays: 30 } });
    expect(w.settingsStore.audit).to.have.length(1);
    expect(w.settingsStore.audit[0]).to.deep.include({
      action: 'client_certificate_settings.updated',
      realm: REALM,
      target: 'client_certificates',
    });
    expect(w.settingsStore.audit[0]!.details).to.deep.equal({
      from: { enabled: false, maxExpirationDays: 366 },
      to: { enabled: true, maxExpirationDays: 30 },
    });
  });

  it('holds a client-certificate change for a second admin under dual control: nothing is written before the approval', async () => {
    const w = world();
    admins(w);
    await w.settings.change(REALM, 'dual_control', { enabled: true }, user('ada'));
    const out = await w.settings.change(REALM, 'client_certificates', { enabled: true }, user('ulla'));
    if (out.outcome !== 'pending') throw new Error('expected a pending change');
    expect(out.approval).to.deep.include({ kind: 'settings.client_certificates', status: 'pending' });
    expect(w.settingsStore.values.has(`${REALM}/client_certificates`)).to.equal(false);
    expect((await w.settings.read(REALM, 'client_certificates', user('alice'))).pending?.id).to.equal(out.approval.id);
    await w.approvals.approve(REALM, out.approval.id, user('abe'));
    expect((await w.settings.value(REALM, 'client_certificates')).enabled).to.equal(true);
  });

  it('lets keyward-user-admin change PAT and client-certificate settings but not the dual-control switch', async () => {
    const w = world();
    admins(w);
    expect((await w.settings.change(REALM, 'personal_access_tokens', { enabled: true }, user('ulla'))).outcome).to.equal('applied');
    expect((await refusal(w.settings.change(REALM, 'dual_control', { enabled: true }, user('ulla')))).code).to.equal('auth.forbidden');
    expect((await refusal(w.settings.change(REALM, 'devices', { enabled: true }, user('ulla')))).code).to.equal('auth.forbidden');
    expect((await refusal(w.settings.change(REALM, 'client_certificates', { enabled: true }, user('alice')))).code).to.equal(
      'auth.forbidden',
    );
  });

  it("lets the realm's own principals read a setting, and refuses an unmanaged realm with realm.not_found", async () => {
    const w = world();
    admins(w);
    expect((await w.settings.read(REALM, 'personal_access_tokens', user('alice'))).value.maxExpirationDays).to.equal(366);
    expect((await refusal(w.settings.read('elsewhere', 'personal_access_tokens', user('ada')))).code).to.equal('realm.not_found');
  });

  it('validates the device settings within their bounds', async () => {
    const w = world();
    admins(w);
    const e = await refusal(w.settings.change(REALM, 'devices', { maxPending: 0 }, user('ada')));
    expect([e.code, e.extras.field, e.extras.minimum]).to.deep.equal(['settings.invalid', '/maxPending', 1]);
    const ok = await w.settings.change(REALM, 'devices', { enabled: true, rejectForHours: 0 }, user('ada'));
    expect(ok.value).to.deep.equal({ enabled: true, maxPending: 100, rejectForHours: 0 });
  });

  it('cannot propose a change whose approval kind the composition root did not register (misuse: TypeError)', async () => {
    const w = world();
    admins(w);
    const bare = new ApprovalService({ store: new MemoryApprovals(undefined), clock: w.clock, ttlSeconds: 60 });
    const settings = new ProtectedSettings({ store: w.settingsStore, approvals: bare, realms: w.realms, authz: w.authz });
    await w.settings.change(REALM, 'dual_control', { enabled: true }, user('ada'));
    let err: unknown;
    await settings.change(REALM, 'personal_access_tokens', { enabled: true }, user('ada')).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(TypeError);
    expect(w.settingsStore.values.has(`${REALM}/personal_access_tokens`)).to.equal(false);
  });

  describe('documents', () => {
    const cases: Array<[string, unknown, string]> = [
      ['a maximum of 0', { maxExpirationDays: 0 }, '/maxExpirationDays'],
      ['a maximum of 3651', { maxExpirationDays: 3651 }, '/maxExpirationDays'],
      ['a string maximum', { maxExpirationDays: '30' }, '/maxExpirationDays'],
      ['enabled as a number', { enabled: 1 }, '/enabled'],
      ['an unknown key', { enabled: true, scope: 'all' }, '/scope'],
      ['an array', [true], '/'],
    ];
    for (const [what, input, field] of cases) {
      it(`refuses ${what} with settings.invalid at ${field}`, async () => {
        const w = world();
        w.directory.add('ada', ['keyward-admin']);
        const e = await refusal(w.settings.change(REALM, 'personal_access_tokens', input, user('ada')));
        expect([e.code, e.extras.field]).to.deep.equal(['settings.invalid', field]);
      });
    }

    it('keeps absent fields, and answers a change that changes nothing without writing', async () => {
      const w = world();
      w.directory.add('ada', ['keyward-admin']);
      expect(await w.settings.change(REALM, 'personal_access_tokens', { enabled: true }, user('ada'))).to.deep.include({
        outcome: 'applied',
        changed: true,
        value: { enabled: true, maxExpirationDays: 366 },
      });
      expect(await w.settings.change(REALM, 'personal_access_tokens', { maxExpirationDays: 366 }, user('ada'))).to.deep.include({
        outcome: 'applied',
        changed: false,
      });
      expect(w.settingsStore.audit.map((a) => a.action)).to.deep.equal(['personal_access_token_settings.updated']);
    });
  });
});
