/**
 * Protected settings over in-memory stores, wired as the composition root
 * wires them: each setting's approval kind registered with the writer that
 * applies an approved change.
 */
import { ApprovalService } from '../../../services/keyward/src/approvals/approvals.ts';
import type { AuditEventInput } from '../../../services/keyward/src/audit/event.ts';
import { Authorizer } from '../../../services/keyward/src/authn/roles.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import type { IdentityReader } from '../../../services/keyward/src/authn/ports.ts';
import type { IdentityAdmin, ProvisioningStore } from '../../../services/keyward/src/provisioning/ports.ts';
import { RealmService } from '../../../services/keyward/src/provisioning/realms.ts';
import type { SettingName, SettingsStore } from '../../../services/keyward/src/settings/ports.ts';
import { approvalKind, ProtectedSettings, SETTING_NAMES } from '../../../services/keyward/src/settings/protected_settings.ts';
import { FakeDirectory, MemoryApprovals, REALM } from '../approvals/fakes.ts';

export class MemorySettings implements SettingsStore {
  readonly values = new Map<string, unknown>();
  readonly audit: AuditEventInput[] = [];
  async get(realm: string, name: SettingName) {
    return this.values.get(`${realm}/${name}`);
  }
  async put(realm: string, name: SettingName, value: unknown, audit: AuditEventInput) {
    this.values.set(`${realm}/${name}`, value);
    this.audit.push(audit);
  }
}

/** One managed realm (`demo`), its users in a fake Keycloak, dual control over in-memory stores, a frozen clock. */
export function settingsWorld(options: { ttlSeconds?: number } = {}) {
  const clock = frozenClock('2026-11-01T00:00:00Z');
  const directory = new FakeDirectory();
  const authz = new Authorizer({ identity: directory as unknown as IdentityReader, cacheSeconds: 0 });
  const provisioning = {
    findRealm: async (name: string) =>
      name === REALM
        ? { name, displayName: undefined, defaultRoles: [], source: 'api', createdAt: new Date(0), updatedAt: new Date(0) }
        : undefined,
  } as unknown as ProvisioningStore;
  const realms = new RealmService(directory as unknown as IdentityAdmin, provisioning, authz);
  const settingsStore = new MemorySettings();
  const approvalStore = new MemoryApprovals(settingsStore);
  const approvals = new ApprovalService({ store: approvalStore, clock, ttlSeconds: options.ttlSeconds ?? 86_400 });
  const settings = new ProtectedSettings({ store: settingsStore, approvals, realms, authz });
  for (const name of SETTING_NAMES) {
    approvals.register(approvalKind(name), {
      ...settings.approvalRules(name),
      apply: async (s, c) => void s.values.set(`${c.realm}/${c.name}`, c.value),
    });
  }
  return { clock, directory, authz, realms, settingsStore, approvalStore, approvals, settings };
}
