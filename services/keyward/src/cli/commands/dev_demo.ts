/** What `keyward dev` sets up after start (the realm-config files, the console's demo users), and the example it prints. */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Keyward } from '../../compose.ts';
import { consoleClientSecret } from '../../keycloak/console_client.ts';
import { kc } from '../../keycloak/errors.ts';
import { certificateSubject, GENERATION_ATTRIBUTE } from '../../provisioning/api_clients.ts';
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

/** The demo realm's secretless API client (RFC 8705: mutual TLS at Keycloak, certificate-bound tokens). */
export const DEMO_SECRETLESS = { clientId: 'demo-secretless', roles: ['keyward-requester'], policy: 'web-servers' } as const;

const DAY = 86_400_000;

export interface SecretlessFiles {
  readonly clientId: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** What this start did: made the client, issued a new certificate to it (the kept one was missing, expired or unpinned), or nothing. */
  readonly action: 'created' | 'renewed' | 'kept';
}

/** Whether the kept certificate still works: readable, a week or more left, and of the client's current generation. */
function keptCertificateFits(certFile: string, keyFile: string, subject: string | undefined): boolean {
  if (!subject || !existsSync(certFile) || !existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return new Date(cert.validTo).getTime() - Date.now() > 7 * DAY && cert.subject.trim() === subject;
  } catch {
    return false;
  }
}

/**
 * Makes the demo realm's certificate API client once ({@link DEMO_SECRETLESS}) and keeps its certificate and key in
 * the data directory (0600), as the demo users' passwords are kept: a start finds the client and the files and
 * changes nothing; a missing client is created; a missing, expiring or unpinned certificate (a revocation moves the
 * client to a new generation) is replaced by a new one of the client's current generation.
 */
export async function ensureSecretlessClient(keyward: Keyward, realm: string): Promise<SecretlessFiles> {
  const { clientId } = DEMO_SECRETLESS;
  const dir = join(keyward.config.dataDir, 'dev-secretless');
  const certFile = join(dir, `${clientId}.crt`);
  const keyFile = join(dir, `${clientId}.key`);
  const found = await keyward.apiClients.find(realm, clientId);
  let issued: { certificate: string; privateKey?: string | undefined } | undefined;
  let action: SecretlessFiles['action'] = 'kept';
  if (!found) {
    const made = await keyward.apiClients.create(
      realm,
      {
        clientId,
        description: 'Secretless demo client: mutual TLS at Keycloak, certificate-bound tokens (RFC 8705)',
        roles: [...DEMO_SECRETLESS.roles],
        authentication: 'certificate',
        certificatePolicy: DEMO_SECRETLESS.policy,
      },
      'system',
    );
    issued = made.certificate;
    action = 'created';
  } else {
    const generation = (await keyward.identity.findClient(realm, clientId))?.attributes[GENERATION_ATTRIBUTE];
    // In the form of Node's X509Certificate.subject (one `type=value` line per attribute).
    const subject = generation
      ? certificateSubject(clientId, generation)
          .map((a) => `${a.type}=${a.value}`)
          .join('\n')
      : undefined;
    if (found.authentication !== 'certificate' || !keptCertificateFits(certFile, keyFile, subject)) {
      const updated = await keyward.apiClients.update(
        realm,
        clientId,
        { authentication: 'certificate', certificatePolicy: DEMO_SECRETLESS.policy },
        'system',
      );
      issued = updated.certificate;
      action = 'renewed';
    }
  }
  if (issued) {
    if (!issued.privateKey) throw new TypeError(`the certificate of ${clientId} came without its generated key`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [file, content] of [
      [keyFile, issued.privateKey],
      [certFile, issued.certificate],
    ] as const) {
      writeFileSync(file, content.endsWith('\n') ? content : `${content}\n`, { mode: 0o600 });
      chmodSync(file, 0o600); // an existing file keeps its mode otherwise
    }
  }
  return { clientId, certFile, keyFile, action };
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
  /** Keycloak's TLS listener and the CA file that verifies it, or why the secretless demo cannot run. */
  readonly secretless?:
    { readonly keycloakHttpsUrl: string; readonly keycloakCaFile: string } | { readonly unavailable: string } | undefined;
}

/** A path as a shell word (quoted only when it needs to be). */
const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The lines that show the secretless client: a bound token from Keycloak over mutual TLS, then Keyward over the same certificate. */
async function secretlessLines(ctx: DemoContext, realm: string): Promise<string[]> {
  const s = ctx.secretless;
  if (!s) return [];
  if ('unavailable' in s) return ['', `Secretless API client demo not shown: ${s.unavailable}`];
  const files = await ensureSecretlessClient(ctx.keyward, realm);
  if (files.action !== 'kept')
    ctx.progress(`${files.action === 'created' ? 'made' : 'renewed'} the secretless API client ${files.clientId}: ${files.certFile}`);
  const tls = `--cert ${shellWord(files.certFile)} --key ${shellWord(files.keyFile)}`;
  const lines = [
    '',
    `Secretless API client ${files.clientId} of realm ${realm}` +
      ' (no secret: mutual TLS at Keycloak, a token bound to its certificate, RFC 8705):',
    `  MTLS_TOKEN=$(curl -s ${tls} --cacert ${shellWord(s.keycloakCaFile)}` +
      ` -d grant_type=client_credentials -d client_id=${files.clientId}` +
      ` ${s.keycloakHttpsUrl}/realms/${realm}/protocol/openid-connect/token` +
      ` | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
  ];
  if (ctx.tls)
    lines.push(
      `  curl -s ${tls} --cacert ${shellWord(ctx.tls.certFile)} -H "Authorization: Bearer $MTLS_TOKEN" ${ctx.tls.url}/v1/whoami` +
        '   # the same token over plain HTTP: 401 token.certificate_mismatch',
    );
  else lines.push("  (calling Keyward with that token needs Keyward's HTTPS listener, which did not start)");
  return lines;
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
  if (demo) lines.push(...(await secretlessLines(ctx, demo.realm)));
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
