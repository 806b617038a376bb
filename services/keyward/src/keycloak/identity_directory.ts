/**
 * The Keycloak adapter of identity following (implements follow/ports.ts):
 * the realm's admin events (`GET /admin/realms/{realm}/admin-events`, epoch
 * millisecond `dateFrom`, `direction=asc`, Keycloak 26.2+) and the current
 * state of clients, users and cross-realm grants.
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import type { AdminEvent, IdentityDirectory, RequesterState } from '../follow/ports.ts';
import { kc, keycloakStatus } from './errors.ts';
import type { KeycloakIdentityAdmin } from './identity_admin.ts';

/** undefined for a 404 (the object is gone), the call's answer otherwise. */
async function orGone<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (keycloakStatus(err) === 404) return undefined;
    throw err;
  }
}

export class KeycloakIdentityDirectory implements IdentityDirectory {
  readonly #kc: KcAdminClient;
  readonly #admin: KeycloakIdentityAdmin;

  constructor(client: KcAdminClient, admin: KeycloakIdentityAdmin) {
    this.#kc = client;
    this.#admin = admin;
  }

  ensureAdminEvents(realm: string): Promise<void> {
    return this.#admin.ensureAdminEvents(realm);
  }

  async adminEvents(realm: string, fromTime: number, first: number, max: number): Promise<AdminEvent[]> {
    const events = await kc(`read the admin events of realm ${realm}`, () =>
      this.#kc.realms.findAdminEvents({ realm, dateFrom: fromTime, direction: 'asc', first, max } as never),
    );
    return events.map((e) => ({
      // Keycloak 26 answers each event's id (the admin client's type lacks it).
      id: (e as { id?: string }).id ?? `${e.time}:${e.operationType}:${e.resourcePath}`,
      time: Number(e.time),
      operationType: String(e.operationType ?? ''),
      resourceType: String(e.resourceType ?? ''),
      resourcePath: String(e.resourcePath ?? ''),
    }));
  }

  /**
   * The service-account user decides whether the client still exists: deleting a client (or switching its service
   * account off) deletes it, renaming the client does not (a renamed client is the same Keycloak object, see
   * "When Keycloak changes behind Keyward"), and a client made again under the old clientId has another one. The
   * client itself is found by the clientId the certificate names or, renamed, by its service account's username.
   */
  async clientState(realm: string, clientId: string, serviceAccountId: string): Promise<{ state: RequesterState; id?: string }> {
    const user = await kc(`read a service account of realm ${realm}`, () =>
      orGone(() => this.#kc.users.findOne({ realm, id: serviceAccountId })),
    );
    if (!user) return { state: 'deleted' };
    const names = [...new Set([clientId, (user.username ?? '').replace(/^service-account-/, '')])].filter(Boolean);
    for (const name of names) {
      const clients = await kc(`find client ${name} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId: name }));
      const client = clients.find((c) => c.clientId === name);
      if (!client?.id) continue;
      const sa = await kc(`read the service account of ${name}`, () =>
        orGone(() => this.#kc.clients.getServiceAccountUser({ realm, id: client.id! })),
      );
      if (sa?.id !== serviceAccountId) continue; // another client under that name
      return { state: client.enabled === false || user.enabled === false ? 'disabled' : 'active', id: client.id };
    }
    // The account exists but its client is not found under either name: nothing says it is gone.
    return { state: user.enabled === false ? 'disabled' : 'active' };
  }

  async userState(realm: string, userId: string): Promise<RequesterState> {
    const user = await kc(`read a user of realm ${realm}`, () => orGone(() => this.#kc.users.findOne({ realm, id: userId })));
    if (!user) return 'deleted';
    return user.enabled === false ? 'disabled' : 'active';
  }

  async grantInForce(grantingRealm: string, fromRealm: string, clientId: string): Promise<{ inForce: boolean; holderId?: string }> {
    const grant = await this.#admin.findGrant(grantingRealm, fromRealm, clientId);
    return { inForce: !!grant && grant.enabled && grant.roles.length > 0 };
  }

  async clientIdOf(realm: string, id: string): Promise<string | undefined> {
    const c = await kc(`read a client of realm ${realm}`, () => orGone(() => this.#kc.clients.findOne({ realm, id })));
    return c?.clientId;
  }
}
