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

  async clientState(realm: string, clientId: string, serviceAccountId: string): Promise<{ state: RequesterState; id?: string }> {
    const [clients, user] = await Promise.all([
      kc(`find client ${clientId} in realm ${realm}`, () => this.#kc.clients.find({ realm, clientId })),
      kc(`read a service account of realm ${realm}`, () => orGone(() => this.#kc.users.findOne({ realm, id: serviceAccountId }))),
    ]);
    const client = clients.find((c) => c.clientId === clientId);
    // A client made again under the same clientId has another service account: the requester is gone all the same.
    if (!client || !user) return { state: 'deleted' };
    if (client.enabled === false || user.enabled === false) return { state: 'disabled', id: client.id };
    return { state: 'active', id: client.id };
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
