/**
 * `keyward end-entities`: named subjects (a DN and SANs bound to a policy)
 * that keyward-entity-admins manage, and certificates issued for them — the
 * subject and SANs come from the entity, only the key from the CSR, which is
 * made here as `keyward certificate request` makes it unless `--csr` brings one.
 */
import { apiFromEnv } from '../api.ts';
import { confirm, out, parse, UsageError, type Command } from '../command.ts';
import { formatName, sanStrings, type NameAttribute, type Sans } from '../../ca/index.ts';
import { csrOption, deliver, durationOption, fileNameOption, table } from './certificate.ts';

const enc = encodeURIComponent;

/**
 * A DN as written on the command line, `CN=web.example,O=Example` (RFC 4514
 * order as read, `\,` for a comma in a value), as the API's list of attributes.
 * @example subjectOption('CN=web.example, OU=ops') // [{type:'CN',value:'web.example'},{type:'OU',value:'ops'}]
 */
export function subjectOption(text: string): NameAttribute[] {
  const bad = (why: string) => new UsageError(`bad --subject "${text}": ${why} (write it as CN=web.example,O=Example)`);
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) current += c + text[++i];
    else if (c === ',') {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((part) => {
    const eq = part.search(/(?<!\\)=/);
    if (eq < 0) throw bad(`"${part.trim()}" has no "="`);
    const type = part.slice(0, eq).trim();
    const value = part
      .slice(eq + 1)
      .trim()
      .replace(/\\(.)/g, '$1');
    if (!/^([A-Za-z][A-Za-z0-9]*|[0-2](\.\d+)+)$/.test(type)) throw bad(`"${type}" is not an attribute type`);
    if (!value) throw bad(`${type} has no value`);
    return { type, value };
  });
}

/** `--san DNS:…` options as the API's `{dns, ip, uri, email}`. */
async function sansOption(texts: readonly string[]): Promise<Sans> {
  const { sanOption } = await import('../certificate_files.ts');
  const sans = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
  for (const s of texts.map(sanOption)) sans[s.type === 'url' ? 'uri' : s.type].push(s.value);
  return sans;
}

interface EntityView {
  readonly name: string;
  readonly subject: NameAttribute[];
  readonly sans: Sans;
  readonly policy: string;
  readonly createdAt: string;
}

function show(e: EntityView, certificates: readonly any[]): void {
  const line = (k: string, val: string) => out(`${k.padEnd(12)} ${val}`);
  line('End entity', e.name);
  line('Subject', formatName(e.subject));
  line('SANs', sanStrings(e.sans).join(', ') || '(none)');
  line('Policy', e.policy);
  line('Created', e.createdAt);
  out();
  if (!certificates.length) out('no certificates issued yet (keyward end-entities issue)');
  else
    table(
      ['SERIAL', 'STATUS', 'NOT BEFORE', 'NOT AFTER'],
      certificates.map((c) => [c.serialNumber, c.status, c.notBefore, c.notAfter]),
    );
}

export const endEntities: Command = {
  name: 'end-entities',
  summary: 'End entities (a named subject and SANs under a policy): create, list, show, delete, issue',
  help: `
Usage:
  keyward end-entities create <name> --realm R --policy P [--subject CN=…,O=…] [--san DNS:…|IP:…|URI:…|email:…]… [--json]
  keyward end-entities list --realm R [--json]
  keyward end-entities show <name> --realm R [--json]
  keyward end-entities delete <name> --realm R [--yes]
  keyward end-entities issue <name> --realm R [--csr FILE | --key-type T] [--validity PT1H] [--out DIR]
        [--wait [--wait-timeout PT10M]] [--json]

An end entity names what its certificates certify: a subject, SANs and the
policy they are issued under, checked against that policy when it is created.
create, delete (keyward-entity-admin): the subject defaults to CN=<first DNS
SAN>; delete asks first unless --yes, and the certificates already issued stay.

issue asks for a certificate for the entity (keyward-requester or
keyward-entity-admin): only the key is taken from the CSR. The key is made
here (EC-P256 unless --key-type: EC-P384, RSA-2048, RSA-3072, RSA-4096) and
never sent, or --csr FILE sends a CSR made elsewhere. It writes <name>.key
(mode 0600, not with --csr), <name>.crt and <name>.chain.pem into --out
(default: the current directory), as keyward certificate request does. When
the policy needs approval it prints the request id (keyward requests approve
decides it); --wait asks until it is decided and then writes the files.

Authentication as for the rest of the CLI: KEYWARD_TOKEN,
KEYWARD_CLIENT_ID/KEYWARD_CLIENT_SECRET (with KEYWARD_CLIENT_REALM and
KEYWARD_KEYCLOAK_URL), or keyward login. KEYWARD_URL names the server.`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      realm: { type: 'string' },
      policy: { type: 'string' },
      subject: { type: 'string' },
      san: { type: 'string', multiple: true },
      csr: { type: 'string' },
      'key-type': { type: 'string' },
      validity: { type: 'string' },
      out: { type: 'string' },
      wait: { type: 'boolean' },
      'wait-timeout': { type: 'string' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const [action, name, ...extra] = positionals;
    const actions = ['create', 'list', 'show', 'delete', 'issue'];
    if (!action) throw new UsageError(`name an action: ${actions.join(', ')}`);
    if (!actions.includes(action)) throw new UsageError(`unknown action "${action}" (${actions.join(', ')})`);
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!values.realm) throw new UsageError('name the realm with --realm R');
    if (action === 'list' && name) throw new UsageError('list takes no name');
    if (action !== 'list' && !name) throw new UsageError(`${action} needs the end entity's name`);
    const only: Record<string, readonly string[]> = {
      create: ['policy', 'subject', 'san'],
      issue: ['csr', 'key-type', 'validity', 'out', 'wait', 'wait-timeout'],
      delete: ['yes'],
    };
    for (const opt of Object.values(only).flat())
      if (values[opt as keyof typeof values] !== undefined && !only[action]?.includes(opt))
        throw new UsageError(`--${opt} does not go with ${action}`);
    const base = `/v1/realms/${enc(values.realm)}/end-entities`;
    const api = apiFromEnv();
    const json = (v: unknown) => out(JSON.stringify(v, null, 2));
    switch (action) {
      case 'create': {
        if (!values.policy) throw new UsageError('create needs --policy P: the policy its certificates are issued under');
        const sans = await sansOption(values.san ?? []);
        const subjectText = values.subject ?? (sans.dns[0] ? `CN=${sans.dns[0]}` : undefined);
        if (!subjectText) throw new UsageError('create needs --subject CN=… (or a DNS SAN to name it after)');
        const e: EntityView = await api.request('POST', base, {
          name,
          subject: subjectOption(subjectText),
          sans,
          policy: values.policy,
        });
        if (values.json) json(e);
        else out(`created end entity ${e.name}: ${formatName(e.subject)}  ${sanStrings(e.sans).join(',')}  (policy ${e.policy})`);
        return 0;
      }
      case 'list': {
        const r: { items: EntityView[] } = await api.request('GET', base);
        if (values.json) json(r.items);
        else {
          table(
            ['NAME', 'POLICY', 'SUBJECT', 'CREATED', 'SANS'],
            r.items.map((e) => [e.name, e.policy, formatName(e.subject), e.createdAt, sanStrings(e.sans).join(',')]),
          );
          if (!r.items.length) process.stderr.write(`no end entities in realm ${values.realm}\n`);
        }
        return 0;
      }
      case 'show': {
        const e: EntityView = await api.request('GET', `${base}/${enc(name!)}`);
        const certs: { items: any[] } = await api.request('GET', `${base}/${enc(name!)}/certificates`);
        if (values.json) json({ ...e, certificates: certs.items.map(({ certificate: _, chain: __, ...c }) => c) });
        else show(e, certs.items);
        return 0;
      }
      case 'delete': {
        await confirm(`Delete end entity ${name} of realm ${values.realm}? Its certificates stay valid.`, name!, values.yes);
        await api.request('DELETE', `${base}/${enc(name!)}`);
        if (values.json) json({ name, deleted: true });
        else out(`deleted end entity ${name}`);
        return 0;
      }
      default: {
        const file = fileNameOption(name, 'issue');
        if (values.validity) durationOption('validity', values.validity);
        const { csrPem, keyPem } = await csrOption(values);
        const answer = await api.request('POST', `${base}/${enc(name!)}/certificates`, { csr: csrPem, validity: values.validity });
        return deliver(api, values.realm, answer, { name: file, dir: values.out ?? '.', keyPem }, values);
      }
    }
  },
};
