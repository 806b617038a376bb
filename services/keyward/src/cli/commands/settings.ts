/** `keyward settings`: protected realm settings, under dual control when it is on. */
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const PATHS: Record<string, string> = {
  pat: 'personal-access-tokens',
  'client-certificates': 'client-certificates',
  'dual-control': 'dual-control',
};

export const settings: Command = {
  name: 'settings',
  summary: 'Show or change PAT, client-certificate and dual-control settings of a realm',
  help: `
Usage:
  keyward settings pat --realm R [--enable | --disable] [--max-days N] [--json]
  keyward settings client-certificates --realm R [--enable | --disable] [--max-days N] [--json]
  keyward settings dual-control --realm R [--enable | --disable] [--json]

Without --enable, --disable or --max-days, shows the settings (and the change
waiting for approval, if any). With them, changes the settings as a
keyward-admin or keyward-user-admin (dual control: keyward-admin only). While
dual control is on, the change is not applied: it waits for a different admin
(keyward approvals list / approve), and the pending approval's id is printed.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
      'max-days': { type: 'string' },
      json: { type: 'boolean' },
    });
    const [which] = positionals;
    const path = which ? PATHS[which] : undefined;
    if (!path) throw new UsageError(`name the settings: ${Object.keys(PATHS).join(', ')}`);
    if (!values.realm) throw new UsageError('--realm is required');
    if (values.enable && values.disable) throw new UsageError('--enable and --disable exclude each other');
    if (values['max-days'] !== undefined && which === 'dual-control') throw new UsageError('dual control has no maximum');
    const url = `/v1/realms/${encodeURIComponent(values.realm)}/settings/${path}`;
    const api = apiFromEnv();
    const show = (s: any) => {
      if (values.json) return out(JSON.stringify(s, null, 2));
      out(
        `${which} in realm ${values.realm}: ${s.enabled ? 'enabled' : 'disabled'}` +
          (s.maxExpirationDays !== undefined ? `, maximum expiry ${s.maxExpirationDays} days` : ''),
      );
      if (s.pendingApprovalId) out(`a change is waiting for approval: ${s.pendingApprovalId}`);
    };
    const current = await api.request('GET', url);
    if (!values.enable && !values.disable && values['max-days'] === undefined) {
      show(current);
      return 0;
    }
    const body: Record<string, unknown> = { enabled: values.enable ? true : values.disable ? false : current.enabled };
    if (values['max-days'] !== undefined) {
      const days = Number(values['max-days']);
      if (!Number.isInteger(days)) throw new UsageError('--max-days must be a whole number');
      body.maxExpirationDays = days;
    }
    const r = await api.request('PUT', url, body);
    if (r?.approvalId) {
      if (values.json) out(JSON.stringify(r, null, 2));
      else out(`dual control: the change waits for a second admin; approval ${r.approvalId} (expires ${r.expiresAt})`);
      return 0;
    }
    show(r);
    return 0;
  },
};
