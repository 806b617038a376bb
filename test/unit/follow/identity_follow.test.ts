import { expect } from 'chai';
import type { AuditEventInput } from '../../../services/keyward/src/audit/event.ts';
import { IdentityFollow } from '../../../services/keyward/src/follow/identity_follow.ts';
import type {
  AdminEvent,
  CertificateInForce,
  FollowStore,
  IdentityDirectory,
  RequesterInForce,
  RequesterState,
  SyncCursor,
} from '../../../services/keyward/src/follow/ports.ts';
import type { StatusChange, StatusChanges } from '../../../services/keyward/src/issuance/issuance.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { silentLogger } from '../../../services/keyward/src/kernel/log.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');

/** Keycloak as the follower sees it: events of one realm, clients by name, paged as the admin API pages them. */
class Directory implements IdentityDirectory {
  events: AdminEvent[] = [];
  clients = new Map<string, { id: string; state: RequesterState }>();
  reads: { fromTime: number; first: number }[] = [];
  async ensureAdminEvents() {}
  async adminEvents(_realm: string, fromTime: number, first: number, max: number) {
    this.reads.push({ fromTime, first });
    return this.events.filter((e) => e.time >= fromTime).slice(first, first + max);
  }
  async clientState(_realm: string, clientId: string) {
    const c = this.clients.get(clientId);
    return c ? { state: c.state, id: c.id } : { state: 'deleted' as const };
  }
  async userState(): Promise<RequesterState> {
    return 'active';
  }
  async grantInForce() {
    return { inForce: true };
  }
  async clientIdOf(_realm: string, id: string) {
    return [...this.clients].find(([, c]) => c.id === id)?.[0];
  }
}

class Store implements FollowStore {
  cursors = new Map<string, SyncCursor>();
  certs: (CertificateInForce & { requester: RequesterInForce; revoked: boolean })[] = [];
  async cursor(realm: string) {
    return this.cursors.get(realm);
  }
  async saveCursor(realm: string, c: SyncCursor) {
    this.cursors.set(realm, c);
  }
  async requesters() {
    return [...new Map(this.certs.filter((c) => !c.revoked).map((c) => [c.requester.id, c.requester])).values()];
  }
  async certificatesOf(r: RequesterInForce) {
    return this.certs.filter((c) => !c.revoked && c.requester.id === r.id);
  }
  async clientCertificateOwners() {
    return [];
  }
  async revokeClientCertificatesOf(_r: string, _u: string, _at: Date, _a: (id: string) => AuditEventInput) {
    return [];
  }
  removed: { name: string | undefined; why: string; serials: readonly string[] }[] = [];
  async requesterRemoved(r: RequesterInForce, why: 'deleted' | 'grant_revoked' | 'disabled', serials: readonly string[]) {
    this.removed.push({ name: r.name, why, serials });
  }
}

function setup() {
  const directory = new Directory();
  const store = new Store();
  const audited: { serial: string; cause: unknown }[] = [];
  const changes: StatusChanges = {
    revoke: async (change: StatusChange) => {
      const c = store.certs.find((x) => x.serial === change.serial)!;
      if (c.revoked) return { record: {} as never, changed: false };
      c.revoked = true;
      audited.push({ serial: change.serial, cause: change.cause });
      return { record: {} as never, changed: true };
    },
    hold: async () => undefined,
    release: async () => undefined,
    refreshCrl: async () => {},
  };
  const follow = new IdentityFollow({
    directory,
    store,
    changes,
    realms: { list: async () => [{ name: 'shop' }] },
    policies: { find: async () => undefined },
    clock: frozenClock(new Date(T0)),
    log: silentLogger,
  });
  const requester = (name: string): RequesterInForce => ({
    certificateRealm: 'shop',
    realm: 'shop',
    kind: 'client',
    id: `sa-${name}`,
    name,
  });
  const cert = (serial: string, name: string) =>
    store.certs.push({
      serial,
      realm: 'shop',
      policy: 'svc',
      held: false,
      holdSource: undefined,
      requester: requester(name),
      revoked: false,
    });
  return { directory, store, follow, audited, cert };
}

const ev = (id: string, time: number, op = 'DELETE', path = `clients/${id}`): AdminEvent => ({
  id,
  time,
  operationType: op,
  resourceType: 'CLIENT',
  resourcePath: path,
});

describe('identity following: the admin-event cursor', () => {
  it('starts a realm seen for the first time a minute back, and keeps the time and the ids processed at that time', async () => {
    const { directory, store, follow } = setup();
    directory.events = [ev('a', T0 - 1000, 'CREATE'), ev('b', T0 + 5, 'CREATE'), ev('c', T0 + 5, 'CREATE')];
    const report = await follow.run({ reconcile: false });
    expect(directory.reads[0]).to.deep.equal({ fromTime: T0 - 60_000, first: 0 });
    expect(report.events).to.equal(3);
    expect(store.cursors.get('shop')).to.deep.equal({ time: T0 + 5, ids: ['b', 'c'] });
  });

  it('reads again from the cursor time, skips the ids already processed there, and takes a later event at the same time', async () => {
    const { directory, store, follow } = setup();
    store.cursors.set('shop', { time: T0, ids: ['b'] });
    directory.events = [ev('b', T0, 'CREATE'), ev('d', T0, 'CREATE')];
    const report = await follow.run({ reconcile: false });
    expect(report.events, 'd only').to.equal(1);
    expect(store.cursors.get('shop')).to.deep.equal({ time: T0, ids: ['b', 'd'] });
    expect((await follow.run({ reconcile: false })).events, 'nothing twice').to.equal(0);
  });

  it('pages through more events than one page holds', async () => {
    const { directory, store, follow } = setup();
    directory.events = Array.from({ length: 450 }, (_, i) => ev(`e${i}`, T0 + i, 'CREATE'));
    expect((await follow.run({ reconcile: false })).events).to.equal(450);
    expect(directory.reads.map((r) => r.first)).to.deep.equal([0, 200, 400]);
    expect(store.cursors.get('shop')).to.deep.equal({ time: T0 + 449, ids: ['e449'] });
  });

  it('revokes once per certificate when the same events are applied twice (a replica died before moving the cursor)', async () => {
    const { directory, store, follow, audited, cert } = setup();
    cert('01', 'orders');
    cert('02', 'orders');
    cert('03', 'billing');
    directory.clients.set('billing', { id: 'id-billing', state: 'active' });
    directory.events = [ev('id-orders', T0)];
    await follow.run({ reconcile: false });
    store.cursors.clear(); // the cursor was never saved
    await follow.run({ reconcile: false });
    expect(audited.map((a) => a.serial)).to.deep.equal(['01', '02']);
    expect(audited[0]!.cause).to.deep.include({ source: 'keycloak.admin_event', id: 'id-orders', operationType: 'DELETE' });
    expect(store.certs.find((c) => c.serial === '03')!.revoked).to.equal(false);
    // identity.requester_removed once, from the run that revoked; the repeated run revoked nothing and says nothing.
    expect(store.removed).to.deep.equal([{ name: 'orders', why: 'deleted', serials: ['01', '02'] }]);
  });

  it('catches a deletion without any event by the reconciliation of the first run', async () => {
    const { follow, audited, cert } = setup();
    cert('04', 'gone');
    const report = await follow.run();
    expect(report.reconciled).to.equal(true);
    expect(audited).to.deep.equal([{ serial: '04', cause: { source: 'reconciliation' } }]);
  });
});
