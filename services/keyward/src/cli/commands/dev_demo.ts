/** What `keyward dev` sets up after start (the realm-config files), and the example it prints. */
import { fileURLToPath } from 'node:url';
import type { Keyward } from '../../compose.ts';
import { readRealmConfig } from './realm_config.ts';

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
  const lines = [
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
      `  npx keyward devices settings --realm ${demo.realm} --enable`,
      `  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -out device.crt` +
        ` -subj "/O=Demo/CN=device-1" -days 30 -addext basicConstraints=critical,CA:FALSE`,
      `  curl -s --cacert ${ctx.tls.certFile} --cert device.crt --key device.key` +
        ` ${ctx.tls.url}/v1/realms/${demo.realm}/devices/hello   # 403 device.pending`,
      `  npx keyward devices pending --realm ${demo.realm};` +
        ` npx keyward devices accept CERTIFICATE-… --alias device-1 --realm ${demo.realm}`,
      `  curl -s --cacert ${ctx.tls.certFile} --cert device.crt --key device.key ${ctx.tls.url}/v1/whoami`,
    );
  }
  return lines;
}
