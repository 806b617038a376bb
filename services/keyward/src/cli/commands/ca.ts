/**
 * `keyward ca` — an offline certificate authority for API client certificates,
 * like Flocker's `flocker-ca`: run it in the directory that holds the
 * cluster's CA files. Its certificates are written by the CA domain's one
 * certificate writer (ca/sign.ts) from the clusterCa, tlsServer and apiClient
 * profiles.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import {
  PROFILES,
  backdate,
  certificatesFromPem,
  generateCaKey,
  isCaKeyType,
  loadCa,
  localSigner,
  signCertificate,
  spkiOf,
  type CaContext,
  type CaKeyType,
  type CertificateProfile,
  type NameAttribute,
  type Sans,
} from '../../ca/index.ts';
import { newSerialHex } from '../../kernel/ids.ts';
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

const DAY = 86_400_000;

const ACTIONS = ['initialize', 'create-control-certificate', 'create-api-certificate', 'trust', 'rotate', 'list', 'cross-sign'];

/** A realm's CA as `GET /v1/realms/{realm}/ca` (JSON) lists it. */
interface RealmCa {
  readonly id: string;
  readonly state: string;
  readonly subject: string;
  readonly keyType: string;
  readonly keyStore: string;
  readonly notAfter: string;
  readonly crlUrl: string;
}

const KEY_TYPES: Readonly<Record<string, CaKeyType>> = { 'ec-p256': 'EC-P256', 'rsa-2048': 'RSA-2048', 'rsa-4096': 'RSA-4096' };

function newKey(type: string): Promise<KeyObject> {
  const t = KEY_TYPES[type];
  if (!t) throw new UsageError(`--key-type must be ec-p256, rsa-2048 or rsa-4096, not ${type}`);
  return generateCaKey(t);
}

const pkcs8Pem = (key: KeyObject): string => key.export({ format: 'pem', type: 'pkcs8' }).toString();

/** Writes files, never overwriting without --force; keys with mode 0600. */
function writeAll(files: Array<{ path: string; content: string; secret?: boolean }>, force: boolean): void {
  const existing = files.filter((f) => existsSync(f.path));
  if (existing.length && !force)
    throw new UsageError(`${existing.map((f) => f.path).join(', ')} already exist(s); use --force to overwrite`);
  for (const f of files) {
    writeFileSync(f.path, f.content, { mode: f.secret ? 0o600 : 0o644 });
    out(`wrote ${f.path}${f.secret ? ' (mode 0600)' : ''}`);
  }
}

/** The cluster CA of a `keyward ca` directory, and its cluster UUID. */
interface Cluster {
  readonly ca: CaContext;
  readonly uuid: string;
}

function loadCluster(dir: string): Cluster {
  const certPath = join(dir, 'cluster.crt');
  const keyPath = join(dir, 'cluster.key');
  if (!existsSync(certPath) || !existsSync(keyPath))
    throw new UsageError(`no cluster.crt and cluster.key in ${dir}: run keyward ca initialize <cluster-name> first (or pass --dir)`);
  const ca = loadCa({ certificatePem: readFileSync(certPath, 'utf8') }, localSigner(createPrivateKey(readFileSync(keyPath, 'utf8'))));
  const uuid = ca.subject.find((a) => a.type === 'OU')?.value;
  if (!uuid) throw new UsageError('cluster.crt has no OU with the cluster UUID; was it made by keyward ca initialize?');
  return { ca, uuid };
}

/** A new key and its certificate under the cluster CA. */
async function leaf(
  cluster: Cluster,
  o: { subject: NameAttribute[]; sans?: Sans; profile: CertificateProfile; keyType: string; days: number },
) {
  const key = await newKey(o.keyType);
  const notBefore = backdate(new Date(), o.profile);
  const { pem } = await signCertificate({
    issuer: cluster.ca,
    profile: o.profile,
    subject: o.subject,
    sans: o.sans,
    spki: spkiOf(key),
    serialHex: newSerialHex(),
    notBefore,
    notAfter: new Date(Math.min(Date.now() + o.days * DAY, cluster.ca.notAfter.getTime())),
  });
  return { cert: pem, key: pkcs8Pem(key) };
}

export const ca: Command = {
  name: 'ca',
  summary: "Offline CA for API client certificates (cluster CA, control and API certificates); a realm's CA rotation",
  help: `
Usage:
  keyward ca initialize <cluster-name>               -> cluster.crt, cluster.key (new CA with a cluster UUID)
  keyward ca create-control-certificate <hostname>   -> control-<hostname>.crt/.key (Keyward's HTTPS certificate)
  keyward ca create-api-certificate <client-name>    -> <client-name>.crt/.key (OU=<cluster UUID>, CN=user-<client-name>)
  keyward ca trust --realm <realm> [--name NAME] cluster.crt   (online: the realm trusts the cluster CA)
  keyward ca rotate --realm <realm> [--key-type TYPE]  (online: a new issuing CA for the realm; the previous one retires)
  keyward ca list --realm <realm>                      (online: the realm's active and retiring issuing CAs)
  keyward ca cross-sign <new-root.pem> --issuer old-root.pem --issuer-key old-root.key
                                                     -> <new-root>.cross.pem (the new root's name and key, issued by
                                                        the old root: clients that trust only the old one validate)

Options:
  --dir DIR          where the CA files are and the new files go (default: the current directory)
  --days N           validity (CA 3650, certificates 365)
  --key-type TYPE    ec-p256 (default), rsa-2048 or rsa-4096; for rotate also ec-p384 and rsa-3072
                     (default: the server's KEYWARD_CA_KEY_TYPE)
  --force            overwrite existing files
Keys are written with mode 0600. Serve HTTPS with the control certificate:
  KEYWARD_TLS_CERT=control-<hostname>.crt KEYWARD_TLS_KEY=control-<hostname>.key keyward serve
and call it as the API client <client-name> of the trusting realm:
  curl --cacert cluster.crt --cert <client-name>.crt --key <client-name>.key https://<hostname>:3443/v1/whoami`,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      dir: { type: 'string' },
      days: { type: 'string' },
      'key-type': { type: 'string' },
      force: { type: 'boolean' },
      realm: { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string' },
      'issuer-key': { type: 'string' },
    });
    const [action, arg] = positionals;
    const dir = values.dir ?? process.cwd();
    const keyType = values['key-type'] ?? 'ec-p256';
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1)) throw new UsageError('--days must be a whole number of days');
    const force = values.force ?? false;
    switch (action) {
      case 'initialize': {
        if (!arg) throw new UsageError('initialize needs a cluster name');
        const uuid = randomUUID();
        const key = await newKey(keyType);
        const signer = localSigner(key);
        const now = new Date();
        const { pem } = await signCertificate({
          issuer: { selfSigned: signer },
          profile: PROFILES.clusterCa,
          subject: [
            { type: 'CN', value: arg },
            { type: 'OU', value: uuid },
          ],
          spki: signer.spki,
          serialHex: newSerialHex(),
          notBefore: backdate(now, PROFILES.clusterCa),
          notAfter: new Date(now.getTime() + (days ?? 3650) * DAY),
        });
        writeAll(
          [
            { path: join(dir, 'cluster.crt'), content: pem },
            { path: join(dir, 'cluster.key'), content: pkcs8Pem(key), secret: true },
          ],
          force,
        );
        out(`cluster ${arg}: UUID ${uuid}`);
        return 0;
      }
      case 'create-control-certificate': {
        if (!arg) throw new UsageError('create-control-certificate needs a hostname or IP address');
        const cluster = loadCluster(dir);
        const made = await leaf(cluster, {
          subject: [
            { type: 'OU', value: cluster.uuid },
            { type: 'CN', value: 'control-service' },
          ],
          sans: { dns: isIP(arg) ? [] : [arg], ip: isIP(arg) ? [arg] : [], uri: [], email: [] },
          profile: PROFILES.tlsServer,
          keyType,
          days: days ?? 365,
        });
        writeAll(
          [
            { path: join(dir, `control-${arg}.crt`), content: made.cert },
            { path: join(dir, `control-${arg}.key`), content: made.key, secret: true },
          ],
          force,
        );
        return 0;
      }
      case 'create-api-certificate': {
        if (!arg || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(arg))
          throw new UsageError('create-api-certificate needs a client name (letters, digits, . _ -), the API client id');
        const cluster = loadCluster(dir);
        const made = await leaf(cluster, {
          subject: [
            { type: 'OU', value: cluster.uuid },
            { type: 'CN', value: `user-${arg}` },
          ],
          profile: PROFILES.apiClient,
          keyType,
          days: days ?? 365,
        });
        writeAll(
          [
            { path: join(dir, `${arg}.crt`), content: made.cert },
            { path: join(dir, `${arg}.key`), content: made.key, secret: true },
          ],
          force,
        );
        return 0;
      }
      case 'trust': {
        if (!values.realm) throw new UsageError('trust needs --realm');
        if (!arg) throw new UsageError('trust needs the CA certificate file (cluster.crt)');
        const pem = readFileSync(arg, 'utf8');
        const cn = certificatesFromPem(pem)[0]!.decoded.subject.find((a) => a.type === 'CN')?.value;
        const name = values.name ?? (cn ?? basename(arg, '.crt')).replace(/[^A-Za-z0-9._-]/g, '-');
        const r = await apiFromEnv().request(
          'PUT',
          `/v1/realms/${encodeURIComponent(values.realm)}/trusted-client-cas/${encodeURIComponent(name)}`,
          { certificate: pem },
        );
        out(`realm ${values.realm} trusts ${r.subject} as "${r.name}" (sha256 ${r.sha256Fingerprint})`);
        return 0;
      }
      case 'rotate':
      case 'list': {
        if (!values.realm) throw new UsageError(`${action} needs --realm`);
        const path = `/v1/realms/${encodeURIComponent(values.realm)}/ca`;
        let cas: RealmCa[];
        if (action === 'rotate') {
          const type = values['key-type'];
          if (type !== undefined && !isCaKeyType(type.toUpperCase()))
            throw new UsageError(`--key-type must be ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096, not ${type}`);
          cas = (await apiFromEnv().request('POST', `${path}/rotate`, type === undefined ? {} : { keyType: type.toUpperCase() })).cas;
          out(`realm ${values.realm}: ${cas[0]!.subject} (${cas[0]!.id}) issues from now on`);
        } else cas = (await apiFromEnv().request('GET', path)).cas;
        for (const c of cas) {
          const columns = [c.state.padEnd(8), c.id, c.keyType.padEnd(8), c.keyStore.padEnd(6), `until ${c.notAfter}`, c.subject];
          out(`${columns.join('  ')}  CRL ${c.crlUrl}`);
        }
        return 0;
      }
      case 'cross-sign': {
        if (!arg) throw new UsageError('cross-sign needs the new root certificate file');
        if (!values.issuer || !values['issuer-key']) throw new UsageError('cross-sign needs --issuer and --issuer-key (the old root)');
        const issuer = loadCa(
          { certificatePem: readFileSync(values.issuer, 'utf8') },
          localSigner(createPrivateKey(readFileSync(values['issuer-key'], 'utf8'))),
        );
        const root = certificatesFromPem(readFileSync(arg, 'utf8'))[0]!.decoded;
        const now = new Date();
        let notAfter = new Date(now.getTime() + (days ?? 3650) * DAY);
        for (const end of [root.notAfter, issuer.notAfter]) if (end < notAfter) notAfter = end;
        // RFC 4158 §2.3: the same subject and key as the new root, issued by the old one (its AKI names the old root's key).
        const { pem } = await signCertificate({
          issuer,
          profile: PROFILES.rootCa,
          subject: root.subject,
          spki: root.spki,
          serialHex: newSerialHex(),
          notBefore: backdate(now, PROFILES.rootCa),
          notAfter,
        });
        writeAll([{ path: join(dir, `${basename(arg, '.pem').replace(/\.crt$/, '')}.cross.pem`), content: pem }], force);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (${ACTIONS.join(', ')})`);
    }
  },
};
