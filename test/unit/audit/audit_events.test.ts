/** Reading the audit trail: who may read which events, and the filters refused before the store is asked. */
import { expect } from 'chai';
import { AuditEvents, type AuditEventFilter } from '../../../services/keyward/src/audit/audit_events.ts';
import { SYSTEM_ACTOR } from '../../../services/keyward/src/audit/event.ts';
import { Authorizer, OPERATOR_ROLE } from '../../../services/keyward/src/authn/roles.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import type { IdentityReader } from '../../../services/keyward/src/authn/ports.ts';
import { FakeDirectory, REALM, refusal, user } from '../approvals/fakes.ts';

function setup() {
  const directory = new FakeDirectory();
  directory.add('ada', ['keyward-admin']);
  directory.add('alice', ['keyward-requester']);
  const asked: Array<[string | undefined, AuditEventFilter]> = [];
  const events = new AuditEvents({
    store: { listEvents: async (realm, f) => (asked.push([realm, f]), []) },
    authz: new Authorizer({ identity: directory as unknown as IdentityReader, cacheSeconds: 0 }),
    realms: {
      getManaged: async (realm: string) => {
        if (realm !== REALM) throw new KeywardError('realm.not_found', `Realm ${realm} is not managed by Keyward`);
        return { name: realm };
      },
    },
  });
  return { events, asked };
}

const page = { first: 0, max: 50 };
const operator = user('root', { realm: 'master', credentialRoles: [OPERATOR_ROLE] });

describe('audit events (reading)', () => {
  it("shows a realm's events to its keyward-admins, and every realm's to operators only", async () => {
    const w = setup();
    await w.events.list(REALM, user('ada'), { ...page, action: 'certificate' });
    await w.events.list(undefined, operator, page);
    expect(w.asked.map(([realm, f]) => [realm, f.action])).to.deep.equal([
      [REALM, 'certificate'],
      [undefined, undefined],
    ]);
    expect((await refusal(w.events.list(REALM, user('alice'), page))).code).to.equal('auth.forbidden');
    expect((await refusal(w.events.list(undefined, user('ada'), page))).code).to.equal('auth.forbidden');
    expect((await refusal(w.events.list('elsewhere', operator, page))).code).to.equal('realm.not_found');
  });

  const refused: Array<[string, Partial<AuditEventFilter>, string]> = [
    ['an action that is not noun.verb_past', { action: 'Certificate.Issued' }, 'action'],
    ['an action of three parts', { action: 'a.b.c' }, 'action'],
    ['since later than until', { since: new Date('2026-02-01'), until: new Date('2026-01-01') }, 'since'],
  ];
  for (const [what, filter, field] of refused) {
    it(`refuses ${what} with request.malformed before asking the store`, async () => {
      const w = setup();
      const e = await refusal(w.events.list(REALM, user('ada'), { ...page, ...filter }));
      expect([e.code, e.extras.field]).to.deep.equal(['request.malformed', field]);
      expect(w.asked).to.deep.equal([]);
    });
  }

  it("records Keyward's own work as the frozen system actor", () => {
    expect(SYSTEM_ACTOR).to.deep.equal({ kind: 'system', id: 'keyward' });
    expect(Object.isFrozen(SYSTEM_ACTOR)).to.equal(true);
  });
});
