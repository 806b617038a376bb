import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { apiFromEnv } from '../api.ts';
import { credentialsFile, removeLogin, writeLogin } from '../credentials.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

export const login: Command = {
  name: 'login',
  summary: 'Log in as a Keycloak user (OAuth 2.0 device authorization grant)',
  help: `
Usage: keyward login --realm REALM [--client keyward-cli]

Starts the device authorization grant against KEYWARD_KEYCLOAK_URL: open the
printed address in a browser, log in, confirm the code. The tokens are stored
in ~/.config/keyward/credentials.json (mode 0600) and used by every later
command that talks to KEYWARD_URL (unless KEYWARD_TOKEN or KEYWARD_CLIENT_ID is
set); the access token is refreshed when it expires. Every managed realm has
the public client keyward-cli for this. keyward logout removes the file.`,
  async run(argv) {
    const { values } = parse(argv, { realm: { type: 'string' }, client: { type: 'string' } }, false);
    if (!values.realm) throw new UsageError('--realm is required');
    const kcUrl = process.env.KEYWARD_KEYCLOAK_URL?.replace(/\/+$/, '');
    if (!kcUrl) throw new UsageError('set KEYWARD_KEYCLOAK_URL to the Keycloak base URL');
    const clientId = values.client ?? 'keyward-cli';
    const config = await oidc.discovery(
      new URL(`${kcUrl}/realms/${encodeURIComponent(values.realm)}`),
      clientId,
      undefined,
      oidc.None(),
      new URL(kcUrl).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    out(`Open ${device.verification_uri_complete ?? device.verification_uri} in a browser and confirm the code ${device.user_code}`);
    out(`(waiting up to ${Math.round(device.expires_in / 60)} minutes…)`);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    const claims = decodeJwt(tokens.access_token);
    const file = writeLogin({
      keycloakUrl: kcUrl,
      realm: values.realm,
      clientId,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 60) * 1000,
      username: typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined,
    });
    out(`Logged in as ${String(claims.preferred_username ?? claims.sub)} of realm ${values.realm}; credentials in ${file}`);
    return 0;
  },
};

export const logout: Command = {
  name: 'logout',
  summary: 'Forget the stored login',
  help: `
Usage: keyward logout

Removes ${credentialsFile()}.`,
  async run(argv) {
    parse(argv, {}, false);
    out(removeLogin() ? 'Logged out' : 'Not logged in');
    return 0;
  },
};

export const clientCertificates: Command = {
  name: 'client-certificates',
  summary: 'Create, list, download and revoke your client certificates',
  help: `
Usage:
  keyward client-certificates create --days N [--name NAME] [--csr FILE] [--out FILE.pem]
  keyward client-certificates list [--json]
  keyward client-certificates pem <id> [--out FILE.pem]
  keyward client-certificates revoke <id>

As the user logged in with keyward login (or KEYWARD_TOKEN). Without --csr,
Keyward generates the key and the .pem holds the certificate and the key;
--out writes it with mode 0600. Use it as IBM CSM does:
  curl -H "X-Client-Certificate: $(base64 -w0 me.pem)" $KEYWARD_URL/v1/whoami`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      days: { type: 'string' },
      name: { type: 'string' },
      csr: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, id] = positionals;
    const api = apiFromEnv();
    const { readFileSync, writeFileSync } = await import('node:fs');
    const emit = (pem: string) => {
      if (values.out) {
        writeFileSync(values.out, pem, { mode: 0o600 });
        out(`wrote ${values.out} (mode 0600)`);
      } else process.stdout.write(pem);
    };
    switch (action) {
      case 'create': {
        const days = Number(values.days);
        if (!Number.isInteger(days) || days < 1) throw new UsageError('--days must be a whole number of days');
        const r = await api.request('POST', '/v1/client-certificates', {
          name: values.name,
          expiresInDays: days,
          csr: values.csr ? readFileSync(values.csr, 'utf8') : undefined,
        });
        if (values.json) out(JSON.stringify({ ...r, pem: undefined }, null, 2));
        else
          process.stderr.write(
            `created ${r.id} (${r.name ?? 'unnamed'}), expires ${r.expiresAt}; maximum ${r.maximumExpirationDays} days\n`,
          );
        emit(r.pem);
        return 0;
      }
      case 'list': {
        const r = await api.request('GET', '/v1/client-certificates');
        if (values.json) out(JSON.stringify(r, null, 2));
        else {
          out(`maximum expiry: ${r.maximumExpirationDays} days${r.enabled ? '' : ' (client certificates are disabled in this realm)'}`);
          for (const c of r.items) out(`${c.id}  ${(c.name ?? '').padEnd(24)} ${c.status.padEnd(8)} expires ${c.expiresAt}`);
        }
        return 0;
      }
      case 'pem':
        if (!id) throw new UsageError('pem needs an id');
        emit(await api.request('GET', `/v1/client-certificates/${encodeURIComponent(id)}/pem`));
        return 0;
      case 'revoke':
        if (!id) throw new UsageError('revoke needs an id');
        await api.request('DELETE', `/v1/client-certificates/${encodeURIComponent(id)}`);
        out(`revoked ${id}`);
        return 0;
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (create, list, pem, revoke)`);
    }
  },
};
