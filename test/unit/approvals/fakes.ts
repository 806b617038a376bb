/**
 * In-memory adapters for the approvals domain, so its rules run with a frozen
 * clock. The PostgreSQL adapter and Keycloak are exercised by the integration
 * scenarios of personal access tokens and devices.
 */
import type { ApprovalRecord, ApprovalStore, Decision } from '../../../services/keyward/src/approvals/ports.ts';
import type { AuditEventInput } from '../../../services/keyward/src/audit/event.ts';
import type { Principal } from '../../../services/keyward/src/authn/principal.ts';
import { KeywardError } from '../../../services/keyward/src/kernel/errors.ts';
import type { PatUser } from '../../../services/keyward/src/pat/ports.ts';

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

/** The approvals table in memory; an approved decision's effect runs on `tx`, the state it changes. */
export class MemoryApprovals<Tx> implements ApprovalStore<Tx> {
  readonly rows = new Map<string, ApprovalRecord>();
  readonly audit: AuditEventInput[] = [];
  readonly #tx: Tx;
  constructor(tx: Tx) {
    this.#tx = tx;
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
  async decide(realm: string, id: string, d: Decision<Tx>, audit: readonly AuditEventInput[]) {
    const r = this.rows.get(id);
    if (!r || r.realm !== realm || r.status !== 'pending' || r.expiresAt <= d.at) return undefined;
    if (d.status === 'approved') await d.apply(this.#tx); // throws before anything is recorded, like a rolled-back transaction
    const next: ApprovalRecord = {
      ...r,
      status: d.status,
      decidedBy: d.by,
      decidedAt: d.at,
      reason: d.status === 'rejected' ? d.reason : undefined,
    };
    this.rows.set(id, next);
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
