/**
 * Accepting a pending device certificate under dual control, wired as the
 * composition root wires it: device onboarding states the rules of
 * `devices.accept`, its store applies an approved acceptance.
 */
import { expect } from 'chai';
import { ApprovalService } from '../../../services/keyward/src/approvals/approvals.ts';
import { Authorizer } from '../../../services/keyward/src/authn/roles.ts';
import { ACCEPT_APPROVAL, DeviceOnboardingService } from '../../../services/keyward/src/devices/device_onboarding.ts';
import type {
  DeviceClientSpec,
  DeviceDirectory,
  DeviceStore,
  PendingDevice,
  TrustedDevice,
} from '../../../services/keyward/src/devices/ports.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import type { IdentityReader } from '../../../services/keyward/src/authn/ports.ts';
import type { IdentityAdmin, ProvisioningStore } from '../../../services/keyward/src/provisioning/ports.ts';
import { RealmService } from '../../../services/keyward/src/provisioning/realms.ts';
import { approvalKind, ProtectedSettings, SETTING_NAMES } from '../../../services/keyward/src/settings/protected_settings.ts';
import { FakeDirectory, MemoryApprovals, REALM, refusal, user } from '../approvals/fakes.ts';
import { MemorySettings } from '../settings/fakes.ts';

const ID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

/** The device tables in memory: one pending certificate to start with. */
class MemoryDevices {
  readonly pending = new Map<string, PendingDevice>();
  readonly trusted = new Map<string, TrustedDevice>();
  /** Set to make the next acceptance fail as the store would (a unique violation, a row gone). */
  refuse: KeywardError | undefined;
  /** Moves a pending certificate into the trust store, as the PostgreSQL store does in the decision's transaction. */
  accept(d: TrustedDevice): void {
    if (this.refuse) throw this.refuse;
    if (!this.pending.delete(d.id)) throw new KeywardError('device.pending_not_found', `No pending client certificate CERTIFICATE-${d.id}`);
    if ([...this.trusted.values()].some((t) => t.alias === d.alias))
      throw new KeywardError('device.alias_in_use', `Client certificate alias already in use: ${d.alias}`);
    this.trusted.set(d.alias, d);
  }
}

class Clients implements DeviceDirectory {
  readonly created: DeviceClientSpec[] = [];
  readonly deleted: string[] = [];
  async clientExists() {
    return false;
  }
  async createDeviceClient(_realm: string, spec: DeviceClientSpec) {
    this.created.push(spec);
    return { id: `kc-${this.created.length}`, serviceAccountId: `sa-${this.created.length}` };
  }
  async deviceClient() {
    return undefined;
  }
  async renameClient() {
    return 'renamed' as const;
  }
  async deleteClient(_realm: string, id: string) {
    this.deleted.push(id);
  }
}

function setup() {
  const clock = frozenClock('2026-11-01T00:00:00Z');
  const directory = new FakeDirectory();
  for (const n of ['ada', 'abe']) directory.add(n, ['keyward-admin']);
  const authz = new Authorizer({ identity: directory as unknown as IdentityReader, cacheSeconds: 0 });
  const provisioning = {
    findRealm: async (name: string) => (name === REALM ? { name, defaultRoles: [], source: 'api' } : undefined),
  } as unknown as ProvisioningStore;
  const realms = new RealmService(directory as unknown as IdentityAdmin, provisioning, authz);
  const tx = { settings: new MemorySettings(), devices: new MemoryDevices() };
  const approvalStore = new MemoryApprovals(tx);
  const approvals = new ApprovalService({ store: approvalStore, clock, ttlSeconds: 3600 });
  const settings = new ProtectedSettings({ store: tx.settings, approvals, realms, authz });
  const store = {
    getPending: async (realm: string, id: string) => (realm === REALM ? tx.devices.pending.get(id) : undefined),
    findTrusted: async (realm: string, alias: string) => (realm === REALM ? tx.devices.trusted.get(alias) : undefined),
  } as unknown as DeviceStore;
  const clients = new Clients();
  const devices = new DeviceOnboardingService({
    store,
    directory: clients,
    settings,
    approvals,
    realms,
    authz,
    clock,
    pushesPerMinute: 60,
  });
  for (const name of SETTING_NAMES) {
    approvals.register(approvalKind(name), {
      ...settings.approvalRules(name),
      apply: async (t, c) => void t.settings.values.set(`${c.realm}/${c.name}`, c.value),
    });
  }
  approvals.register(ACCEPT_APPROVAL, { ...devices.acceptanceRules(), apply: async (t, a) => t.devices.accept(a.device) });
  tx.devices.pending.set(ID, {
    id: ID,
    realm: REALM,
    fingerprint: 'ab'.repeat(32),
    certificatePem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
    subject: 'CN=sensor-1, O=Example',
    subjectRfc2253: 'CN=sensor-1,O=Example',
    issuer: 'CN=sensor-1, O=Example',
    serial: '01',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    firstSeen: clock.now(),
    lastSeen: clock.now(),
    sourceAddress: '192.0.2.1',
    via: 'upload',
  });
  return { tx, approvalStore, approvals, settings, devices, clients };
}

describe('device acceptance under dual control', () => {
  async function proposed() {
    const w = setup();
    await w.settings.change(REALM, 'dual_control', { enabled: true }, user('ada'));
    const out = await w.devices.accept(REALM, user('ada'), { alias: 'Sensor 1', uuid: `CERTIFICATE-${ID}` });
    if (out.outcome !== 'pending') throw new Error('expected a pending acceptance');
    return { ...w, approval: out.approval };
  }

  it('waits as devices.accept/<id>: no client and nothing trusted until a second admin approves', async () => {
    const w = await proposed();
    expect(w.approval.kind).to.equal(`${ACCEPT_APPROVAL}/${ID}`);
    expect([w.clients.created, [...w.tx.devices.trusted.keys()]]).to.deep.equal([[], []]);
    expect((await refusal(w.approvals.approve(REALM, w.approval.id, user('ada')))).code).to.equal('approval.self_approval');
    await w.approvals.approve(REALM, w.approval.id, user('abe'));
    expect(w.clients.created.map((c) => c.name)).to.deep.equal(['sensor 1']);
    expect(w.tx.devices.trusted.get('sensor 1')).to.deep.include({ keycloakClientId: 'kc-1', acceptedBy: w.approval.proposedBy });
    expect(w.approvalStore.audit.map((e) => e.action)).to.include.members(['approval.approved', 'device.accepted']);
  });

  it('removes the device client again when the acceptance cannot be stored, and keeps the approval pending', async () => {
    const w = await proposed();
    w.tx.devices.refuse = new KeywardError('device.already_trusted', 'The certificate is already trusted'); // a race lost in the store
    const e = await refusal(w.approvals.approve(REALM, w.approval.id, user('abe')));
    expect(e.code).to.equal('device.already_trusted');
    expect(w.clients.deleted).to.deep.equal(['kc-1']);
    expect(w.tx.devices.trusted.size).to.equal(0);
    expect((await w.approvals.get(REALM, w.approval.id, user('abe'))).status).to.equal('pending');
  });
});
