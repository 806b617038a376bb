import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiFromEnv } from '../api.ts';
import { confirm, out, parse, UsageError, type Command } from '../command.ts';

const enc = encodeURIComponent;

function crossRealm(list: string[] | undefined) {
  return list?.map((s) => {
    const i = s.indexOf(':');
    if (i <= 0) throw new UsageError(`--cross-realm-role takes realm:role, not "${s}"`);
    return { realm: s.slice(0, i), role: s.slice(i + 1) };
  });
}

function policyRef(s: string | undefined) {
  if (s === undefined) return undefined;
  if (s === 'none') return null;
  const i = s.indexOf('/');
  if (i <= 0) throw new UsageError(`--default-policy takes realm/name (or none), not "${s}"`);
  return { realm: s.slice(0, i), name: s.slice(i + 1) };
}

function show(c: any): void {
  out(`${c.clientId}  (realm ${c.realm}${c.enabled ? '' : ', disabled'}${c.source ? `, ${c.source}` : ''})`);
  if (c.description) out(`  description:      ${c.description}`);
  out(`  authentication:   ${c.authentication ?? 'secret'}`);
  out(`  roles:            ${c.roles.join(', ') || '—'}`);
  out(`  cross-realm:      ${c.crossRealmRoles.map((r: any) => `${r.realm}:${r.role}`).join(', ') || '—'}`);
  out(`  default policy:   ${c.defaultPolicy ? `${c.defaultPolicy.realm}/${c.defaultPolicy.name} (${c.defaultPolicy.status})` : '—'}`);
}

/**
 * A secretless client's certificate, written as `<out>/<clientId>.crt`, `.chain.pem` and (a generated key) `.key`
 * (0600): the files `curl --cert … --key …` takes.
 */
function writeCertificate(c: any, dir: string | undefined): void {
  const issued = c.certificate;
  if (!issued) return;
  if (!dir) {
    out(`  certificate:      serial ${issued.serialNumber}, ${issued.subject}, valid until ${issued.notAfter}`);
    out(issued.certificate.trimEnd());
    if (issued.privateKey) out(`${issued.privateKey.trimEnd()}\n  (the private key is shown once)`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  const base = join(dir, c.clientId);
  writeFileSync(`${base}.crt`, issued.certificate);
  writeFileSync(`${base}.chain.pem`, `${issued.chain.join('\n').trimEnd()}\n`);
  if (issued.privateKey) writeFileSync(`${base}.key`, issued.privateKey, { mode: 0o600 });
  out(
    `  certificate:      serial ${issued.serialNumber}, ${issued.subject}, valid until ${issued.notAfter}` +
      ` -> ${base}.crt${issued.privateKey ? `, ${base}.key` : ''}`,
  );
}

/** --auth, --certificate-policy and --csr as the API takes them. */
function authentication(values: { auth?: string | undefined; 'certificate-policy'?: string | undefined; csr?: string | undefined }) {
  if (values.auth !== undefined && values.auth !== 'secret' && values.auth !== 'certificate')
    throw new UsageError(`--auth takes secret or certificate, not "${values.auth}"`);
  if ((values['certificate-policy'] || values.csr) && values.auth !== 'certificate')
    throw new UsageError('--certificate-policy and --csr go with --auth certificate');
  return {
    authentication: values.auth,
    certificatePolicy: values['certificate-policy'],
    csr: values.csr ? readFileSync(values.csr, 'utf8') : undefined,
  };
}

export const apiClients: Command = {
  name: 'api-clients',
  summary: 'Create, list, show, update, delete API clients and rotate their secrets',
  help: `
Usage:
  keyward api-clients create <clientId> --realm R [--name N] [--description D] [--role ROLE]...
                             [--cross-realm-role REALM:ROLE]... [--default-policy REALM/NAME] [--json]
                             [--auth secret|certificate [--certificate-policy NAME] [--csr FILE] [--out DIR]]
  keyward api-clients list --realm R [--search TEXT] [--json]
  keyward api-clients show <clientId> --realm R [--json]
  keyward api-clients update <clientId> --realm R [--name N] [--description D] [--role ROLE]...
                             [--cross-realm-role REALM:ROLE]... [--default-policy REALM/NAME|none] [--json]
                             [--auth secret|certificate [--certificate-policy NAME] [--csr FILE] [--out DIR]]
  keyward api-clients delete <clientId> --realm R
  keyward api-clients rotate-secret <clientId> --realm R [--json]

Talks to the Keyward server at KEYWARD_URL as KEYWARD_TOKEN, or as the API client
KEYWARD_CLIENT_ID/KEYWARD_CLIENT_SECRET of KEYWARD_CLIENT_REALM (keyward config --markdown).
On update, --role and --cross-realm-role replace the whole list when given.
The secret is printed once, by create and rotate-secret.
--auth certificate makes a secretless client: Keycloak authenticates it by mutual TLS
(client-x509, RFC 8705) and binds its tokens to the certificate. Keyward issues the
certificate under --certificate-policy (default: the client's default policy in its
realm), from --csr or with a generated key (shown once); --out writes <clientId>.crt,
.chain.pem and .key (0600) there. On update, --auth switches (a new secret, or a new
certificate).`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      role: { type: 'string', multiple: true },
      'cross-realm-role': { type: 'string', multiple: true },
      'default-policy': { type: 'string' },
      search: { type: 'string' },
      json: { type: 'boolean' },
      'no-roles': { type: 'boolean' },
      auth: { type: 'string' },
      'certificate-policy': { type: 'string' },
      csr: { type: 'string' },
      out: { type: 'string' },
    });
    const [action, clientId] = positionals;
    if (!values.realm) throw new UsageError('--realm is required');
    const api = apiFromEnv();
    const base = `/v1/realms/${enc(values.realm)}/api-clients`;
    const need = () => {
      if (!clientId) throw new UsageError(`${action} needs a client id`);
      return clientId;
    };
    const print = (c: any, extra?: () => void) => {
      if (values.json) out(JSON.stringify(c, null, 2));
      else {
        show(c);
        extra?.();
      }
    };
    switch (action) {
      case 'create': {
        const c = await api.request('POST', base, {
          clientId: need(),
          name: values.name,
          description: values.description,
          roles: values.role,
          crossRealmRoles: crossRealm(values['cross-realm-role']),
          defaultPolicy: policyRef(values['default-policy']) ?? undefined,
          ...authentication(values),
        });
        print(c, () => (c.certificate ? writeCertificate(c, values.out) : out(`  secret:           ${c.secret}   (shown once)`)));
        if (values.json && values.out) writeCertificate(c, values.out);
        return 0;
      }
      case 'list': {
        const page = await api.request('GET', `${base}${values.search ? `?search=${enc(values.search)}` : ''}`);
        if (values.json) out(JSON.stringify(page.items, null, 2));
        else
          for (const c of page.items) out(`${c.clientId.padEnd(32)} ${c.roles.filter((r: string) => r.startsWith('keyward-')).join(',')}`);
        return 0;
      }
      case 'show':
        print(await api.request('GET', `${base}/${enc(need())}`));
        return 0;
      case 'update': {
        const c = await api.request('PATCH', `${base}/${enc(need())}`, {
          name: values.name,
          description: values.description,
          roles: values['no-roles'] ? [] : values.role,
          crossRealmRoles: crossRealm(values['cross-realm-role']),
          defaultPolicy: policyRef(values['default-policy']),
          ...authentication(values),
        });
        print(c, () => {
          if (c.secret) out(`  secret:           ${c.secret}   (shown once)`);
          writeCertificate(c, values.out);
        });
        if (values.json && values.out) writeCertificate(c, values.out);
        return 0;
      }
      case 'delete':
        await api.request('DELETE', `${base}/${enc(need())}`);
        if (!values.json) out(`deleted ${clientId}`);
        return 0;
      case 'rotate-secret': {
        const r = await api.request('POST', `${base}/${enc(need())}/secret`);
        out(values.json ? JSON.stringify(r, null, 2) : r.secret);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (create, list, show, update, delete, rotate-secret)`);
    }
  },
};

export const policies: Command = {
  name: 'policies',
  summary: 'Put, show, list and delete certificate policies',
  help: `
Usage:
  keyward policies put <name> --realm R --file POLICY.json
  keyward policies show <name> --realm R
  keyward policies list --realm R [--json]
  keyward policies delete <name> --realm R

POLICY.json follows the policy schema (see README, or GET /v1/realm-config/schema.json).`,
  async run(argv) {
    const { values, positionals } = parse(argv, { realm: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean' } });
    const [action, name] = positionals;
    if (!values.realm) throw new UsageError('--realm is required');
    const api = apiFromEnv();
    const base = `/v1/realms/${enc(values.realm)}/policies`;
    const need = () => {
      if (!name) throw new UsageError(`${action} needs a policy name`);
      return enc(name);
    };
    switch (action) {
      case 'put': {
        if (!values.file) throw new UsageError('put needs --file');
        let doc: unknown;
        try {
          doc = JSON.parse(readFileSync(values.file, 'utf8'));
        } catch (err) {
          throw new UsageError(`${values.file} is not readable JSON: ${(err as Error).message}`);
        }
        const r = await api.request('PUT', `${base}/${need()}`, doc);
        out(values.json ? JSON.stringify(r, null, 2) : `policy ${r.name} stored in realm ${r.realm}`);
        return 0;
      }
      case 'show':
        out(JSON.stringify(await api.request('GET', `${base}/${need()}`), null, 2));
        return 0;
      case 'list': {
        const r = await api.request('GET', base);
        if (values.json) out(JSON.stringify(r.items, null, 2));
        else
          for (const p of r.items) {
            const max = p.policy.maxValidity ?? `${p.policy.maxValidityDays} d`;
            out(`${p.name.padEnd(32)} ${p.policy.keyTypes.join(',')}  max ${max}  approval ${p.policy.approval}`);
          }
        return 0;
      }
      case 'delete':
        await api.request('DELETE', `${base}/${need()}`);
        out(`deleted ${name}`);
        return 0;
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (put, show, list, delete)`);
    }
  },
};

export const realms: Command = {
  name: 'realms',
  summary: 'Manage realms (operators): put, show, list, unmanage',
  help: `
Usage:
  keyward realms put <realm> [--display-name NAME] [--default-role ROLE]...
  keyward realms show <realm> [--json]
  keyward realms list [--json]
  keyward realms unmanage <realm> [--yes]

list shows each realm's status: "ok", or "missing in Keycloak" when it was
deleted there (re-create it with put, or stop managing it with unmanage).
unmanage keeps the realm's CA, certificates, policies and audit history and
leaves Keycloak as it is; put manages the realm again. It asks for the realm
name first, unless --yes is given.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      'display-name': { type: 'string' },
      'default-role': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      yes: { type: 'boolean' },
    });
    const [action, realm] = positionals;
    const api = apiFromEnv();
    switch (action) {
      case 'put': {
        if (!realm) throw new UsageError('put needs a realm');
        const r = await api.request('PUT', `/v1/realms/${enc(realm)}`, {
          displayName: values['display-name'],
          defaultRoles: values['default-role'],
        });
        out(values.json ? JSON.stringify(r, null, 2) : `realm ${r.name} managed; default role holds ${r.defaultRoles.join(', ')}`);
        return 0;
      }
      case 'show':
        if (!realm) throw new UsageError('show needs a realm');
        out(JSON.stringify(await api.request('GET', `/v1/realms/${enc(realm)}`), null, 2));
        return 0;
      case 'list': {
        const r = await api.request('GET', '/v1/realms');
        if (values.json) out(JSON.stringify(r.realms, null, 2));
        else for (const x of r.realms) out(`${x.name.padEnd(32)} ${x.status.padEnd(20)} ${x.displayName ?? ''}`.trimEnd());
        return 0;
      }
      case 'unmanage': {
        if (!realm) throw new UsageError('unmanage needs a realm');
        await confirm(`Stop managing realm ${realm}? Its certificates and history are kept.`, realm, values.yes);
        await api.request('DELETE', `/v1/realms/${enc(realm)}`);
        out(`realm ${realm} is no longer managed (manage it again with: keyward realms put ${realm})`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (put, show, list, unmanage)`);
    }
  },
};

export const whoami: Command = {
  name: 'whoami',
  summary: 'Show who the CLI authenticates as, and its roles',
  help: `
Usage: keyward whoami

Calls GET /v1/whoami on KEYWARD_URL with the CLI's credentials.`,
  async run(argv) {
    parse(argv, {}, false);
    out(JSON.stringify(await apiFromEnv().request('GET', '/v1/whoami'), null, 2));
    return 0;
  },
};
