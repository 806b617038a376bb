/**
 * `keyward bootstrap`: the one step that uses a Keycloak administrator's
 * password. It creates (idempotently) Keyward's own confidential client in the
 * master realm, with a service account holding only `create-realm` (Keycloak
 * grants a realm's creator the management roles of that realm, so Keyward can
 * administer every realm it creates) plus the management roles of existing
 * realms named explicitly; the master realm role `keyward-operator`; and the
 * `keyward` client scope that puts Keyward's audience into master tokens; and
 * the web console's client `keyward-console` in master, for operators' logins.
 * From then on Keyward runs on the client's credentials only.
 */
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { KeywardError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/log.ts';
import { kc, keycloakStatus } from './errors.ts';
import { MANAGED_ATTRIBUTE, ensureAudienceScope } from './scopes.ts';
import { CONSOLE_CLIENT_ID, consoleClientSecret, ensureConsoleClient } from './console_client.ts';

export const OPERATOR_ROLE = 'keyward-operator';

/** Roles of the `<realm>-realm` client in master that Keyward needs on a realm it did not create. */
export const REALM_ADMIN_ROLES = [
  'view-realm',
  'manage-realm',
  'view-clients',
  'manage-clients',
  'view-users',
  'manage-users',
  'query-clients',
  'query-users',
  'query-groups',
  'view-events',
];

export interface BootstrapOptions {
  readonly url: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly clientId: string;
  readonly audience: string;
  /** Existing realms Keyward must administer although it did not create them. */
  readonly realms?: readonly string[];
  /** Regenerate the client secret even when the client exists. */
  readonly rotate?: boolean;
  /** Also create (or find) a master-realm API client holding keyward-operator, for the CLI and demos. */
  readonly operatorClientId?: string | undefined;
  /**
   * Keyward's public URL (KEYWARD_PUBLIC_URL): makes (or puts back) the web console's client `keyward-console`
   * in master, for operators, with its redirect there — added to the redirects it has, since several Keyward
   * installations may share one Keycloak. Its secret derives from the control-plane secret.
   */
  readonly consoleUrl?: string | undefined;
  readonly log?: Logger;
  readonly timeoutMs?: number;
}

export interface BootstrapResult {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly created: boolean;
  readonly operator?: { readonly clientId: string; readonly clientSecret: string } | undefined;
}

/** Logs in as the bootstrap administrator (admin-cli, password grant, master realm). */
export async function adminLogin(url: string, username: string, password: string, timeoutMs = 10_000): Promise<KcAdminClient> {
  const client = new KcAdminClient({ baseUrl: url, realmName: 'master', timeout: timeoutMs });
  try {
    await client.auth({ grantType: 'password', clientId: 'admin-cli', username, password });
  } catch (err) {
    const status = keycloakStatus(err);
    if (status === 401 || status === 400) {
      throw new KeywardError(
        'keycloak.rejected',
        `Keycloak refused the administrator login of ${username} (check KEYWARD_KEYCLOAK_ADMIN_USER / KEYWARD_KEYCLOAK_ADMIN_PASSWORD)`,
        { cause: err },
      );
    }
    return kc('log in as the Keycloak administrator', () => Promise.reject(err));
  }
  return client;
}

/** Keycloak's client attribute for access tokens without roles and other optional claims (Keycloak 24+). */
const LIGHTWEIGHT_TOKENS = 'client.use.lightweight.access.token.enabled';

async function ensureServiceClient(
  admin: KcAdminClient,
  clientId: string,
  description: string,
  rotate: boolean,
  extra: Record<string, unknown> = {},
  attributes: Record<string, string> = {},
): Promise<{ id: string; secret: string; created: boolean }> {
  const realm = 'master';
  const found = await kc(`find client ${clientId}`, () => admin.clients.find({ realm, clientId }));
  let id = found[0]?.id;
  let created = false;
  const existing = found[0];
  if (existing?.id && Object.entries(attributes).some(([k, v]) => existing.attributes?.[k] !== v)) {
    await kc(`update client ${clientId}`, () =>
      admin.clients.update({ realm, id: existing.id! }, { ...existing, attributes: { ...existing.attributes, ...attributes } }),
    );
  }
  if (!id) {
    const res = await kc(`create client ${clientId}`, () =>
      admin.clients.create({
        realm,
        clientId,
        name: clientId,
        description,
        enabled: true,
        protocol: 'openid-connect',
        publicClient: false,
        clientAuthenticatorType: 'client-secret',
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
        attributes: { [MANAGED_ATTRIBUTE]: 'true', ...attributes },
        ...extra,
      }),
    );
    id = res.id;
    created = true;
  }
  const secret =
    rotate && !created
      ? await kc(`rotate the secret of ${clientId}`, () => admin.clients.generateNewClientSecret({ realm, id: id! }))
      : await kc(`read the secret of ${clientId}`, () => admin.clients.getClientSecret({ realm, id: id! }));
  if (!secret.value) throw new KeywardError('keycloak.rejected', `Keycloak returned no secret for ${clientId}`);
  return { id: id!, secret: secret.value, created };
}

async function grantRealmRole(admin: KcAdminClient, saUserId: string, roleName: string): Promise<void> {
  const role = await kc(`find master role ${roleName}`, () => admin.roles.findOneByName({ realm: 'master', name: roleName }));
  if (!role?.id) throw new KeywardError('role.not_found', `master realm role ${roleName} does not exist`);
  await kc(`grant ${roleName}`, () =>
    admin.users.addRealmRoleMappings({ realm: 'master', id: saUserId, roles: [{ id: role.id!, name: role.name! }] }),
  );
}

/**
 * Creates or repairs Keyward's client; safe to run any number of times.
 *
 * @example
 * const { clientSecret } = await bootstrap({
 *   url,
 *   adminUser: 'admin',
 *   adminPassword: 'admin',
 *   clientId: 'keyward-control-plane',
 *   audience: 'keyward',
 * });
 */
export async function bootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  const admin = await adminLogin(options.url, options.adminUser, options.adminPassword, options.timeoutMs);
  const log = options.log;

  const existingRole = await kc('find the operator role', () => admin.roles.findOneByName({ realm: 'master', name: OPERATOR_ROLE }));
  if (!existingRole) {
    await kc('create the operator role', () =>
      admin.roles.create({
        realm: 'master',
        name: OPERATOR_ROLE,
        description: 'Keyward operator: manages realms, API clients and policies in every managed realm',
        attributes: { [MANAGED_ATTRIBUTE]: ['true'] },
      }),
    );
    log?.info('created master realm role', { role: OPERATOR_ROLE });
  }
  await ensureAudienceScope(admin, 'master', options.audience);

  // Lightweight access tokens: the control plane holds the management roles of every realm it manages, and a token
  // listing them all outgrows Keycloak's request header limit (431) at about a hundred realms. Keycloak's admin API
  // checks the service account's roles itself, so the token need not carry them.
  const cp = await ensureServiceClient(
    admin,
    options.clientId,
    'Keyward control plane (managed by keyward bootstrap)',
    options.rotate ?? false,
    {},
    { [LIGHTWEIGHT_TOKENS]: 'true' },
  );
  const sa = await kc('find the service account of the control-plane client', () =>
    admin.clients.getServiceAccountUser({ realm: 'master', id: cp.id }),
  );
  await grantRealmRole(admin, sa.id!, 'create-realm');
  for (const realm of options.realms ?? []) {
    const mgmt = await kc(`find the management client of realm ${realm}`, () =>
      admin.clients.find({ realm: 'master', clientId: `${realm}-realm` }),
    );
    if (!mgmt[0]?.id) throw new KeywardError('realm.not_found', `realm ${realm} does not exist in Keycloak`);
    const roles = await kc(`list the management roles of realm ${realm}`, () =>
      admin.clients.listRoles({ realm: 'master', id: mgmt[0]!.id! }),
    );
    const wanted = roles.filter((r) => REALM_ADMIN_ROLES.includes(r.name!)).map((r) => ({ id: r.id!, name: r.name! }));
    await kc(`grant management of realm ${realm}`, () =>
      admin.users.addClientRoleMappings({ realm: 'master', id: sa.id!, clientUniqueId: mgmt[0]!.id!, roles: wanted }),
    );
  }
  log?.info(cp.created ? 'created the control-plane client' : 'control-plane client present', { clientId: options.clientId });
  if (options.consoleUrl) {
    const outcome = await ensureConsoleClient(
      admin,
      'master',
      options.audience,
      {
        publicUrl: options.consoleUrl,
        secret: consoleClientSecret(cp.secret, 'master'),
      },
      { addRedirects: true },
    );
    log?.info(`console client ${outcome}`, { clientId: CONSOLE_CLIENT_ID, realm: 'master' });
  }

  let operator: BootstrapResult['operator'];
  if (options.operatorClientId) {
    const op = await ensureServiceClient(admin, options.operatorClientId, 'Keyward operator API client (CLI and automation)', false, {
      defaultClientScopes: ['profile', 'roles', 'basic', options.audience],
    });
    const opSa = await kc('find the service account of the operator client', () =>
      admin.clients.getServiceAccountUser({ realm: 'master', id: op.id }),
    );
    await grantRealmRole(admin, opSa.id!, OPERATOR_ROLE);
    operator = { clientId: options.operatorClientId, clientSecret: op.secret };
  }
  return { clientId: options.clientId, clientSecret: cp.secret, created: cp.created, operator };
}
