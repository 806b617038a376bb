/**
 * `keyward-console`: the confidential client the web console logs in with
 * (authorization code flow with PKCE S256 only), one per managed realm and one
 * in master for operators. Keyward creates it and puts it back as it should be
 * (redirect URI, post-logout redirect, web origin, secret, the `keyward` scope)
 * wherever realms are ensured: `PUT /v1/realms/{realm}` and realm-config for
 * managed realms, `keyward bootstrap` for master.
 *
 * Its secret is never stored: it is derived from Keyward's own client secret
 * (HMAC-SHA256 over the realm name), so every replica computes it without a
 * call to Keycloak, and a realm admin who changes it in Keycloak's console
 * breaks only that realm's console login until the next `PUT /v1/realms/{realm}`.
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import type ClientRepresentation from '@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js';
import { createHmac } from 'node:crypto';
import { kc, keycloakStatus } from './errors.ts';
import { MANAGED_ATTRIBUTE, ensureAudienceScope } from './scopes.ts';

export const CONSOLE_CLIENT_ID = 'keyward-console';

/** The console client's secret in `realm`, derived from the control-plane client's secret. */
export function consoleClientSecret(controlPlaneSecret: string, realm: string): string {
  return createHmac('sha256', controlPlaneSecret).update(`keyward-console\u0000${realm}`).digest('base64url');
}

export interface ConsoleClientSpec {
  /** Keyward's public base URL (KEYWARD_PUBLIC_URL), without a trailing slash. */
  readonly publicUrl: string;
  readonly secret: string;
}

/** The client as it should be. */
export function consoleClientRepresentation(spec: ConsoleClientSpec): ClientRepresentation {
  const base = spec.publicUrl.replace(/\/+$/, '');
  return {
    clientId: CONSOLE_CLIENT_ID,
    name: 'Keyward console',
    description: 'The Keyward web console (authorization code flow with PKCE), managed by Keyward',
    enabled: true,
    protocol: 'openid-connect',
    publicClient: false,
    clientAuthenticatorType: 'client-secret',
    secret: spec.secret,
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: false,
    baseUrl: `${base}/console/`,
    redirectUris: [`${base}/console/auth/callback`],
    webOrigins: [new URL(base).origin],
    alwaysDisplayInConsole: true,
    attributes: {
      [MANAGED_ATTRIBUTE]: 'true',
      'pkce.code.challenge.method': 'S256',
      'post.logout.redirect.uris': `${base}/console/*`,
      'oauth2.device.authorization.grant.enabled': 'false',
    },
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** How many Keyward addresses one console client serves at most (`addRedirects`). */
export const MAX_CONSOLE_ADDRESSES = 20;

/** The client attribute recording when each Keyward address was last added (`addRedirects`). */
const ADDRESSES_ATTRIBUTE = 'keyward.console.addresses';

/**
 * `wanted` serving also the Keyward addresses `current` already serves (several installations sharing one
 * Keycloak's master realm): the MAX_CONSOLE_ADDRESSES most recently added, the new one always.
 */
export function withEarlierRedirects(wanted: ClientRepresentation, current: ClientRepresentation, now = new Date()): ClientRepresentation {
  const suffix = '/console/auth/callback';
  const mine = wanted.redirectUris![0]!.slice(0, -suffix.length);
  let seen: Record<string, string> = {};
  try {
    const raw = current.attributes?.[ADDRESSES_ATTRIBUTE];
    seen = JSON.parse(String(Array.isArray(raw) ? raw[0] : (raw ?? '{}'))) as Record<string, string>;
  } catch {
    seen = {};
  }
  for (const u of current.redirectUris ?? [])
    if (u.endsWith(suffix) && !seen[u.slice(0, -suffix.length)]) seen[u.slice(0, -suffix.length)] = '';
  seen[mine] = now.toISOString();
  const bases = Object.entries(seen)
    .sort(([, a], [, b]) => b.localeCompare(a))
    .slice(0, MAX_CONSOLE_ADDRESSES)
    .map(([base]) => base);
  const kept = Object.fromEntries(bases.map((b) => [b, seen[b]!]));
  return {
    ...wanted,
    redirectUris: bases.map((b) => `${b}${suffix}`),
    webOrigins: [...new Set(bases.map((b) => new URL(b).origin))],
    attributes: {
      ...wanted.attributes,
      'post.logout.redirect.uris': bases.map((b) => `${b}/console/*`).join('##'),
      [ADDRESSES_ATTRIBUTE]: JSON.stringify(kept),
    },
  };
}

/** Whether the client in Keycloak differs from what it should be in a way that matters. */
function drifted(current: ClientRepresentation, wanted: ClientRepresentation): boolean {
  const keys = [
    'enabled',
    'publicClient',
    'clientAuthenticatorType',
    'secret',
    'standardFlowEnabled',
    'implicitFlowEnabled',
    'directAccessGrantsEnabled',
    'serviceAccountsEnabled',
    'baseUrl',
    'redirectUris',
    'webOrigins',
    'alwaysDisplayInConsole',
  ] as const;
  const sorted = (v: unknown) => (Array.isArray(v) ? [...(v as string[])].sort() : v);
  if (keys.some((k) => !same(sorted(current[k]), sorted(wanted[k])))) return true;
  return Object.entries(wanted.attributes ?? {}).some(([k, v]) => String(current.attributes?.[k] ?? '') !== v);
}

/**
 * Creates the console client in `realm`, or puts it back as it should be;
 * makes sure it has the `keyward` scope (so its access tokens carry Keyward's audience).
 */
export async function ensureConsoleClient(
  admin: KcAdminClient,
  realm: string,
  audience: string,
  spec: ConsoleClientSpec,
  options: { addRedirects?: boolean } = {},
): Promise<'created' | 'updated' | 'unchanged'> {
  let wanted = consoleClientRepresentation(spec);
  const scopeId = await ensureAudienceScope(admin, realm, audience);
  const find = async () =>
    (await kc(`find client ${CONSOLE_CLIENT_ID} in realm ${realm}`, () => admin.clients.find({ realm, clientId: CONSOLE_CLIENT_ID }))).find(
      (c) => c.clientId === CONSOLE_CLIENT_ID,
    );
  let current = await find();
  if (current && options.addRedirects) wanted = withEarlierRedirects(wanted, current);
  let outcome: 'created' | 'updated' | 'unchanged' = 'unchanged';
  if (!current) {
    try {
      await admin.clients.create({ realm, ...wanted });
      outcome = 'created';
    } catch (err) {
      if (keycloakStatus(err) !== 409) await kc(`create client ${CONSOLE_CLIENT_ID} in realm ${realm}`, () => Promise.reject(err));
    }
    current = await find();
    if (!current?.id) await kc(`create client ${CONSOLE_CLIENT_ID} in realm ${realm}`, () => Promise.reject(new Error('not found')));
  } else if (drifted(current, wanted)) {
    const update = { ...current, ...wanted, attributes: { ...current.attributes, ...wanted.attributes } };
    await kc(`update client ${CONSOLE_CLIENT_ID} in realm ${realm}`, () => admin.clients.update({ realm, id: current!.id! }, update));
    outcome = 'updated';
  }
  const id = current!.id!;
  const scopes = await kc(`list client scopes of ${CONSOLE_CLIENT_ID} in realm ${realm}`, () =>
    admin.clients.listDefaultClientScopes({ realm, id }),
  );
  if (!scopes.some((s) => s.name === audience)) {
    await kc(`add the ${audience} scope to ${CONSOLE_CLIENT_ID} in realm ${realm}`, () =>
      admin.clients.addDefaultClientScope({ realm, id, clientScopeId: scopeId }),
    );
    if (outcome === 'unchanged') outcome = 'updated';
  }
  return outcome;
}
