/**
 * The `keyward` client scope: one per realm, carrying the audience mapper that
 * puts Keyward's audience into access tokens. A client that has this scope as
 * a default scope is a Keyward API client, whether Keyward created it or a
 * realm admin ticked it in the console (issue: clients made in the console).
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import { kc } from './errors.ts';

/** Attribute marking every Keycloak object that Keyward created and owns. */
export const MANAGED_ATTRIBUTE = 'keyward.managed';

/** Ensures the realm has a client scope named `audience` with the audience mapper; returns its id. */
export async function ensureAudienceScope(admin: KcAdminClient, realm: string, audience: string): Promise<string> {
  const existing = await kc(`find client scope ${audience} in realm ${realm}`, () =>
    admin.clientScopes.findOneByName({ realm, name: audience }),
  );
  if (existing?.id) return existing.id;
  await kc(`create client scope ${audience} in realm ${realm}`, () =>
    admin.clientScopes.create({
      realm,
      name: audience,
      protocol: 'openid-connect',
      description:
        "Keyward API client: adds Keyward's audience to access tokens. Add it as a default scope to make a client a Keyward API client.",
      attributes: { 'include.in.token.scope': 'true', 'display.on.consent.screen': 'false', [MANAGED_ATTRIBUTE]: 'true' },
      protocolMappers: [
        {
          name: `${audience}-audience`,
          protocol: 'openid-connect',
          protocolMapper: 'oidc-audience-mapper',
          config: {
            'included.custom.audience': audience,
            'access.token.claim': 'true',
            'id.token.claim': 'false',
            'introspection.token.claim': 'true',
          },
        },
      ],
    }),
  );
  const created = await kc(`find client scope ${audience} in realm ${realm}`, () =>
    admin.clientScopes.findOneByName({ realm, name: audience }),
  );
  return created!.id!;
}
