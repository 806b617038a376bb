/**
 * `keyward ca` — an offline certificate authority for API client certificates,
 * after Flocker's `flocker-ca` (seed 004): run it in the directory that holds
 * the cluster's CA files.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { apiFromEnv } from '../api.ts';
import { out, parse, UsageError, type Command } from '../command.ts';

x509.cryptoProvider.set(webcrypto as never);

const DAY = 86_400_000;

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}

async function webKeys(key: KeyObject) {
  const ec = key.asymmetricKeyType === 'ec';
  const alg = ec ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(key).export({ format: 'der', type: 'spki' }), alg, true, [
      'verify',
    ]),
    signing: ec ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  };
}

function newKey(type: string): KeyObject {
  if (type === 'ec-p256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (type === 'rsa-2048' || type === 'rsa-4096') return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) }).privateKey;
  throw new UsageError(`--key-type must be ec-p256, rsa-2048 or rsa-4096, not ${type}`);
}

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

function loadCluster(dir: string): { cert: x509.X509Certificate; key: KeyObject; uuid: string } {
  const certPath = join(dir, 'cluster.crt');
  const keyPath = join(dir, 'cluster.key');
  if (!existsSync(certPath) || !existsSync(keyPath))
    throw new UsageError(`no cluster.crt and cluster.key in ${dir}: run keyward ca initialize <cluster-name> first (or pass --dir)`);
  const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'));
  const key = createPrivateKey(readFileSync(keyPath, 'utf8'));
  const uuid = cert.subjectName.getField('OU')[0];
  if (!uuid) throw new UsageError('cluster.crt has no OU with the cluster UUID; was it made by keyward ca initialize?');
  return { cert, key, uuid };
}

async function leaf(cluster: ReturnType<typeof loadCluster>, subject: string, keyType: string, days: number, extensions: x509.Extension[]) {
  const key = newKey(keyType);
  const keys = await webKeys(key);
  const caKeys = await webKeys(cluster.key);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: cluster.cert.subjectName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + days * DAY, cluster.cert.notAfter.getTime())),
    publicKey: keys.publicKey as never,
    signingKey: caKeys.privateKey as never,
    signingAlgorithm: caKeys.signing as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      await x509.AuthorityKeyIdentifierExtension.create(cluster.cert),
      ...extensions,
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: key.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

export const ca: Command = {
  name: 'ca',
  summary: 'Offline CA for API client certificates (cluster CA, control and API certificates)',
  help: `
Usage:
  keyward ca initialize <cluster-name>               -> cluster.crt, cluster.key (new CA with a cluster UUID)
  keyward ca create-control-certificate <hostname>   -> control-<hostname>.crt/.key (Keyward's HTTPS certificate)
  keyward ca create-api-certificate <client-name>    -> <client-name>.crt/.key (OU=<cluster UUID>, CN=user-<client-name>)
  keyward ca trust --realm <realm> [--name NAME] cluster.crt   (online: the realm trusts the cluster CA)

Options:
  --dir DIR          where the CA files are and the new files go (default: the current directory)
  --days N           validity (CA 3650, certificates 365)
  --key-type TYPE    ec-p256 (default), rsa-2048 or rsa-4096
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
        const key = newKey(keyType);
        const keys = await webKeys(key);
        const now = Date.now();
        const cert = await x509.X509CertificateGenerator.createSelfSigned({
          serialNumber: serial(),
          name: [{ CN: [arg] }, { OU: [uuid] }],
          notBefore: new Date(now - 60_000),
          notAfter: new Date(now + (days ?? 3650) * DAY),
          keys: keys as never,
          signingAlgorithm: keys.signing as never,
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
          ],
        });
        writeAll(
          [
            { path: join(dir, 'cluster.crt'), content: cert.toString('pem') + '\n' },
            { path: join(dir, 'cluster.key'), content: key.export({ format: 'pem', type: 'pkcs8' }).toString(), secret: true },
          ],
          force,
        );
        out(`cluster ${arg}: UUID ${uuid}`);
        return 0;
      }
      case 'create-control-certificate': {
        if (!arg) throw new UsageError('create-control-certificate needs a hostname or IP address');
        const cluster = loadCluster(dir);
        const san = isIP(arg) ? { type: 'ip' as const, value: arg } : { type: 'dns' as const, value: arg };
        const made = await leaf(cluster, `OU=${cluster.uuid}, CN=control-service`, keyType, days ?? 365, [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([san]),
        ]);
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
        const made = await leaf(cluster, `OU=${cluster.uuid}, CN=user-${arg}`, keyType, days ?? 365, [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        ]);
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
        const name =
          values.name ??
          (new x509.X509Certificate(pem).subjectName.getField('CN')[0] ?? basename(arg, '.crt')).replace(/[^A-Za-z0-9._-]/g, '-');
        const r = await apiFromEnv().request(
          'PUT',
          `/v1/realms/${encodeURIComponent(values.realm)}/trusted-client-cas/${encodeURIComponent(name)}`,
          { certificate: pem },
        );
        out(`realm ${values.realm} trusts ${r.subject} as "${r.name}" (sha256 ${r.sha256Fingerprint})`);
        return 0;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}" (initialize, create-control-certificate, create-api-certificate, trust)`);
    }
  },
};
