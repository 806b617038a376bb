/** `keyward devices`: device onboarding — pending client certificates, the trust store, device clients. */
import { readFileSync } from 'node:fs';
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const enc = encodeURIComponent;

const pendingLine = (d: any) =>
  `${d.uuid}  ${d.subject}  (issuer ${d.issuer}; ${d.sha256Fingerprint}; last seen ${d.lastSeen} from ${d.sourceAddress})`;
const trustedLine = (d: any) =>
  `${d.alias}  → client ${d.clientId}` +
  (d.deviceGroup ? `  group ${d.deviceGroup}${d.deviceRole ? `/${d.deviceRole}` : ''}` : '') +
  `  ${d.subject}  (until ${d.notAfter})`;

export const devices: Command = {
  name: 'devices',
  summary: 'Device onboarding: pending client certificates, accept/reject, the trust store, device clients',
  help: `
Usage:
  keyward devices settings --realm R [--enable | --disable] [--max-pending N] [--reject-for-hours H] [--json]
  keyward devices pending --realm R [--json]
  keyward devices accept <CERTIFICATE-uuid> --alias A --realm R [--group G] [--role X] [--json]
  keyward devices reject <CERTIFICATE-uuid> --realm R
  keyward devices trusted --realm R [--json]
  keyward devices untrust <alias> --realm R
  keyward devices rename <device client> <new name> --realm R
  keyward devices upload <device.pem> --realm R

Devices push their certificate by connecting to Keyward's HTTPS listener with
it (/v1/realms/R/devices/hello) or with "upload" (no credentials needed); an
admin (keyward-admin) accepts it with an alias, which trusts it and creates a
Keycloak client for the device (placed in group G, sub-group X). Under dual
control, accepting waits for a second admin (keyward approvals approve).
Untrusting deletes the device client: the device is refused at once.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      alias: { type: 'string' },
      group: { type: 'string' },
      role: { type: 'string' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
      'max-pending': { type: 'string' },
      'reject-for-hours': { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, arg, arg2] = positionals;
    if (!values.realm) throw new UsageError('--realm is required');
    const realm = `/v1/realms/${enc(values.realm)}`;
    const api = apiFromEnv();
    const json = (v: unknown) => out(JSON.stringify(v, null, 2));
    switch (action) {
      case 'settings': {
        if (values.enable && values.disable) throw new UsageError('--enable and --disable exclude each other');
        const body: Record<string, unknown> = {};
        if (values.enable) body.enabled = true;
        if (values.disable) body.enabled = false;
        for (const [flag, key] of [
          ['max-pending', 'maxPending'],
          ['reject-for-hours', 'rejectForHours'],
        ] as const) {
          if (values[flag] === undefined) continue;
          const n = Number(values[flag]);
          if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be a whole number`);
          body[key] = n;
        }
        const r = Object.keys(body).length
          ? await api.request('PUT', `${realm}/settings/devices`, body)
          : await api.request('GET', `${realm}/settings/devices`);
        if (values.json) json(r);
        else if (r.approvalId) out(`dual control: the change waits for a second admin; approval ${r.approvalId} (expires ${r.expiresAt})`);
        else {
          out(
            `device onboarding in realm ${values.realm}: ${r.enabled ? 'enabled' : 'disabled'}, at most ${r.maxPending} pending,` +
              ` rejected certificates refused for ${r.rejectForHours} h`,
          );
          if (r.pendingApprovalId) out(`a change is waiting for approval: ${r.pendingApprovalId}`);
        }
        return 0;
      }
      case 'pending': {
        const r = await api.request('GET', `${realm}/pending-client-certificates`);
        if (values.json) json(r.items);
        else if (r.items.length === 0) out('no pending client certificates');
        else for (const d of r.items) out(pendingLine(d));
        return 0;
      }
      case 'accept': {
        if (!arg) throw new UsageError("accept needs the pending certificate's uuid (CERTIFICATE-…)");
        if (!values.alias) throw new UsageError('--alias is required');
        const r = await api.request('POST', `${realm}/pending-client-certificates`, {
          uuid: arg,
          alias: values.alias,
          ...(values.group ? { deviceGroup: values.group } : {}),
          ...(values.role ? { deviceRole: values.role } : {}),
        });
        if (values.json) json(r);
        else if (r.approvalId)
          out(`dual control: the acceptance waits for a second admin; approval ${r.approvalId} (expires ${r.expiresAt})`);
        else out(`trusted as ${r.alias}; device client ${r.clientId}`);
        return 0;
      }
      case 'reject':
        if (!arg) throw new UsageError("reject needs the pending certificate's uuid (CERTIFICATE-…)");
        await api.request('DELETE', `${realm}/pending-client-certificates/${enc(arg)}`);
        out(`rejected ${arg}`);
        return 0;
      case 'trusted': {
        const r = await api.request('GET', `${realm}/trusted-client-certificates`);
        if (values.json) json(r.items);
        else if (r.items.length === 0) out('no trusted device certificates');
        else for (const d of r.items) out(trustedLine(d));
        return 0;
      }
      case 'untrust':
        if (!arg) throw new UsageError('untrust needs an alias');
        await api.request('DELETE', `${realm}/trusted-client-certificates/${enc(arg)}`);
        out(`removed ${arg} from the trust store and deleted its device client`);
        return 0;
      case 'rename': {
        if (!arg || !arg2) throw new UsageError('rename needs the device client and its new name');
        const r = await api.request('PATCH', `${realm}/device-clients/${enc(arg)}`, { name: arg2 });
        if (values.json) json(r);
        else out(`device client ${arg} is now ${r.clientId} (alias ${r.alias})`);
        return 0;
      }
      case 'upload': {
        if (!arg) throw new UsageError('upload needs a PEM file');
        let pem: string;
        try {
          pem = readFileSync(arg, 'utf8');
        } catch (err) {
          throw new UsageError(`cannot read ${arg}: ${(err as Error).message}`);
        }
        const r = await api.request('POST', `${realm}/devices/certificates`, { certificate: pem });
        if (values.json) json(r);
        else out(`pending as ${r.uuid} (${r.subject}); an admin of realm ${values.realm} accepts it`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (settings, pending, accept, reject, trusted, untrust, rename, upload)`);
    }
  },
};
