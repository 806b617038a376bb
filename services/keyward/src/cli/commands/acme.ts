/**
 * `keyward acme eab create|list|revoke`: an API client's external account
 * binding keys for Keyward's ACME directories (RFC 8555 §7.3.4). The HMAC key
 * is printed once, at creation, with the directory URL and the certbot and
 * lego flags that use it.
 */
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';
import { table } from './certificate.ts';

const enc = encodeURIComponent;

export const acme: Command = {
  name: 'acme',
  summary: 'ACME external account binding keys of the calling API client: create (shown once), list, revoke',
  help: `
Usage:
  keyward acme eab create --realm R [--policy P] [--json]
  keyward acme eab list --realm R [--json]
  keyward acme eab revoke <kid> --realm R

Keyward's ACME server (RFC 8555) requires external account binding: an ACME
account is bound to the API client that created its EAB key, and acts as that
client at every order — with its current roles in Keycloak, its default
policy, its cross-realm grants. The caller must be an API client holding
keyward-requester in the realm (at home or by a cross-realm grant).

create prints the kid and the HMAC key (base64url, shown only once) and the
directory URL: the realm's (orders under the client's default policy) or,
with --policy, that policy's. A key binds one account; revoke makes an
unused key useless.

Authentication as for the rest of the CLI: KEYWARD_CLIENT_ID/KEYWARD_CLIENT_SECRET
(with KEYWARD_CLIENT_REALM and KEYWARD_KEYCLOAK_URL) or KEYWARD_TOKEN.
KEYWARD_URL names the server.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      policy: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [group, action, kid, ...extra] = positionals;
    if (group !== 'eab') throw new UsageError('usage: keyward acme eab create|list|revoke --realm R');
    if (!action || !['create', 'list', 'revoke'].includes(action))
      throw new UsageError(`name an action: create, list or revoke${action ? ` (not "${action}")` : ''}`);
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!values.realm) throw new UsageError('name the realm with --realm R');
    if (action === 'revoke' && !kid) throw new UsageError('revoke needs the kid (keyward acme eab list shows them)');
    if (action !== 'revoke' && kid) throw new UsageError(`${action} takes no kid`);
    if (values.policy !== undefined && action !== 'create') throw new UsageError('--policy goes with create');
    const api = apiFromEnv();
    const base = `/v1/realms/${enc(values.realm)}/acme/eab-keys`;
    switch (action) {
      case 'create': {
        const r = await api.request('POST', base);
        // The server's own directory URL (its public URL, which ACME clients reach), not KEYWARD_URL.
        const directory = values.policy ? String(r.directory).replace(/\/directory$/, `/${enc(values.policy)}/directory`) : r.directory;
        if (values.json) {
          out(JSON.stringify({ ...r, directory }, null, 2));
          return 0;
        }
        out(`kid        ${r.kid}`);
        out(`hmacKey    ${r.hmacKey}`);
        out(`directory  ${directory}`);
        out('');
        out('The HMAC key is shown only now. For example:');
        out(`  certbot certonly --server ${directory} --eab-kid ${r.kid} --eab-hmac-key=${r.hmacKey} …`);
        out(`  lego --server ${directory} --eab --kid ${r.kid} --hmac=${r.hmacKey} …`);
        return 0;
      }
      case 'list': {
        const r = await api.request('GET', base);
        if (values.json) out(JSON.stringify(r.items, null, 2));
        else {
          table(
            ['KID', 'STATUS', 'CREATED', 'ACCOUNT'],
            r.items.map((k: any) => [k.kid, k.status, k.createdAt, k.account ?? '—']),
          );
          if (!r.items.length) process.stderr.write('no EAB keys\n');
        }
        return 0;
      }
      default: {
        await api.request('DELETE', `${base}/${enc(kid!)}`);
        out(`revoked ${kid}`);
        return 0;
      }
    }
  },
};
