/**
 * The audit event: what a state change records, in the same transaction as
 * the change. Names are `noun.verb_past` (`certificate.issued`), listed in the
 * README; readers see an event as an `AuditEventView` (audit_events.ts) with
 * its seq, id and time added by the store.
 */

/** Who acted: a principal as recorded (its kind and credential, subject, realm and name), or the system. */
export interface AuditActor {
  /** `user:bearer`, `client:pat`, … or `system`. */
  readonly kind: string;
  readonly id: string;
  readonly realm?: string | undefined;
  readonly name?: string | undefined;
}

/** One event of the audit trail, as a change records it. */
export interface AuditEventInput {
  /** `noun.verb_past`, e.g. `approval.approved`. */
  readonly action: string;
  readonly actor: AuditActor;
  /** Undefined for installation-wide events (and refused tokens whose realm is unknown). */
  readonly realm?: string | undefined;
  readonly target?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
}

/** The actor of Keyward's own background work (sweeps, expiry). */
export const SYSTEM_ACTOR: AuditActor = Object.freeze({ kind: 'system', id: 'keyward' });
