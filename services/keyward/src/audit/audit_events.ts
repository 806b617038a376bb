/**
 * Reading the audit trail: a realm's events for its keyward-admins (and
 * operators), every event for operators — including those recorded without a
 * realm (refused tokens whose realm is unknown, installation-wide changes).
 * Newest first, filtered by action (exact, or a noun such as `certificate`),
 * target and time, a page at a time; each event says whether it is sealed.
 */
import type { Principal } from '../authn/principal.ts';
import type { AuditActor } from './event.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { Page } from '../kernel/page.ts';

export interface AuditEventView {
  readonly seq: string;
  readonly id: string;
  readonly at: string;
  readonly realm: string | undefined;
  readonly actor: AuditActor;
  readonly action: string;
  readonly target: string | undefined;
  readonly details: unknown;
  /** Linked into the hash chain (the sealer runs about once a second). */
  readonly sealed: boolean;
}

export interface AuditEventFilter extends Page {
  /** `certificate.issued`, or the noun alone (`certificate`) for all its verbs. */
  readonly action?: string | undefined;
  readonly target?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
}

/** What reading the trail needs from storage (storage/audit_event_store.ts). */
export interface AuditEventStore {
  /** A page of events of `realm`, or of every realm and none; `action` without a dot matches the noun. */
  listEvents(realm: string | undefined, f: AuditEventFilter): Promise<AuditEventView[]>;
}

/** The realms Keyward manages (provisioning's RealmService): 404 for any other. */
export interface ManagedRealms {
  /** @throws 404 `realm.not_found` unless Keyward manages `realm` */
  getManaged(realm: string): Promise<unknown>;
}

/** The hash chain, recomputed (storage/audit_log.ts): the seq of the first broken event, and the chain's counts and head. */
export interface AuditChain {
  verify(): Promise<string | undefined>;
  status(): Promise<{ sealed: number; unsealed: number; head: string }>;
}

/** What `GET /v1/audit-events/verification` answers, as `keyward audit verify` prints it. */
export interface AuditVerification {
  readonly intact: boolean;
  /** The first event edited, deleted from a sealed range or added to one. */
  readonly brokenAt?: string;
  readonly sealed: number;
  readonly waiting: number;
  readonly head: string;
}

const ACTION = /^[a-z][a-z_]*(\.[a-z][a-z_]*)?$/;

export class AuditEvents {
  readonly #store: AuditEventStore;
  readonly #authz: Authorizer;
  readonly #realms: ManagedRealms;
  readonly #chain: AuditChain | undefined;

  constructor(deps: { store: AuditEventStore; authz: Authorizer; realms: ManagedRealms; chain?: AuditChain }) {
    this.#store = deps.store;
    this.#authz = deps.authz;
    this.#realms = deps.realms;
    this.#chain = deps.chain;
  }

  /**
   * Operators: the whole chain recomputed seal by seal, as `keyward audit verify` does.
   * @throws 403 `auth.forbidden` for anyone else
   */
  async verification(p: Principal): Promise<AuditVerification> {
    this.#authz.requireOperator(p);
    if (!this.#chain) throw new TypeError('AuditEvents was built without the audit chain');
    const brokenAt = await this.#chain.verify();
    const { sealed, unsealed, head } = await this.#chain.status();
    return { intact: brokenAt === undefined, ...(brokenAt === undefined ? {} : { brokenAt }), sealed, waiting: unsealed, head };
  }

  /**
   * A page of events: of `realm` (keyward-admin there, or an operator), or of
   * every realm and none (`realm` undefined: operators only).
   * @throws 400 `request.malformed` for a bad action or time range; 403 `auth.forbidden`; 404 for an unmanaged realm.
   */
  async list(realm: string | undefined, p: Principal, f: AuditEventFilter): Promise<AuditEventView[]> {
    if (realm === undefined) this.#authz.requireOperator(p);
    else {
      await this.#realms.getManaged(realm);
      await this.#authz.require(p, realm, ROLES.admin);
    }
    if (f.action !== undefined && !ACTION.test(f.action)) {
      throw new KeywardError(
        'request.malformed',
        `"${f.action.slice(0, 100)}" is not an audit action (noun.verb_past, or the noun alone)`,
        { extras: { field: 'action' } },
      );
    }
    if (f.since && f.until && f.since > f.until)
      throw new KeywardError('request.malformed', 'since must not be later than until', { extras: { field: 'since' } });
    return this.#store.listEvents(realm, f);
  }
}
