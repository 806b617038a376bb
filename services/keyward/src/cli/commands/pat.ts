/** `keyward pat`: personal access tokens, a user's own and (with --realm) the admin view. */
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const enc = encodeURIComponent;

export const pat: Command = {
  name: 'pat',
  summary: "Create, list and revoke personal access tokens (yours, or every user's as an admin)",
  help: `
Usage:
  keyward pat create --days N [--name NAME] [--json]
  keyward pat list [--json]
  keyward pat revoke <id>
  keyward pat list --realm R [--sort FIELD] [--user NAME] [--first N] [--max N] [--json]
  keyward pat revoke --realm R [--user NAME]... [--id ID]...

Without --realm, as the user logged in with keyward login (or KEYWARD_TOKEN):
create prints the token (kwp_…) on stdout — it is shown once, store it now —
and its details on stderr. Use it as any bearer token:
  curl -H "Authorization: Bearer $PAT" $KEYWARD_URL/v1/whoami
  KEYWARD_TOKEN=$PAT keyward whoami

With --realm, as a keyward-admin or keyward-user-admin of that realm: list
every user's tokens (username, name, created, days, expiry, last use), or
revoke all tokens of the users named with --user and the tokens named with
--id, at once. --sort takes expiresAt (the default), createdAt, username or
lastUsedAt; a leading - sorts descending and is written --sort=-expiresAt.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      days: { type: 'string' },
      name: { type: 'string' },
      realm: { type: 'string' },
      sort: { type: 'string' },
      user: { type: 'string', multiple: true },
      id: { type: 'string', multiple: true },
      first: { type: 'string' },
      max: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, id] = positionals;
    const api = apiFromEnv();
    const show = (t: any) =>
      `${t.id}  ${String(t.name ?? '').padEnd(20)} ${t.status.padEnd(7)} ${String(t.expiresInDays).padStart(4)} d` +
      `  expires ${t.expiresAt}  last used ${t.lastUsedAt ?? 'never'}`;
    switch (action) {
      case 'create': {
        if (values.realm) throw new UsageError('create makes a token for yourself: drop --realm');
        const days = Number(values.days);
        if (!values.days || !Number.isInteger(days) || days < 1) throw new UsageError('--days must be a whole number of days');
        const r = await api.request('POST', '/v1/personal-access-tokens', { name: values.name, expiresInDays: days });
        if (values.json) out(JSON.stringify(r, null, 2));
        else {
          process.stderr.write(`created ${r.id} (${r.name ?? 'unnamed'}), expires ${r.expiresAt}; the token is shown only now:\n`);
          out(r.token);
        }
        return 0;
      }
      case 'list': {
        if (values.realm) {
          const q = new URLSearchParams();
          if (values.sort) q.set('sort', values.sort);
          for (const u of values.user ?? []) q.set('username', u);
          if (values.first) q.set('first', values.first);
          if (values.max) q.set('max', values.max);
          const r = await api.request('GET', `/v1/realms/${enc(values.realm)}/personal-access-tokens${q.size ? `?${q}` : ''}`);
          if (values.json) out(JSON.stringify(r, null, 2));
          else {
            out(`${r.total} token(s) in realm ${values.realm}; maximum expiry ${r.maximumExpirationDays} days`);
            for (const t of r.items) out(`${t.username.padEnd(20)} ${show(t)}${t.exceedsMaximum ? '  (exceeds the current maximum)' : ''}`);
          }
          return 0;
        }
        const r = await api.request('GET', '/v1/personal-access-tokens');
        if (values.json) out(JSON.stringify(r, null, 2));
        else {
          out(`maximum expiry: ${r.maximumExpirationDays} days${r.enabled ? '' : ' (personal access tokens are disabled in this realm)'}`);
          for (const t of r.items) out(show(t));
        }
        return 0;
      }
      case 'revoke': {
        if (values.realm) {
          if (id) throw new UsageError('with --realm, name tokens with --id and users with --user');
          if (!values.user?.length && !values.id?.length) throw new UsageError('name at least one --user or --id');
          const r = await api.request('POST', `/v1/realms/${enc(values.realm)}/personal-access-tokens/revoke`, {
            usernames: values.user,
            ids: values.id,
          });
          if (values.json) out(JSON.stringify(r, null, 2));
          else {
            out(`revoked ${r.revoked} token(s)`);
            for (const t of r.items) out(`  ${t.username.padEnd(20)} ${t.id}  ${t.name ?? ''}`);
          }
          return 0;
        }
        if (!id) throw new UsageError('revoke needs a token id (keyward pat list)');
        await api.request('DELETE', `/v1/personal-access-tokens/${enc(id)}`);
        out(`revoked ${id}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (create, list, revoke)`);
    }
  },
};
