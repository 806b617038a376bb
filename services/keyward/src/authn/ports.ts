/**
 * What call-time authorisation reads from the identity provider, owned by its
 * consumer: the effective roles of a principal, a cross-realm grant, and
 * whether an API client may still act at all. The Keycloak adapter
 * (keycloak/identity_admin.ts) implements it.
 */

/**
 * Whether an API client may still use the tokens it holds:
 * - `active`: the client exists, is enabled and its service-account user is enabled;
 * - `disabled`: the client is disabled (the switch in Keycloak's admin console);
 * - `service_account_disabled`: its service-account user is disabled, or service accounts were switched off;
 * - `not_found`: the client was deleted.
 */
export type ClientState = 'active' | 'disabled' | 'service_account_disabled' | 'not_found';

export interface GrantState {
  readonly enabled: boolean;
  readonly roles: readonly string[];
}

export interface IdentityReader {
  /** Realm roles of a user (for an API client: its service-account user), composites expanded. */
  effectiveRealmRoles(realm: string, userId: string): Promise<string[]>;
  /** The grant that `realm` gives to client `clientId` of realm `fromRealm`, or undefined when there is none. */
  findGrant(realm: string, fromRealm: string, clientId: string): Promise<GrantState | undefined>;
  /** The state of API client `clientId` of `realm` whose service-account user is `serviceAccountUserId`. */
  clientState(realm: string, clientId: string, serviceAccountUserId: string): Promise<ClientState>;
}
