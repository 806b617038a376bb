/** What dual-control approvals need from storage. */
import type { AuditActor, AuditEventInput } from '../audit/event.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

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
  readonly proposedBy: AuditActor;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** As stored; a pending approval past `expiresAt` is reported as expired. */
  readonly status: ApprovalStatus;
  readonly decidedBy: AuditActor | undefined;
  readonly decidedAt: Date | undefined;
  readonly reason: string | undefined;
}

/**
 * The decision to store. Approving carries the kind's effect as a function of
 * the store's transaction, so the change lands in the same transaction that
 * marks the approval approved (nothing is applied without its decision, nor
 * decided without its change). Approvals never look inside it.
 */
export type Decision<Tx> =
  | { readonly status: 'approved'; readonly by: AuditActor; readonly at: Date; readonly apply: (tx: Tx) => Promise<void> }
  | { readonly status: 'rejected'; readonly by: AuditActor; readonly at: Date; readonly reason: string | undefined };

/** The approvals table; `Tx` is the store's transaction, handed to the effect of an approved decision. */
export interface ApprovalStore<Tx> {
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
   * status, applies an approval's effect and writes the audit events, atomically
   * (`UPDATE … WHERE status = 'pending' RETURNING`). Undefined when it was not
   * pending any more: exactly one decision wins.
   */
  decide(realm: string, id: string, decision: Decision<Tx>, audit: readonly AuditEventInput[]): Promise<ApprovalRecord | undefined>;
  /** Marks every due pending approval expired, with one audit event each; returns them. */
  expireDue(at: Date, audit: (e: ApprovalRecord) => AuditEventInput): Promise<ApprovalRecord[]>;
}
