/**
 * The integration environment shared by every integration test in one run:
 * a real Keycloak (KEYWARD_KEYCLOAK_URL, else Docker, else the official
 * distribution) and a fresh PostgreSQL database, dropped at the end. Started
 * once, lazily, by the first test that needs it; stopped by hooks.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { compose, type ComposeOptions, type Keyward } from '../../services/keyward/src/compose.ts';
import { startKeycloak, testDatabase } from '../../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../../services/keyward/src/keycloak/bootstrap.ts';
import { loadConfig } from '../../services/keyward/src/kernel/config.ts';
import { createLogger } from '../../services/keyward/src/kernel/log.ts';
import { closeServer, listen, listenTls } from '../../services/keyward/src/server.ts';

export interface IntegrationEnv {
  readonly keycloakUrl: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  readonly databaseUrl: string;
  readonly clientSecret: string;
  readonly operator: { readonly clientId: string; readonly clientSecret: string };
}

const cleanups: Array<() => Promise<void>> = [];
/** One key-encryption key per run: every Keyward of the run shares the database and so its sealed CA keys. */
const RUN_KEK = randomBytes(32).toString('base64');
let shared: Promise<IntegrationEnv> | undefined;

const say = (line: string) => process.stderr.write(`  [integration] ${line}\n`);

export function integrationEnv(): Promise<IntegrationEnv> {
  shared ??= (async () => {
    const keycloak = await startKeycloak({ log: say });
    cleanups.push(() => keycloak.stop());
    say(`Keycloak (${keycloak.source}) at ${keycloak.url}`);
    const database = await testDatabase({ log: say });
    cleanups.push(() => database.drop());
    say(`PostgreSQL (${database.source}), fresh database for this run`);
    const boot = await bootstrap({
      url: keycloak.url,
      adminUser: keycloak.adminUser,
      adminPassword: keycloak.adminPassword,
      clientId: 'keyward-control-plane',
      audience: 'keyward',
      operatorClientId: 'keyward-operator-test',
    });
    await longerOperatorTokens(keycloak.url, keycloak.adminUser, keycloak.adminPassword, 'keyward-operator-test');
    return {
      keycloakUrl: keycloak.url,
      adminUser: keycloak.adminUser,
      adminPassword: keycloak.adminPassword,
      databaseUrl: database.url,
      clientSecret: boot.clientSecret,
      operator: boot.operator!,
    };
  })();
  return shared;
}

/**
 * Test files fetch an operator token once and use it for minutes; on a loaded
 * machine a file outlives master's 60-second tokens. The test operator client
 * gets 15-minute tokens (a per-client override in Keycloak); the product's
 * operators keep master's lifespan.
 */
async function longerOperatorTokens(url: string, user: string, password: string, clientId: string): Promise<void> {
  const t = await fetch(`${url}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: user, password }),
  });
  const { access_token } = (await t.json()) as { access_token: string };
  const auth = { authorization: `Bearer ${access_token}` };
  const found = (await (await fetch(`${url}/admin/realms/master/clients?clientId=${clientId}`, { headers: auth })).json()) as {
    id: string;
    attributes?: Record<string, string>;
  }[];
  const c = found[0];
  if (!c) throw new Error(`the operator client ${clientId} is missing in master after bootstrap`);
  const res = await fetch(`${url}/admin/realms/master/clients/${c.id}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...c, attributes: { ...c.attributes, 'access.token.lifespan': '900' } }),
  });
  if (!res.ok) throw new Error(`could not set the test operator's token lifespan: HTTP ${res.status}`);
}

/** Stops everything started by this module (mochaGlobalTeardown). */
export async function stopAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch((err) => say(`cleanup failed: ${(err as Error).message}`));
}

export interface RunningKeyward {
  readonly url: string;
  /** The HTTPS listener, when KEYWARD_TLS_CERT/KEY were given. */
  readonly tlsUrl: string | undefined;
  readonly keyward: Keyward;
  close(): Promise<void>;
}

/**
 * The environment of a `keyward serve` process against the integration environment: what a replica of the
 * test run needs (the run's database, Keycloak, client secret and key-encryption key).
 */
export async function replicaEnv(overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const env = await integrationEnv();
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    KEYWARD_DATABASE_URL: env.databaseUrl,
    KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
    KEYWARD_KEYCLOAK_CLIENT_SECRET: env.clientSecret,
    KEYWARD_KEK: RUN_KEK,
    KEYWARD_HOST: '127.0.0.1',
    KEYWARD_LOG_LEVEL: 'error',
    KEYWARD_ROLE_CACHE_SECONDS: '1',
    // As in startKeyward: periodic work shared through leader leases stays off unless a test turns it on, so a replica
    // left running by one test never holds another test's task.
    KEYWARD_PAT_SWEEP_SECONDS: '0',
    KEYWARD_IDENTITY_SYNC_SECONDS: '0',
    KEYWARD_WEBHOOK_POLL_SECONDS: '0',
    KEYWARD_EXPIRY_SWEEP_SECONDS: '0',
    ...overrides,
  };
}

/** Starts a Keyward server on a free port against the integration environment. */
export async function startKeyward(overrides: Record<string, string> = {}, options: Partial<ComposeOptions> = {}): Promise<RunningKeyward> {
  const env = await integrationEnv();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-test-'));
  const config = loadConfig(
    { HOME: process.env.HOME },
    {
      KEYWARD_DATABASE_URL: env.databaseUrl,
      KEYWARD_KEYCLOAK_URL: env.keycloakUrl,
      KEYWARD_KEYCLOAK_CLIENT_SECRET: env.clientSecret,
      KEYWARD_PORT: '0',
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_KEK: RUN_KEK,
      KEYWARD_LOG_LEVEL: 'error',
      KEYWARD_ROLE_CACHE_SECONDS: '1',
      // Token sweeps run on one replica at a time: a test that needs them starts a Keyward that sweeps, and no other
      // Keyward of the run holds the task meanwhile.
      KEYWARD_PAT_SWEEP_SECONDS: '0',
      // Likewise identity following: a test that needs it turns it on.
      KEYWARD_IDENTITY_SYNC_SECONDS: '0',
      // Webhook delivery and the expiry sweep likewise: the test of webhooks starts the Keyward that runs them.
      KEYWARD_WEBHOOK_POLL_SECONDS: '0',
      KEYWARD_EXPIRY_SWEEP_SECONDS: '0',
      ...overrides,
    },
  );
  const keyward = await compose(config, { log: createLogger({ level: config.logLevel }), ...options });
  const server = await listen(keyward, '127.0.0.1', 0);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const tls = config.tls.certFile ? await listenTls(keyward, '127.0.0.1', 0) : undefined;
  const tlsAddress = tls?.address();
  const tlsUrl = tlsAddress && typeof tlsAddress === 'object' ? `https://127.0.0.1:${tlsAddress.port}` : undefined;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await closeServer(server, 1000);
      if (tls) await closeServer(tls, 1000);
      await keyward.close();
      rmSync(dataDir, { recursive: true, force: true });
    })());
  cleanups.push(close);
  return { url: `http://127.0.0.1:${port}`, tlsUrl, keyward, close };
}

/** A client-credentials access token from the real Keycloak, as a client would get it. */
export async function clientToken(realm: string, clientId: string, secret: string): Promise<string> {
  const env = await integrationEnv();
  const config = await oidc.discovery(new URL(`${env.keycloakUrl}/realms/${realm}`), clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
  return (await oidc.clientCredentialsGrant(config)).access_token;
}

/** A master-realm operator token (keyward-operator). */
export async function operatorToken(): Promise<string> {
  const env = await integrationEnv();
  return clientToken('master', env.operator.clientId, env.operator.clientSecret);
}

/** Keycloak's own admin REST API over plain HTTP with the bootstrap admin: the independent witness. */
export async function keycloakAdmin(path: string, init: RequestInit = {}): Promise<Response> {
  const env = await integrationEnv();
  const tokenRes = await fetch(`${env.keycloakUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: env.adminUser, password: env.adminPassword }),
  });
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  return fetch(`${env.keycloakUrl}/admin/realms${path}`, {
    ...init,
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json', ...init.headers },
  });
}

/** JSON request to Keyward; returns status, headers and parsed body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** A real user's access token (password grant through a public client with the keyward scope). */
export async function userToken(realm: string, username: string, password: string): Promise<string> {
  const env = await integrationEnv();
  const res = await fetch(`${env.keycloakUrl}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'test-login', username, password }),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  if (!body.access_token) throw new Error(`no user token for ${username}: ${body.error_description}`);
  return body.access_token;
}

/** Creates the public login client used by userToken() in a realm (Keyward's audience as a default scope). */
export async function createLoginClient(realm: string): Promise<void> {
  const r = await keycloakAdmin(`/${realm}/clients`, {
    method: 'POST',
    body: JSON.stringify({ clientId: 'test-login', publicClient: true, directAccessGrantsEnabled: true, standardFlowEnabled: false }),
  });
  if (r.status !== 201) throw new Error(`cannot create the login client: ${r.status}`);
  const [c] = (await (await keycloakAdmin(`/${realm}/clients?clientId=test-login`)).json()) as Array<{ id: string }>;
  const [scope] = ((await (await keycloakAdmin(`/${realm}/client-scopes`)).json()) as Array<{ id: string; name: string }>).filter(
    (x) => x.name === 'keyward',
  );
  await keycloakAdmin(`/${realm}/clients/${c!.id}/default-client-scopes/${scope!.id}`, { method: 'PUT' });
}

/** Creates a user with a password and realm roles; returns its id. */
export async function createUser(realm: string, username: string, password: string, roles: string[] = []): Promise<string> {
  const r = await keycloakAdmin(`/${realm}/users`, {
    method: 'POST',
    body: JSON.stringify({
      username,
      enabled: true,
      email: `${username}@example.test`,
      emailVerified: true,
      firstName: username,
      lastName: 'Test',
      credentials: [{ type: 'password', value: password, temporary: false }],
    }),
  });
  if (r.status !== 201) throw new Error(`cannot create user ${username}: ${r.status}`);
  const id = r.headers.get('location')!.split('/').pop()!;
  if (roles.length) {
    const reps = await Promise.all(roles.map(async (n) => (await keycloakAdmin(`/${realm}/roles/${n}`)).json()));
    await keycloakAdmin(`/${realm}/users/${id}/role-mappings/realm`, { method: 'POST', body: JSON.stringify(reps) });
  }
  return id;
}

/** A unique name for test objects. */
export const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;
