/** `keyward webhooks`: a realm's lifecycle webhooks, their delivery log and redelivery. */
import { readFileSync } from 'node:fs';
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const enc = encodeURIComponent;

/* eslint-disable @typescript-eslint/no-explicit-any */
const hookLine = (w: any) => `${w.name}  ${w.url}  ${w.events.join(',')}`;
const deliveryLine = (d: any) =>
  `${d.id}  ${d.status.padEnd(9)} ${d.eventType.padEnd(28)} attempts ${d.attempts}` +
  (d.lastStatusCode !== undefined ? `  last HTTP ${d.lastStatusCode}` : '') +
  (d.lastError && d.status !== 'delivered' ? `  (${d.lastError})` : '') +
  (d.status === 'pending' && d.nextAttemptAt ? `  next ${d.nextAttemptAt}` : '') +
  (d.deliveredAt ? `  delivered ${d.deliveredAt}` : '');

export const webhooks: Command = {
  name: 'webhooks',
  summary: "Manage a realm's lifecycle webhooks (Standard Webhooks signatures, CloudEvents bodies) and their deliveries",
  help: `
Usage:
  keyward webhooks put <name> --realm R --url URL --event TYPE [--event TYPE]… [--secret-file FILE] [--json]
  keyward webhooks list --realm R [--json]
  keyward webhooks get <name> --realm R [--json]
  keyward webhooks delete <name> --realm R
  keyward webhooks deliveries <name> --realm R [--status pending|delivered|failed] [--max N] [--json]
  keyward webhooks redeliver <name> <delivery-id> --realm R [--json]

put creates or replaces a webhook. Without --secret-file a new webhook gets a
generated secret (whsec_…), printed once; store it in the receiver, which
checks each message's webhook-signature with it. A replacement without
--secret-file keeps the stored secret. Event types: certificate.issued,
certificate.revoked, certificate.held, certificate.released,
certificate.expiring, certificate_request.pending, approval.pending,
device.pending, identity.requester_removed. The URL must resolve inside
KEYWARD_WEBHOOK_ALLOWED_NETWORKS of the server. Needs keyward-admin.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      url: { type: 'string' },
      event: { type: 'string', multiple: true },
      'secret-file': { type: 'string' },
      status: { type: 'string' },
      max: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, name, id, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!values.realm) throw new UsageError('--realm is required');
    const base = `/v1/realms/${enc(values.realm)}/webhooks`;
    const needName = () => {
      if (!name) throw new UsageError(`${action} needs a webhook name`);
      return `${base}/${enc(name)}`;
    };
    const api = apiFromEnv();
    const print = (x: unknown, line: (x: any) => string) => out(values.json ? JSON.stringify(x, null, 2) : line(x));
    switch (action) {
      case 'put': {
        if (!values.url || !values.event?.length) throw new UsageError('put needs --url and at least one --event');
        const secret = values['secret-file'] ? readFileSync(values['secret-file'], 'utf8').trim() : undefined;
        const w = await api.request('PUT', needName(), { url: values.url, events: values.event, ...(secret ? { secret } : {}) });
        if (values.json) out(JSON.stringify(w, null, 2));
        else {
          out(hookLine(w));
          if (w.secret && !secret) out(`secret: ${w.secret}  (shown once: store it in the receiver now)`);
        }
        return 0;
      }
      case 'list': {
        const r = await api.request('GET', base);
        if (values.json) out(JSON.stringify(r.items, null, 2));
        else if (!r.items.length) out('no webhooks');
        else for (const w of r.items) out(hookLine(w));
        return 0;
      }
      case 'get':
        print(await api.request('GET', needName()), hookLine);
        return 0;
      case 'delete':
        await api.request('DELETE', needName());
        out(`deleted webhook ${name}`);
        return 0;
      case 'deliveries': {
        const q = new URLSearchParams();
        if (values.status) q.set('status', values.status);
        if (values.max) q.set('max', values.max);
        const r = await api.request('GET', `${needName()}/deliveries${q.size ? `?${q}` : ''}`);
        if (values.json) out(JSON.stringify(r.items, null, 2));
        else if (!r.items.length) out('no deliveries');
        else for (const d of r.items) out(deliveryLine(d));
        return 0;
      }
      case 'redeliver':
        if (!id) throw new UsageError('redeliver needs the webhook name and a delivery id');
        print(await api.request('POST', `${needName()}/deliveries/${enc(id)}/redeliver`), deliveryLine);
        return 0;
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (put, list, get, delete, deliveries, redeliver)`);
    }
  },
};
