/**
 * Dual control, like IBM CSM's: a change to a protected setting (or a device
 * acceptance) made by one admin is stored as a pending approval and takes
 * effect only when a *different* admin approves it.
 *
 * Approvals are generic and know nothing of what they protect: each kind is
 * registered at the composition root with its domain's rules (who may review
 * it, what approving it changes, how to undo work done outside the store) and
 * the effect its store applies in the same transaction that marks the
 * approval approved. A kind `devices.accept` also covers `devices.accept/<id>`.
 *
 * Rules:
 * - the proposer can never approve (any credential of the same Keycloak user
 *   or client counts as the proposer), but may reject — that withdraws it;
 * - at most one approval per realm and kind is pending at a time;
 * - a pending approval expires after `ttlSeconds` (KEYWARD_APPROVAL_TTL_SECONDS);
 * - a decision is taken exactly once (`UPDATE … WHERE status = 'pending'`).
 */
import { SYSTEM_ACTOR, type AuditActor, type AuditEventInput } from '../audit/event.ts';
import { auditActor, type Principal } from '../authn/principal.ts';
import type { Clock } from '../kernel/clock.ts';
import { KeywardError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';
import type { ApprovalRecord, ApprovalStatus, ApprovalStore } from './ports.ts';

/** What the domain of a kind decides (protected settings, device onboarding, …); `E` is its effect, as data. */
export interface ApprovalRules<E> {
  /** Throws 403 `auth.forbidden` unless the principal may review (approve or reject) approvals of this kind in `realm`. */
  authorize(p: Principal, realm: string): Promise<void>;
  /**
   * Re-checks that the approval still applies (throws a KeywardError when it
   * does not) and returns its effect and the audit events of the change.
   */
  prepare(a: ApprovalRecord, approver: Principal): Promise<{ effect: E; audit: readonly AuditEventInput[] }>;
  /** Undoes what `prepare` did outside the store (e.g. a Keycloak client) when the decision is not stored after all. */
  abandon?(effect: E): Promise<void>;
}

/**
 * A kind as the composition root registers it: its domain's rules, and how
 * its store applies the effect inside the decision's transaction `Tx`.
 * @example
 * approvals.register('settings.dual_control', { ...settings.approvalRules('dual_control'), apply: writeSettingChange });
 */
export interface ApprovalKind<E, Tx> extends ApprovalRules<E> {
  apply(tx: Tx, effect: E): Promise<void>;
}

export interface ApprovalView {
  readonly id: string;
  readonly realm: string;
  readonly kind: string;
  readonly status: ApprovalStatus;
  readonly change: Readonly<Record<string, unknown>>;
  readonly proposedBy: AuditActor;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedBy: AuditActor | undefined;
  readonly decidedAt: string | undefined;
  readonly reason: string | undefined;
}

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired'];
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Same Keycloak principal: the same user or client of the same realm, whatever credential it used. */
export function sameActor(a: AuditActor, p: Principal): boolean {
  return a.id === p.subject && a.realm === p.realm;
}

/** What proposing (settings, device onboarding) and reviewing (HTTP, CLI) use: everything but registration. */
export type Approvals = Omit<ApprovalService<unknown>, 'register'>;

/** Dual-control approvals over a store whose transactions are `Tx`. */
export class ApprovalService<Tx> {
  readonly #store: ApprovalStore<Tx>;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #kinds = new Map<string, ApprovalKind<unknown, Tx>>();

  constructor(deps: { store: ApprovalStore<Tx>; clock: Clock; ttlSeconds: number }) {
    if (!Number.isInteger(deps.ttlSeconds) || deps.ttlSeconds < 1) throw new TypeError('ttlSeconds must be a positive whole number');
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#ttlMs = deps.ttlSeconds * 1000;
  }

  /** Registers a kind once, at composition time; `kind` has no `/` (a subject follows it in a proposal). */
  register<E>(kind: string, handler: ApprovalKind<E, Tx>): void {
    if (kind.includes('/') || !kind) throw new TypeError(`approval kind ${kind} must be a non-empty name without /`);
    if (this.#kinds.has(kind)) throw new TypeError(`approval kind ${kind} is already registered`);
    this.#kinds.set(kind, handler);
  }

  /** `devices.accept/<id>` is of the registered kind `devices.accept`. */
  static #base(kind: string): string {
    const slash = kind.indexOf('/');
    return slash < 0 ? kind : kind.slice(0, slash);
  }

  #kind(kind: string): ApprovalKind<unknown, Tx> {
    const k = this.#kinds.get(ApprovalService.#base(kind));
    if (!k) throw new TypeError(`approval kind ${kind} is not registered`);
    return k;
  }

  view(a: ApprovalRecord): ApprovalView {
    const status = a.status === 'pending' && a.expiresAt <= this.#clock.now() ? 'expired' : a.status;
    return {
      id: a.id,
      realm: a.realm,
      kind: a.kind,
      status,
      change: a.payload,
      proposedBy: a.proposedBy,
      createdAt: a.createdAt.toISOString(),
      expiresAt: a.expiresAt.toISOString(),
      decidedBy: a.decidedBy,
      decidedAt: a.decidedAt?.toISOString(),
      reason: a.reason,
    };
  }

  /**
   * Stores a proposed change as pending. The caller has already checked that
   * the proposer may make the change; the proposer need not be able to review.
   * @throws 409 `approval.already_pending` while another change of the same kind waits
   */
  async propose(realm: string, kind: string, p: Principal, payload: Record<string, unknown>): Promise<ApprovalView> {
    this.#kind(kind);
    const now = this.#clock.now();
    const a: ApprovalRecord = {
      id: newId(),
      realm,
      kind,
      payload,
      proposedBy: auditActor(p),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.#ttlMs),
      status: 'pending',
      decidedBy: undefined,
      decidedAt: undefined,
      reason: undefined,
    };
    const blocked = await this.#store.insertPending(
      a,
      {
        action: 'approval.proposed',
        actor: auditActor(p),
        realm,
        target: a.id,
        details: { kind, ...payload, expiresAt: a.expiresAt.toISOString() },
      },
      (e) => this.#expiredEvent(e),
    );
    if (blocked) {
      throw new KeywardError(
        'approval.already_pending',
        `Approval ${blocked.blockedBy} for ${kind} in realm ${realm} is still pending: approve or reject it first`,
        { extras: { approvalId: blocked.blockedBy } },
      );
    }
    return this.view(a);
  }

  #expiredEvent(e: ApprovalRecord): AuditEventInput {
    return {
      action: 'approval.expired',
      actor: SYSTEM_ACTOR,
      realm: e.realm,
      target: e.id,
      details: { kind: e.kind, proposedBy: e.proposedBy },
    };
  }

  /** May `p` review at least one kind in `realm`? Each kind's check, or 403 when none passes. */
  async #reviewableKinds(p: Principal, realm: string): Promise<Set<string>> {
    const ok = new Set<string>();
    let firstRefusal: unknown;
    for (const [kind, k] of this.#kinds) {
      try {
        await k.authorize(p, realm);
        ok.add(kind);
      } catch (err) {
        firstRefusal ??= err;
      }
    }
    if (ok.size === 0) throw firstRefusal ?? new KeywardError('auth.forbidden', `No approvals can be reviewed in realm ${realm}`);
    return ok;
  }

  /** Approvals of the realm that the caller may review, newest first. */
  async list(
    realm: string,
    p: Principal,
    options: { status?: ApprovalStatus | undefined; max?: number | undefined } = {},
  ): Promise<ApprovalView[]> {
    if (options.status !== undefined && !STATUSES.includes(options.status))
      throw new TypeError(`unknown approval status ${options.status}`);
    const kinds = await this.#reviewableKinds(p, realm);
    const rows = await this.#store.list(realm, { status: options.status, at: this.#clock.now(), max: options.max ?? 200 });
    return rows.filter((a) => kinds.has(ApprovalService.#base(a.kind))).map((a) => this.view(a));
  }

  /** The pending approval of a kind, if any (settings show it next to their value). */
  async pendingOf(realm: string, kind: string): Promise<ApprovalView | undefined> {
    const rows = await this.#store.list(realm, { status: 'pending', at: this.#clock.now(), max: 200 });
    const a = rows.find((r) => r.kind === kind);
    return a ? this.view(a) : undefined;
  }

  async #find(realm: string, id: string): Promise<ApprovalRecord> {
    const a = ID.test(id) ? await this.#store.get(realm, id) : undefined;
    if (!a || !this.#kinds.has(ApprovalService.#base(a.kind)))
      throw new KeywardError('approval.not_found', `Realm ${realm} has no approval ${id}`);
    return a;
  }

  async get(realm: string, id: string, p: Principal): Promise<ApprovalView> {
    const a = await this.#find(realm, id);
    if (!sameActor(a.proposedBy, p)) await this.#kind(a.kind).authorize(p, realm);
    return this.view(a);
  }

  #assertPending(a: ApprovalRecord): void {
    // Expired whether or not the sweep has already marked it so.
    if (a.status !== 'pending' && a.status !== 'expired') {
      throw new KeywardError(
        'approval.not_pending',
        `Approval ${a.id} was already ${a.status}${a.decidedAt ? ` on ${a.decidedAt.toISOString()}` : ''}`,
        { extras: { status: a.status } },
      );
    }
    if (a.status === 'expired' || a.expiresAt <= this.#clock.now()) {
      throw new KeywardError('approval.expired', `Approval ${a.id} expired on ${a.expiresAt.toISOString()}; propose the change again`, {
        extras: { expiresAt: a.expiresAt.toISOString() },
      });
    }
  }

  /**
   * Approves and applies the change, atomically.
   * @throws 403 `approval.self_approval` for the proposer; 409 `approval.not_pending`, `approval.expired`
   */
  async approve(realm: string, id: string, p: Principal): Promise<ApprovalView> {
    const a = await this.#find(realm, id);
    const kind = this.#kind(a.kind);
    await kind.authorize(p, realm);
    if (sameActor(a.proposedBy, p)) {
      throw new KeywardError(
        'approval.self_approval',
        `Approval ${id} was proposed by ${a.proposedBy.name ?? a.proposedBy.id}: a different admin must approve it`,
      );
    }
    this.#assertPending(a);
    const { effect, audit } = await kind.prepare(a, p);
    const at = this.#clock.now();
    const by = auditActor(p);
    let decided: ApprovalRecord | undefined;
    try {
      const apply = (tx: Tx) => kind.apply(tx, effect);
      decided = await this.#store.decide(realm, id, { status: 'approved', by, at, apply }, [
        { action: 'approval.approved', actor: by, realm, target: id, details: { kind: a.kind, proposedBy: a.proposedBy, ...a.payload } },
        ...audit,
      ]);
    } catch (err) {
      await kind.abandon?.(effect);
      throw err;
    }
    if (!decided) {
      await kind.abandon?.(effect);
      this.#assertPending(await this.#find(realm, id)); // lost a race: say what happened instead
    }
    return this.view(decided ?? (await this.#find(realm, id)));
  }

  /** Rejects a pending approval: a reviewer of its kind, or the proposer (withdrawing it). */
  async reject(realm: string, id: string, p: Principal, reason: string | undefined): Promise<ApprovalView> {
    const a = await this.#find(realm, id);
    if (!sameActor(a.proposedBy, p)) await this.#kind(a.kind).authorize(p, realm);
    this.#assertPending(a);
    const by = auditActor(p);
    const decided = await this.#store.decide(realm, id, { status: 'rejected', by, at: this.#clock.now(), reason }, [
      {
        action: 'approval.rejected',
        actor: by,
        realm,
        target: id,
        details: { kind: a.kind, proposedBy: a.proposedBy, reason, withdrawn: sameActor(a.proposedBy, p) },
      },
    ]);
    if (!decided) this.#assertPending(await this.#find(realm, id));
    return this.view(decided ?? (await this.#find(realm, id)));
  }

  /** Marks due approvals expired (with an `approval.expired` event each); run by the background sweep. */
  async expireDue(): Promise<number> {
    return (await this.#store.expireDue(this.#clock.now(), (e) => this.#expiredEvent(e))).length;
  }
}
