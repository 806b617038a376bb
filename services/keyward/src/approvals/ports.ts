/** What dual-control approvals need from storage. */
import type { TrustedDevice } from '../devices/ports.ts';
import type { AuditEventInput } from '../provisioning/ports.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** Who proposed or decided: the audit actor of a principal. */
export interface ApprovalActor {
  readonly kind: string;
  readonly id: string;
  readonly realm?: string | undefined;
  readonly name?: string | undefined;
}

export interface ApprovalRecord {
  readonly id: string;
  readonly realm: string;
  /**
   * What the approval protects, e.g. `settings.personal_access_tokens`, or
   * `devices.accept/<id>` (a registered kind, `/`, a subject); at most one
   * pending per realm and kind.
   */
  readonly kind: string;
  /** The proposed change, as the kind describes it (for settings: `{from, to}`). */
  readonly payload: Readonly<Record<string, unknown>>;
  readonly proposedBy: ApprovalActor;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** As stored; a pending approval past `expiresAt` is reported as expired. */
  readonly status: ApprovalStatus;
  readonly decidedBy: ApprovalActor | undefined;
  readonly decidedAt: Date | undefined;
  readonly reason: string | undefined;
}

/**
 * What approving does, as data, so the store applies it in the same
 * transaction that marks the approval approved (DESIGN.md principle 3).
 * Later kinds (device acceptance) add their own variants.
 */
export type ApprovalEffect =
  | { readonly type: 'setting'; readonly realm: string; readonly name: string; readonly value: unknown }
  /** Device onboarding: the pending certificate becomes trusted (its Keycloak client already exists). */
  | { readonly type: 'device_accept'; readonly device: TrustedDevice };

export type Decision =
  | { readonly status: 'approved'; readonly by: ApprovalActor; readonly at: Date; readonly effect: ApprovalEffect }
  | { readonly status: 'rejected'; readonly by: ApprovalActor; readonly at: Date; readonly reason: string | undefined };

export interface ApprovalStore {
  /**
   * Marks due pending approvals of the same realm and kind expired, then
   * inserts `a` as pending, in one transaction. Returns the id of the pending
   * approval that blocks it instead when there is one.
   */
  insertPending(
    a: ApprovalRecord,
    audit: AuditEventInput,
    expiredAudit: (e: ApprovalRecord) => AuditEventInput,
  ): Promise<{ blockedBy: string } | undefined>;
  get(realm: string, id: string): Promise<ApprovalRecord | undefined>;
  list(realm: string, options: { status?: ApprovalStatus | undefined; at: Date; max: number }): Promise<ApprovalRecord[]>;
  /**
   * Moves a pending approval that has not expired at `decision.at` to its new
   * status, applies the effect and writes the audit events, atomically
   * (`UPDATE … WHERE status = 'pending' RETURNING`). Undefined when it was not
   * pending any more: exactly one decision wins.
   */
  decide(realm: string, id: string, decision: Decision, audit: readonly AuditEventInput[]): Promise<ApprovalRecord | undefined>;
  /** Marks every due pending approval expired, with one audit event each; returns them. */
  expireDue(at: Date, audit: (e: ApprovalRecord) => AuditEventInput): Promise<ApprovalRecord[]>;
}
