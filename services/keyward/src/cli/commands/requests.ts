/**
 * `keyward requests`: certificate requests that wait for approval because
 * their policy says `approval: required` — list and show them, and, as a
 * keyward-approver other than the requester, approve (the certificate is
 * issued then) or reject them with a reason.
 */
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';
import { table } from './certificate.ts';

const enc = encodeURIComponent;

const STATUSES = ['pending', 'issued', 'rejected'] as const;

/** A principal as the API names it: `demo-approver@demo`. */
const who = (x: any) => (x ? `${x.name ?? x.id}${x.realm ? `@${x.realm}` : ''}` : '—');

/** A whole number option of at least `min` (a usage error otherwise). */
function countOption(name: string, text: string, min = 0): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min) throw new UsageError(`--${name} must be a whole number${min ? ` of at least ${min}` : ''}`);
  return n;
}

/** One line saying how a request ended (or that it still waits). */
function outcome(r: any): string {
  if (r.status === 'issued')
    return (
      `approved ${r.requestId}: issued ${r.certificate?.serialNumber ?? '(serial not shown)'}  ${r.subject}` +
      (r.certificate ? `  valid until ${r.certificate.notAfter}` : '')
    );
  if (r.status === 'rejected') return `rejected ${r.requestId} by ${who(r.decidedBy)}: ${r.reason ?? ''}`;
  return `${r.requestId} is ${r.status}`;
}

function show(r: any): void {
  const line = (k: string, val: string) => out(`${k.padEnd(14)} ${val}`);
  line('Request', r.requestId);
  line('Status', r.status);
  line('Policy', r.policy);
  line('Subject', r.subject || '(empty)');
  line('SANs', r.sans.join(', ') || '(none)');
  line('Validity', r.validity);
  if (r.endEntity) line('End entity', r.endEntity);
  line('Requested by', `${who(r.requester)} at ${r.createdAt}`);
  if (r.decidedAt) line('Decided by', `${who(r.decidedBy)} at ${r.decidedAt}`);
  if (r.reason) line('Reason', r.reason);
  if (r.certificate) line('Certificate', `${r.certificate.serialNumber} (${r.certificate.status}, valid until ${r.certificate.notAfter})`);
}

export const requests: Command = {
  name: 'requests',
  summary: 'Certificate requests waiting for approval: list, show, approve (issues), reject',
  help: `
Usage:
  keyward requests list --realm R [--status pending|issued|rejected] [--first N] [--max N] [--json]
  keyward requests show <id> --realm R [--json]
  keyward requests approve <id> --realm R [--json]
  keyward requests reject <id> --realm R --reason TEXT [--json]

A certificate request is opened when a policy with "approval": "required"
receives a CSR (keyward certificate request prints the request id). A
keyward-approver of the realm sees every request, a requester only their own.
approve checks the request again under its policy as it is now, issues the
certificate and prints its serial; reject records the reason, which the
requester sees. Nobody decides their own request (certificate_request.self_approval).

Authentication as for the rest of the CLI: KEYWARD_TOKEN,
KEYWARD_CLIENT_ID/KEYWARD_CLIENT_SECRET (with KEYWARD_CLIENT_REALM and
KEYWARD_KEYCLOAK_URL), or keyward login. KEYWARD_URL names the server.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      status: { type: 'string' },
      first: { type: 'string' },
      max: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, id, ...extra] = positionals;
    if (!action) throw new UsageError('name an action: list, show, approve or reject');
    if (!['list', 'show', 'approve', 'reject'].includes(action))
      throw new UsageError(`unknown action "${action}" (list, show, approve, reject)`);
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!values.realm) throw new UsageError('name the realm with --realm R');
    if (action !== 'list' && !id) throw new UsageError(`${action} needs a request id (keyward requests list shows them)`);
    if (action === 'list' && id) throw new UsageError('list takes filters, not an id');
    if (action === 'reject' && !values.reason?.trim()) throw new UsageError('reject needs --reason TEXT: the requester is told why');
    if (values.reason !== undefined && action !== 'reject') throw new UsageError('--reason goes with reject');
    const base = `/v1/realms/${enc(values.realm)}/certificate-requests`;
    const api = apiFromEnv();
    const json = (v: unknown) => out(JSON.stringify(v, null, 2));
    switch (action) {
      case 'list': {
        const q = new URLSearchParams();
        if (values.status !== undefined) {
          if (!(STATUSES as readonly string[]).includes(values.status))
            throw new UsageError(`unknown status "${values.status}" (${STATUSES.join(', ')})`);
          q.set('status', values.status);
        }
        if (values.first !== undefined) q.set('first', String(countOption('first', values.first)));
        if (values.max !== undefined) q.set('max', String(countOption('max', values.max, 1)));
        const r = await api.request('GET', `${base}${q.size ? `?${q}` : ''}`);
        if (values.json) json(r.items);
        else {
          table(
            ['ID', 'STATUS', 'POLICY', 'REQUESTED BY', 'CREATED', 'SUBJECT', 'SANS'],
            r.items.map((x: any) => [x.requestId, x.status, x.policy, who(x.requester), x.createdAt, x.subject, x.sans.join(',')]),
          );
          if (!r.items.length) process.stderr.write('no certificate requests match\n');
        }
        return 0;
      }
      case 'show': {
        const r = await api.request('GET', `${base}/${enc(id!)}`);
        if (values.json) json(r);
        else show(r);
        return 0;
      }
      case 'approve': {
        // The answer is the request as decided, with the certificate it issued.
        const r = await api.request('POST', `${base}/${enc(id!)}/approve`);
        if (values.json) json(r);
        else out(outcome(r));
        return 0;
      }
      default: {
        const r = await api.request('POST', `${base}/${enc(id!)}/reject`, { reason: values.reason });
        if (values.json) json(r);
        else out(outcome(r));
        return 0;
      }
    }
  },
};
