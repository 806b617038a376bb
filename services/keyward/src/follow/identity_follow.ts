/**
 * Certificates follow identity. A certificate names its requester — an API
 * client, a device client or a user of a Keycloak realm — and, when it was
 * issued through a cross-realm grant, the realm that granted it. When Keycloak
 * says the requester was deleted or disabled, or the grant was revoked, the
 * certificate is revoked, put on hold or kept as its policy says
 * (`onRequesterDeleted`, `onRequesterDisabled`, `onGrantRevoked`); a hold
 * Keyward put is released when the requester is enabled again. Users' client
 * certificates are revoked when their user is deleted.
 *
 * Detection, on one replica (the holder of the `identity-sync` lease):
 * - Keycloak's admin events of each managed realm, read from where the last
 *   run stopped (a cursor per realm: the time of the last event processed and
 *   the ids processed at that time), so a restart neither misses nor repeats;
 * - a reconciliation of every requester of certificates in force with
 *   Keycloak, on the first run of a leader and every `reconcileEvery` runs
 *   after, which catches what the events do not show (events expired or
 *   cleared in Keycloak, a role taken from a grant).
 *
 * Every change is one of issuance's status changes (one atomic UPDATE … WHERE
 * status … RETURNING, audited once with its cause), so running the same events
 * twice — another replica finishing the work of one that died — changes and
 * audits nothing twice. The cursor moves only after the events are applied.
 */
import { SYSTEM_ACTOR, type AuditActor } from '../audit/event.ts';
import { identityRules, type IdentityRules } from '../ca/index.ts';
import type { StatusChange, StatusChanges } from '../issuance/issuance.ts';
import type { Clock } from '../kernel/clock.ts';
import type { Logger } from '../kernel/log.ts';
import type { AdminEvent, FollowStore, IdentityDirectory, RequesterInForce, RequesterState } from './ports.ts';

/** The actor of the changes made by following identity. */
export const IDENTITY_ACTOR: AuditActor = Object.freeze({ ...SYSTEM_ACTOR, id: 'identity-sync' });
/** What a hold put by following identity records as its source: only those holds are released when the requester is enabled. */
export const IDENTITY_HOLD = 'identity';
/** How Keyward names the Keycloak client that records a cross-realm grant in the granting realm (keycloak/identity_admin.ts). */
const grantHolderName = (fromRealm: string, clientId: string) => `keyward-grant.${fromRealm}.${clientId}`;

const PAGE = 200;
/** At most this many events of one realm per run; the rest come at the next run. */
const MAX_EVENTS_PER_RUN = 5000;
/** A realm followed for the first time: its events from this long before now (reconciliation covers what came earlier). */
const FIRST_LOOK_BACK_MS = 60_000;

/** Why a change is made: a Keycloak admin event, or the reconciliation. */
export type Cause =
  | {
      readonly source: 'keycloak.admin_event';
      readonly realm: string;
      readonly id: string;
      readonly time: string;
      readonly operationType: string;
      readonly resourceType: string;
      readonly resourcePath: string;
    }
  | { readonly source: 'reconciliation' };

export interface IdentityFollowDeps {
  readonly directory: IdentityDirectory;
  readonly store: FollowStore;
  readonly changes: StatusChanges;
  readonly realms: { list(): Promise<readonly { readonly name: string }[]> };
  readonly policies: { find(realm: string, name: string): Promise<{ readonly document: unknown } | undefined> };
  readonly clock: Clock;
  readonly log: Logger;
  /** Reconcile on the first run and every this many runs (default 10). */
  readonly reconcileEvery?: number | undefined;
}

/** What one run did. */
export interface FollowReport {
  events: number;
  revoked: number;
  held: number;
  released: number;
  clientCertificatesRevoked: number;
  reconciled: boolean;
}

const eventCause = (realm: string, e: AdminEvent): Cause => ({
  source: 'keycloak.admin_event',
  realm,
  id: e.id,
  time: new Date(e.time).toISOString(),
  operationType: e.operationType,
  resourceType: e.resourceType,
  resourcePath: e.resourcePath,
});

const keyOf = (r: RequesterInForce) => `${r.certificateRealm}\u0000${r.realm}\u0000${r.kind}\u0000${r.id}`;

export class IdentityFollow {
  readonly #d: IdentityFollowDeps;
  readonly #every: number;
  #runs = 0;
  readonly #eventsOn = new Set<string>();

  constructor(deps: IdentityFollowDeps) {
    this.#d = deps;
    this.#every = Math.max(1, deps.reconcileEvery ?? 10);
  }

  /**
   * One run: each managed realm's new admin events, then, when due, the reconciliation.
   * @example await lease.whenLeader(() => follow.run())
   */
  async run(options: { reconcile?: boolean } = {}): Promise<FollowReport> {
    const report: FollowReport = { events: 0, revoked: 0, held: 0, released: 0, clientCertificatesRevoked: 0, reconciled: false };
    const reconcile = options.reconcile ?? this.#runs % this.#every === 0;
    this.#runs++;
    for (const { name } of await this.#d.realms.list()) {
      try {
        await this.#followEvents(name, report);
      } catch (err) {
        this.#d.log.warn('could not follow the admin events of a realm; will retry', { realm: name, err });
      }
    }
    if (reconcile) {
      await this.reconcile(report);
      report.reconciled = true;
    }
    return report;
  }

  /** Compares every requester of certificates in force (and every owner of client certificates) with Keycloak. */
  async reconcile(report: FollowReport = { events: 0, revoked: 0, held: 0, released: 0, clientCertificatesRevoked: 0, reconciled: true }) {
    const cause: Cause = { source: 'reconciliation' };
    for (const r of await this.#d.store.requesters()) {
      try {
        await this.#evaluate(r, cause, report);
      } catch (err) {
        this.#d.log.warn('could not reconcile a requester with Keycloak; will retry', { realm: r.realm, requester: r.name ?? r.id, err });
      }
    }
    for (const o of await this.#d.store.clientCertificateOwners()) {
      try {
        await this.#followUser(o.realm, o.userId, cause, report);
      } catch (err) {
        this.#d.log.warn('could not reconcile a user of client certificates with Keycloak; will retry', { realm: o.realm, err });
      }
    }
    return report;
  }

  async #followEvents(realm: string, report: FollowReport): Promise<void> {
    if (!this.#eventsOn.has(realm)) {
      await this.#d.directory.ensureAdminEvents(realm);
      this.#eventsOn.add(realm);
    }
    const stored = await this.#d.store.cursor(realm);
    const cursor = stored ?? { time: this.#d.clock.now().getTime() - FIRST_LOOK_BACK_MS, ids: [] };
    const events: AdminEvent[] = [];
    for (let first = 0; events.length < MAX_EVENTS_PER_RUN; first += PAGE) {
      const page = await this.#d.directory.adminEvents(realm, cursor.time, first, PAGE);
      events.push(...page);
      if (page.length < PAGE) break;
    }
    const seen = new Set(cursor.ids);
    const fresh = events.filter((e) => !(e.time === cursor.time && seen.has(e.id)));
    if (fresh.length) {
      report.events += fresh.length;
      await this.#apply(realm, fresh, report);
    }
    if (!fresh.length && stored) return;
    const last = Math.max(cursor.time, ...events.map((e) => e.time));
    const ids = events.filter((e) => e.time === last).map((e) => e.id);
    await this.#d.store.saveCursor(realm, { time: last, ids: [...new Set([...(last === cursor.time ? cursor.ids : []), ...ids])] });
  }

  /** The requesters the events are about, each evaluated once, with the first event about it as the cause. */
  async #apply(realm: string, events: readonly AdminEvent[], report: FollowReport): Promise<void> {
    const relevant = events.filter(
      (e) =>
        ((e.resourceType === 'CLIENT' || e.resourceType === 'USER') && (e.operationType === 'UPDATE' || e.operationType === 'DELETE')) ||
        (e.resourceType === 'REALM_ROLE_MAPPING' && e.operationType === 'DELETE'),
    );
    if (!relevant.length) return;
    const requesters = await this.#d.store.requesters(realm);
    const done = new Set<string>();
    const evaluate = async (targets: readonly RequesterInForce[], e: AdminEvent) => {
      for (const r of targets) {
        if (done.has(keyOf(r))) continue;
        done.add(keyOf(r));
        await this.#evaluate(r, eventCause(realm, e), report);
      }
    };
    const crossRealmHere = (r: RequesterInForce) => r.certificateRealm === realm && r.realm !== realm;
    for (const e of relevant) {
      const [type, id, ...deeper] = e.resourcePath.split('/');
      if (e.resourceType === 'REALM_ROLE_MAPPING') {
        // Roles taken from a service account (users/<id>/role-mappings/realm): perhaps a grant holder's, so the grants
        // this realm recorded are looked at.
        if (type === 'users' && id)
          await evaluate(
            requesters.filter((r) => crossRealmHere(r)),
            e,
          );
        continue;
      }
      if (!id || deeper.length) continue;
      if (type === 'users') {
        await evaluate(
          requesters.filter((r) => r.realm === realm && r.id === id),
          e,
        );
        await this.#followUser(realm, id, eventCause(realm, e), report);
      } else if (type === 'clients') {
        const clientId = await this.#d.directory.clientIdOf(realm, id);
        if (clientId === undefined) {
          // Deleted: which client it was, Keycloak no longer says. Every client requester of the realm, and every grant it
          // recorded, is looked at; only those gone change.
          await evaluate(
            requesters.filter((r) => (r.realm === realm && r.kind === 'client') || crossRealmHere(r)),
            e,
          );
        } else {
          await evaluate(
            requesters.filter(
              (r) =>
                (r.realm === realm && r.kind === 'client' && r.name === clientId) ||
                (crossRealmHere(r) && r.kind === 'client' && grantHolderName(r.realm, r.name ?? '') === clientId),
            ),
            e,
          );
        }
      }
    }
  }

  /** Looks the requester up in Keycloak and applies its certificates' policies to what it finds. */
  async #evaluate(r: RequesterInForce, cause: Cause, report: FollowReport): Promise<void> {
    const d = this.#d.directory;
    let state: RequesterState;
    if (r.kind === 'client') state = r.name ? (await d.clientState(r.realm, r.name, r.id)).state : 'deleted';
    else state = await d.userState(r.realm, r.id);
    const grantRevoked =
      state !== 'deleted' && r.kind === 'client' && r.certificateRealm !== r.realm && r.name
        ? !(await d.grantInForce(r.certificateRealm, r.realm, r.name)).inForce
        : false;
    const rules = new Map<string, IdentityRules>();
    const revoked: string[] = [];
    for (const c of await this.#d.store.certificatesOf(r)) {
      const key = `${c.realm}\u0000${c.policy}`;
      let rule = rules.get(key);
      if (!rule) {
        rule = identityRules(((await this.#d.policies.find(c.realm, c.policy))?.document ?? {}) as Parameters<typeof identityRules>[0]);
        rules.set(key, rule);
      }
      const change: StatusChange = { realm: c.realm, serial: c.serial, actor: IDENTITY_ACTOR, cause };
      if (state === 'deleted') {
        if (rule.onRequesterDeleted === 'revoke' && (await this.#d.changes.revoke(change, 'cessationOfOperation'))?.changed) {
          report.revoked++;
          revoked.push(c.serial);
        }
      } else if (grantRevoked && rule.onGrantRevoked === 'revoke') {
        if ((await this.#d.changes.revoke(change, 'affiliationChanged'))?.changed) {
          report.revoked++;
          revoked.push(c.serial);
        }
      } else if (state === 'disabled') {
        if (rule.onRequesterDisabled === 'hold' && !c.held) {
          if ((await this.#d.changes.hold({ ...change, holdSource: IDENTITY_HOLD }))?.changed) report.held++;
        } else if (rule.onRequesterDisabled === 'revoke') {
          if ((await this.#d.changes.revoke(change, 'cessationOfOperation'))?.changed) {
            report.revoked++;
            revoked.push(c.serial);
          }
        }
      } else if (state === 'active' && c.held && c.holdSource === IDENTITY_HOLD) {
        if ((await this.#d.changes.release({ ...change, holdSource: IDENTITY_HOLD }))?.changed) report.released++;
      }
    }
    // Once per requester and run that revoked something: a repeated run revokes nothing and says nothing again.
    if (revoked.length > 0) {
      const why = state === 'deleted' ? 'deleted' : grantRevoked ? 'grant_revoked' : 'disabled';
      await this.#d.store.requesterRemoved(r, why, revoked, cause);
    }
  }

  /** A user's client certificates are revoked when the user is deleted (a disabled user's are refused at each use already). */
  async #followUser(realm: string, userId: string, cause: Cause, report: FollowReport): Promise<void> {
    if ((await this.#d.directory.userState(realm, userId)) !== 'deleted') return;
    const revoked = await this.#d.store.revokeClientCertificatesOf(realm, userId, this.#d.clock.now(), (id) => ({
      action: 'client_certificate.revoked',
      actor: IDENTITY_ACTOR,
      realm,
      target: id,
      details: { reason: 'cessationOfOperation', cause },
    }));
    report.clientCertificatesRevoked += revoked.length;
  }
}
