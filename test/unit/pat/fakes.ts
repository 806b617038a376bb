/**
 * In-memory adapters for the PAT, approvals and settings domains, so their
 * rules run with a frozen clock. The PostgreSQL adapters and Keycloak are
 * exercised by test/integration/08_personal_access_tokens.test.ts.
 */
import { ApprovalService } from '../../../services/keyward/src/approvals/approvals.ts';
import type { ApprovalRecord, ApprovalStore, Decision } from '../../../services/keyward/src/approvals/ports.ts';
import type { Principal } from '../../../services/keyward/src/authn/principal.ts';
import { Authorizer } from '../../../services/keyward/src/authn/roles.ts';
import type { IdentityReader } from '../../../services/keyward/src/authn/ports.ts';
import { frozenClock } from '../../../services/keyward/src/kernel/clock.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import { PersonalAccessTokenService } from '../../../services/keyward/src/pat/personal_access_tokens.ts';
import type { PatRecord, PatStore, PatUser } from '../../../services/keyward/src/pat/ports.ts';
import type { AuditEventInput, IdentityAdmin, ProvisioningStore } from '../../../services/keyward/src/provisioning/ports.ts';
import { RealmService } from '../../../services/keyward/src/provisioning/realms.ts';
import type { SettingName, SettingsStore } from '../../../services/keyward/src/settings/ports.ts';
import { ProtectedSettings } from '../../../services/keyward/src/settings/protected_settings.ts';

export const REALM = 'demo';

export function user(name: string, extra: Partial<Principal> = {}): Principal {
  return {
    credential: 'bearer',
    kind: 'user',
    realm: REALM,
    subject: `id-${name}`,
    clientId: undefined,
    username: name,
    credentialRoles: [],
    ...extra,
  };
}

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

export class MemoryApprovals implements ApprovalStore {
  readonly rows = new Map<string, ApprovalRecord>();
  readonly audit: AuditEventInput[] = [];
  readonly settings: MemorySettings;
  constructor(settings: MemorySettings) {
    this.settings = settings;
  }
  async insertPending(a: ApprovalRecord, audit: AuditEventInput, expiredAudit: (e: ApprovalRecord) => AuditEventInput) {
    for (const r of this.rows.values()) {
      if (r.realm === a.realm && r.kind === a.kind && r.status === 'pending') {
        if (r.expiresAt <= a.createdAt) {
          this.rows.set(r.id, { ...r, status: 'expired' });
          this.audit.push(expiredAudit(r));
        } else return { blockedBy: r.id };
      }
    }
    this.rows.set(a.id, a);
    this.audit.push(audit);
    return undefined;
  }
  async get(realm: string, id: string) {
    const r = this.rows.get(id);
    return r?.realm === realm ? r : undefined;
  }
  async list(realm: string, o: { status?: string | undefined; at: Date; max: number }) {
    return [...this.rows.values()]
      .filter((r) => r.realm === realm && (!o.status || r.status === o.status))
      .reverse()
      .slice(0, o.max);
  }
  async decide(realm: string, id: string, d: Decision, audit: readonly AuditEventInput[]) {
    const r = this.rows.get(id);
    if (!r || r.realm !== realm || r.status !== 'pending' || r.expiresAt <= d.at) return undefined;
    const next: ApprovalRecord = {
      ...r,
      status: d.status,
      decidedBy: d.by,
      decidedAt: d.at,
      reason: d.status === 'rejected' ? d.reason : undefined,
    };
    this.rows.set(id, next);
    if (d.status === 'approved' && d.effect.type === 'setting')
      this.settings.values.set(`${d.effect.realm}/${d.effect.name}`, d.effect.value);
    this.audit.push(...audit);
    return next;
  }
  async expireDue(at: Date, audit: (e: ApprovalRecord) => AuditEventInput) {
    const due = [...this.rows.values()].filter((r) => r.status === 'pending' && r.expiresAt <= at);
    for (const r of due) {
      this.rows.set(r.id, { ...r, status: 'expired' });
      this.audit.push(audit(r));
    }
    return due;
  }
}

export class MemoryPats implements PatStore {
  readonly rows = new Map<string, PatRecord>();
  readonly audits: AuditEventInput[] = [];
  touches = 0;
  readonly settings: MemorySettings;
  constructor(settings: MemorySettings) {
    this.settings = settings;
  }
  async insert(r: PatRecord, audit: AuditEventInput) {
    this.rows.set(r.id, r);
    this.audits.push(audit);
  }
  async findForAuthentication(id: string) {
    const record = this.rows.get(id);
    const s = this.settings.values.get(`${record?.realm}/personal_access_tokens`) as { enabled?: boolean } | undefined;
    return record ? { record, enabled: s?.enabled === true } : undefined;
  }
  async listOwn(realm: string, userId: string) {
    return [...this.rows.values()].filter((r) => r.realm === realm && r.userId === userId);
  }
  async page(realm: string) {
    const items = [...this.rows.values()].filter((r) => r.realm === realm);
    return { items, total: items.length };
  }
  async delete(
    sel: { realm: string; ids?: readonly string[] | undefined; usernames?: readonly string[] | undefined; userId?: string | undefined },
    audit: (r: PatRecord) => AuditEventInput,
  ) {
    const hit = [...this.rows.values()].filter(
      (r) =>
        r.realm === sel.realm &&
        (sel.userId === undefined || r.userId === sel.userId) &&
        (!(sel.ids || sel.usernames) || sel.ids?.includes(r.id) || sel.usernames?.includes(r.username)),
    );
    for (const r of hit) {
      this.rows.delete(r.id);
      this.audits.push(audit(r));
    }
    return hit;
  }
  async holders() {
    const seen = new Map<string, { realm: string; userId: string; username: string }>();
    for (const r of this.rows.values()) seen.set(`${r.realm}/${r.userId}`, { realm: r.realm, userId: r.userId, username: r.username });
    return [...seen.values()];
  }
  async touch(id: string, at: Date) {
    this.touches++;
    const r = this.rows.get(id);
    if (r) this.rows.set(id, { ...r, lastUsedAt: at });
  }
  async audit(event: AuditEventInput) {
    this.audits.push(event);
  }
}

/** Keycloak as the domain sees it: users and their effective roles; `down` makes every call fail. */
export class FakeDirectory {
  readonly users = new Map<string, PatUser>();
  readonly roles = new Map<string, string[]>();
  down = false;
  add(name: string, roles: string[]): void {
    this.users.set(`id-${name}`, { id: `id-${name}`, username: name, enabled: true });
    this.roles.set(`id-${name}`, roles);
  }
  async findUser(_realm: string, id: string) {
    if (this.down) throw new Error('Keycloak is down');
    return this.users.get(id);
  }
  async effectiveRealmRoles(_realm: string, id: string) {
    if (this.down) throw new Error('Keycloak is down');
    return this.roles.get(id) ?? [];
  }
}

export function world(options: { ttlSeconds?: number } = {}) {
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
  const patStore = new MemoryPats(settingsStore);
  const pats = new PersonalAccessTokenService({ store: patStore, settings, realms, authz, users: directory, clock });
  return { clock, directory, authz, settingsStore, approvalStore, approvals, settings, patStore, pats };
}

/** The KeywardError a promise is refused with (fails when it resolves). */
export async function refusal(p: Promise<unknown>): Promise<KeywardError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KeywardError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}
