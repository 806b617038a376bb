/** What `keyward dev` sets up after start (the realm-config files, the console's demo users), and the example it prints. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Keyward } from '../../compose.ts';
import { consoleClientSecret } from '../../keycloak/console_client.ts';
import { kc } from '../../keycloak/errors.ts';
import { readRealmConfig } from './realm_config.ts';

/** The web console's demo users of the demo realm, by role (a second admin makes dual control possible). */
export const DEMO_USERS = [
  { username: 'demo-user', roles: ['keyward-requester'], what: 'requests certificates' },
  { username: 'demo-admin', roles: ['keyward-admin', 'keyward-user-admin'], what: 'realm admin and user admin' },
  { username: 'demo-approver', roles: ['keyward-approver', 'keyward-admin'], what: 'approver and the second admin for dual control' },
] as const;

/**
 * The demo users' passwords: generated once and kept in the development data
 * directory, so they stay the same across restarts.
 */
function demoPasswords(dataDir: string): Record<string, string> {
  const file = join(dataDir, 'dev-console-users.json');
  let saved: Record<string, string> = {};
  if (existsSync(file)) {
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    } catch {
      saved = {};
    }
  }
  let changed = false;
  for (const u of DEMO_USERS) {
    if (typeof saved[u.username] !== 'string') {
      saved[u.username] = randomBytes(12).toString('base64url');
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
  }
  return saved;
}

/** Creates the demo users in `realm` when missing, with their roles and their kept passwords. */
export async function ensureDemoUsers(keyward: Keyward, realm: string): Promise<Record<string, string>> {
  const admin = keyward.keycloak.client;
  const passwords = demoPasswords(keyward.config.dataDir);
  for (const u of DEMO_USERS) {
    const found = (
      await kc(`find user ${u.username} in realm ${realm}`, () => admin.users.find({ realm, username: u.username, exact: true }))
    )[0];
    let id = found?.id;
    if (!id) {
      ({ id } = await kc(`create user ${u.username} in realm ${realm}`, () =>
        admin.users.create({
          realm,
          username: u.username,
          enabled: true,
          email: `${u.username}@demo.example`,
          emailVerified: true,
          firstName: u.username.replace(/^demo-/, 'Demo '),
          lastName: 'User',
        }),
      ));
    }
    // The kept password, set each start: the file is the truth (a lost file means new passwords).
    await kc(`set the password of ${u.username}`, () =>
      admin.users.resetPassword({ realm, id: id!, credential: { type: 'password', value: passwords[u.username]!, temporary: false } }),
    );
    await keyward.identity.addRealmRoles(realm, id!, u.roles);
  }
  return passwords;
}

export const DEMO_CONFIG_DIR = fileURLToPath(new URL('../../../../../realm-config/', import.meta.url));

export interface DemoContext {
  readonly keyward: Keyward;
  readonly keycloakUrl: string;
  readonly keywardUrl: string;
  readonly operator: { readonly clientId: string; readonly clientSecret: string };
  readonly progress: (line: string) => void;
  readonly configDir?: string | undefined;
  /** The HTTPS listener, when it runs. */
  readonly tls?: { readonly url: string; readonly certFile: string } | undefined;
}

/** Applies the realm-config files; returns the lines to print, with a ready-to-paste example of a real call. */
export async function afterStart(ctx: DemoContext): Promise<string[]> {
  const dir = ctx.configDir ?? DEMO_CONFIG_DIR;
  ctx.progress(`applying realm configuration from ${dir}…`);
  const files = ctx.keyward.realmConfig.parse(readRealmConfig(dir));
  const result = await ctx.keyward.realmConfig.apply(files, { prune: false });
  ctx.progress(result.changes.length ? `applied ${result.changes.length} change(s)` : 'realm configuration already up to date');
  // The web console's client in every realm of the files (a realm made before the console existed gets it now).
  const cfg = ctx.keyward.config;
  for (const f of files) {
    await ctx.keyward.identity.ensureConsoleClient(f.realm, {
      publicUrl: cfg.publicUrl,
      secret: consoleClientSecret(cfg.keycloak.clientSecret!, f.realm),
    });
  }
  const demoRealm = files.find((f) => f.realm === 'demo');
  const passwords = demoRealm ? await ensureDemoUsers(ctx.keyward, demoRealm.realm) : undefined;
  const lines = [
    '',
    `Web console: ${cfg.publicUrl}/console/`,
    ...(passwords
      ? [
          `  log in to realm ${demoRealm!.realm} as (passwords kept in ${join(cfg.dataDir, 'dev-console-users.json')}):`,
          ...DEMO_USERS.map((u) => `    ${u.username.padEnd(14)} ${passwords[u.username]}   ${u.what} (${u.roles.join(', ')})`),
        ]
      : []),
    '  operators log in to realm master with a user holding keyward-operator',
    '',
    `Operator client (master realm): ${ctx.operator.clientId} / ${ctx.operator.clientSecret}`,
    '  for the CLI: export KEYWARD_KEYCLOAK_URL=' +
      ctx.keycloakUrl +
      ` KEYWARD_CLIENT_ID=${ctx.operator.clientId} KEYWARD_CLIENT_SECRET=${ctx.operator.clientSecret}`,
  ];
  const demo = files.find((f) => f.realm === 'demo');
  const client = demo?.apiClients?.[0];
  if (demo && client) {
    const secret = await ctx.keyward.apiClients.currentSecret(demo.realm, client.clientId);
    const tokenUrl = `${ctx.keycloakUrl}/realms/${demo.realm}/protocol/openid-connect/token`;
    lines.push(
      '',
      `Try it as the API client ${client.clientId} of realm ${demo.realm} (paste into a shell):`,
      `  TOKEN=$(curl -s -u ${client.clientId}:${secret} -d grant_type=client_credentials ${tokenUrl}` +
        ` | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
      `  curl -s -H "Authorization: Bearer $TOKEN" ${ctx.keywardUrl}/v1/whoami`,
    );
    if (ctx.keyward.routes.some((r) => r.path === '/v1/realms/:realm/certificates' && r.method === 'post')) {
      lines.push(
        `  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout svc.key -subj "/CN=svc.apps.demo.internal"` +
          ` -addext "subjectAltName=DNS:svc.apps.demo.internal" -out svc.csr`,
        `  curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/pkcs10" --data-binary @svc.csr` +
          ` ${ctx.keywardUrl}/v1/realms/${demo.realm}/certificates`,
      );
    }
  }
  if (demo && ctx.tls) {
    lines.push(
      '',
      `Onboard a device in realm ${demo.realm} (device onboarding is off by default; the CLI line needs the exports above):`,
      `  bin/keyward devices settings --realm ${demo.realm} --enable`,
      `  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -out device.crt` +
        ` -subj "/O=Demo/CN=device-1" -days 30 -addext basicConstraints=critical,CA:FALSE`,
      `  curl -s --cacert ${ctx.tls.certFile} --cert device.crt --key device.key` +
        ` ${ctx.tls.url}/v1/realms/${demo.realm}/devices/hello   # 403 device.pending`,
      `  bin/keyward devices pending --realm ${demo.realm};` +
        ` bin/keyward devices accept CERTIFICATE-… --alias device-1 --realm ${demo.realm}`,
      `  curl -s --cacert ${ctx.tls.certFile} --cert device.crt --key device.key ${ctx.tls.url}/v1/whoami`,
    );
  }
  return lines;
}
