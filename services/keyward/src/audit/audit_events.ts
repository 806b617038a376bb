/**
 * Reading the audit trail: a realm's events for its keyward-admins (and
 * operators), every event for operators — including those recorded without a
 * realm (refused tokens whose realm is unknown, installation-wide changes).
 * Newest first, filtered by action (exact, or a noun such as `certificate`),
 * target and time, a page at a time; each event says whether it is sealed.
 */
import type { Principal } from '../authn/principal.ts';
import { ROLES, type Authorizer } from '../authn/roles.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { Page } from '../kernel/page.ts';
import type { RealmService } from '../provisioning/realms.ts';
import type { Queryable } from './audit_log.ts';

export interface AuditEventView {
  readonly seq: string;
  readonly id: string;
  readonly at: string;
  readonly realm: string | undefined;
  readonly actor: unknown;
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

const ACTION = /^[a-z][a-z_]*(\.[a-z][a-z_]*)?$/;

export class AuditEvents {
  readonly #db: Queryable;
  readonly #authz: Authorizer;
  readonly #realms: RealmService;

  constructor(deps: { db: Queryable; authz: Authorizer; realms: RealmService }) {
    this.#db = deps.db;
    this.#authz = deps.authz;
    this.#realms = deps.realms;
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
      throw new KeywardError('request.malformed', `"${f.action.slice(0, 100)}" is not an audit action (noun.verb_past, or the noun alone)`, { extras: { field: 'action' } });
    }
    if (f.since && f.until && f.since > f.until) throw new KeywardError('request.malformed', 'since must not be later than until', { extras: { field: 'since' } });
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll('?', `$${params.length}`));
    };
    if (realm !== undefined) add('e.realm = ?', realm);
    if (f.action !== undefined) add(f.action.includes('.') ? 'e.action = ?' : "split_part(e.action, '.', 1) = ?", f.action);
    if (f.target !== undefined) add('e.target = ?', f.target);
    if (f.since) add('e.at >= ?', f.since);
    if (f.until) add('e.at <= ?', f.until);
    params.push(f.max, f.first);
    // A realm's page walks its (realm, at) index; every realm's walks the seq key backwards (no sort of the whole trail).
    const rows = await this.#db.query<{ seq: string; id: string; at: Date; realm: string | null; actor: unknown; action: string; target: string | null; details: unknown; sealed: boolean }>(
      `SELECT e.seq, e.id, e.at, e.realm, e.actor, e.action, e.target, e.details, e.seq <= s.last_seq AS sealed
         FROM audit_events e, (SELECT coalesce(max(last_seq), 0) AS last_seq FROM audit_seals) s
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ${realm !== undefined ? 'e.at DESC, e.seq DESC' : 'e.seq DESC'} LIMIT $${params.length - 1} OFFSET $${params.length}`, params);
    return rows.rows.map((r) => ({
      seq: r.seq, id: r.id, at: r.at.toISOString(), realm: r.realm ?? undefined, actor: r.actor, action: r.action, target: r.target ?? undefined, details: r.details, sealed: r.sealed,
    }));
  }
}
