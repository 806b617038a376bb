/** `keyward approvals`: changes waiting for a second admin under dual control. */
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const enc = encodeURIComponent;

function line(a: any): string {
  const who = (x: any) => (x ? `${x.name ?? x.id}${x.realm ? `@${x.realm}` : ''}` : '—');
  const change = a.change?.setting
    ? `${a.change.setting}: ${JSON.stringify(a.change.from)} → ${JSON.stringify(a.change.to)}`
    : JSON.stringify(a.change);
  return (
    `${a.id}  ${a.status.padEnd(8)} ${change}  proposed by ${who(a.proposedBy)} ${a.createdAt}` +
    (a.status === 'pending' ? `, expires ${a.expiresAt}` : `, ${a.status} by ${who(a.decidedBy)}`)
  );
}

export const approvals: Command = {
  name: 'approvals',
  summary: 'List, approve and reject changes waiting for a second admin (dual control)',
  help: `
Usage:
  keyward approvals list --realm R [--status pending|approved|rejected|expired] [--json]
  keyward approvals approve <id> --realm R [--json]
  keyward approvals reject <id> --realm R [--reason TEXT] [--json]

Approving applies the change. The admin who proposed a change cannot approve
it, but may reject it to withdraw it.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      status: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, id] = positionals;
    if (!values.realm) throw new UsageError('--realm is required');
    const base = `/v1/realms/${enc(values.realm)}/approvals`;
    const api = apiFromEnv();
    const print = (a: any) => out(values.json ? JSON.stringify(a, null, 2) : line(a));
    switch (action) {
      case 'list': {
        const r = await api.request('GET', `${base}${values.status ? `?status=${enc(values.status)}` : ''}`);
        if (values.json) out(JSON.stringify(r.items, null, 2));
        else if (r.items.length === 0) out('no approvals');
        else for (const a of r.items) out(line(a));
        return 0;
      }
      case 'approve':
        if (!id) throw new UsageError('approve needs an approval id');
        print(await api.request('POST', `${base}/${enc(id)}/approve`));
        return 0;
      case 'reject':
        if (!id) throw new UsageError('reject needs an approval id');
        print(await api.request('POST', `${base}/${enc(id)}/reject`, values.reason === undefined ? {} : { reason: values.reason }));
        return 0;
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (list, approve, reject)`);
    }
  },
};
