/**
 * In-memory adapters for the PAT domain, so its rules run with a frozen
 * clock, over the protected settings of test/unit/settings/fakes.ts. The
 * PostgreSQL adapters and Keycloak are exercised by
 * test/integration/08_personal_access_tokens.test.ts.
 */
import type { AuditEventInput } from '../../../services/keyward/src/audit/event.ts';
import { PersonalAccessTokenService } from '../../../services/keyward/src/pat/personal_access_tokens.ts';
import type { PatRecord, PatStore } from '../../../services/keyward/src/pat/ports.ts';
import { MemorySettings, settingsWorld } from '../settings/fakes.ts';

export { REALM, refusal, user } from '../approvals/fakes.ts';

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
  async renameUser(realm: string, userId: string, username: string) {
    let n = 0;
    for (const [id, r] of this.rows)
      if (r.realm === realm && r.userId === userId && r.username !== username) {
        this.rows.set(id, { ...r, username });
        n++;
      }
    return n;
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

export function world(options: { ttlSeconds?: number } = {}) {
  const w = settingsWorld(options);
  const patStore = new MemoryPats(w.settingsStore);
  const pats = new PersonalAccessTokenService({
    store: patStore,
    settings: w.settings,
    realms: w.realms,
    authz: w.authz,
    users: w.directory,
    clock: w.clock,
  });
  return { ...w, patStore, pats };
}
