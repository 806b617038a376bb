/**
 * What `keyward certificate` does on the machine that holds the key: keys
 * generated here with node:crypto (never sent), CSRs built with
 * @peculiar/x509, certificates decoded for `inspect`, OCSP requests (RFC 6960)
 * built and answers read, and files replaced atomically (a temporary file in
 * the same directory, then rename(2)), the key kept mode 0600.
 */
import 'reflect-metadata'; // @peculiar/x509 needs it loaded first
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, Request as OcspSingleRequest, TBSRequest } from '@peculiar/asn1-ocsp';
import * as x509 from '@peculiar/x509';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';
import { UsageError } from './command.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const KEY_TYPES = ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

function algorithms(type: KeyType): {
  key: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  signing: webcrypto.Algorithm & { hash?: string };
} {
  if (type.startsWith('EC-')) {
    const curve = type === 'EC-P256' ? 'P-256' : 'P-384';
    return { key: { name: 'ECDSA', namedCurve: curve }, signing: { name: 'ECDSA', hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' } };
  }
  return {
    key: { name: 'RSASSA-PKCS1-v1_5', modulusLength: Number(type.slice(4)), publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  };
}

export function keyTypeOption(text: string | undefined): KeyType {
  const t = text ?? 'EC-P256';
  if (!(KEY_TYPES as readonly string[]).includes(t)) throw new UsageError(`unknown key type "${t}" (${KEY_TYPES.join(', ')})`);
  return t as KeyType;
}

/** A SAN as written on the command line (`DNS:web.example`, `IP:10.0.0.1`, `URI:spiffe://…`, `email:ops@example`). */
export function sanOption(text: string): { type: 'dns' | 'ip' | 'url' | 'email'; value: string } {
  const i = text.indexOf(':');
  const kind = i > 0 ? text.slice(0, i).toLowerCase() : '';
  const value = i > 0 ? text.slice(i + 1) : '';
  const bad = (why: string) => new UsageError(`bad --san "${text}": ${why} (DNS:name, IP:address, URI:uri or email:address)`);
  if (!value) throw bad('no value');
  switch (kind) {
    case 'dns':
      if (!/^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(value))
        throw bad('not a DNS name');
      return { type: 'dns', value };
    case 'ip':
      if (!isIP(value)) throw bad('not an IPv4 or IPv6 address');
      return { type: 'ip', value };
    case 'uri':
      if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) throw bad('not a URI');
      return { type: 'url', value };
    case 'email':
      if (!/^[^@\s]+@[^@\s]+$/.test(value)) throw bad('not an e-mail address');
      return { type: 'email', value };
    default:
      throw bad(`unknown kind "${kind || text}"`);
  }
}

/** A new key pair of `type`, made in this process. */
export async function generateKey(type: KeyType): Promise<{ keys: webcrypto.CryptoKeyPair; pem: string }> {
  const keys = (await webcrypto.subtle.generateKey(algorithms(type).key, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keys, pem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** A PKCS#10 CSR (RFC 2986) signed with the key, asking for `subject` and `sans`. */
export async function buildCsr(
  keys: webcrypto.CryptoKeyPair,
  type: KeyType,
  subject: string | undefined,
  sans: readonly { type: 'dns' | 'ip' | 'url' | 'email'; value: string }[],
): Promise<string> {
  let name: x509.Name | string = subject ?? '';
  try {
    name = new x509.Name(subject ?? '');
  } catch {
    throw new UsageError(`bad --subject "${subject}": write it as CN=web.example,O=Example`);
  }
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: algorithms(type).signing,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type, value: s.value })))] : [],
  });
  return csr.toString('pem');
}

/**
 * A key made here and the CSR for it, from the command line's `--key-type`,
 * `--subject` and `--san` options; the subject defaults to `CN=<first DNS SAN>`.
 * @example const { keyPem, csrPem } = await localKeyAndCsr('EC-P256', undefined, ['DNS:web.example']);
 */
export async function localKeyAndCsr(
  keyType: string | undefined,
  subject: string | undefined,
  sanTexts: readonly string[],
): Promise<{ keyPem: string; csrPem: string }> {
  const type = keyTypeOption(keyType);
  const sans = sanTexts.map(sanOption);
  const key = await generateKey(type);
  return { keyPem: key.pem, csrPem: await buildCsr(key.keys, type, subject ?? defaultSubject(sans), sans) };
}

/** `CN=<first DNS SAN>`, or undefined when there is none. */
export function defaultSubject(sans: readonly { type: string; value: string }[]): string | undefined {
  const dns = sans.find((s) => s.type === 'dns');
  return dns ? `CN=${dns.value}` : undefined;
}

/** A file named on the command line, or a usage error naming it. */
export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Writes `<name>.crt` (leaf), `<name>.chain.pem` (leaf + chain) and, when given, `<name>.key` (0600), each atomically. */
export function writeCertificateFiles(dir: string, name: string, view: { certificate: string; chain: readonly string[] }, keyPem?: string) {
  mkdirSync(dir, { recursive: true });
  const files = { crt: join(dir, `${name}.crt`), chain: join(dir, `${name}.chain.pem`), key: join(dir, `${name}.key`) };
  if (keyPem) writeAtomic(files.key, keyPem, 0o600);
  writeAtomic(files.chain, view.certificate + view.chain.join(''), 0o644);
  writeAtomic(files.crt, view.certificate, 0o644);
  return files;
}

/** Imports a PKCS#8 (or SEC 1 / PKCS#1) PEM private key as a WebCrypto key pair of the certificate's key type. */
export async function keysFromPem(keyPem: string, type: KeyType): Promise<webcrypto.CryptoKeyPair> {
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const priv = createPrivateKey(keyPem);
  const alg = algorithms(type);
  const importAlg = alg.key.name === 'ECDSA' ? alg.key : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', priv.export({ format: 'der', type: 'pkcs8' }), importAlg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey(
    'spki',
    createPublicKey(priv).export({ format: 'der', type: 'spki' }),
    importAlg,
    true,
    ['verify'],
  );
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}

/** The key type of a certificate's public key, as Keyward names it. */
export function keyTypeOf(cert: x509.X509Certificate): string {
  const alg = cert.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  if (alg.name === 'ECDSA' || alg.name === 'ECDH') return `EC-${(alg.namedCurve ?? '').replace('-', '')}`;
  if (alg.modulusLength) return `RSA-${alg.modulusLength}`;
  return alg.name;
}

/** Certificates of a PEM bundle, in order. */
export function certificatesOf(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new x509.X509Certificate(b));
}

/** Replaces `path` atomically: a temporary file beside it, then rename. */
export function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The realm a Keyward certificate belongs to, from its CRL distribution point (`…/v1/realms/<realm>/crl[/<CA id>]`). */
export function realmOf(cert: x509.X509Certificate): string | undefined {
  for (const url of crlUrlsOf(cert)) {
    const m = /\/v1\/realms\/([^/]+)\/crl(?:\/[0-9a-f-]+)?$/.exec(url);
    if (m) return decodeURIComponent(m[1]!);
  }
  return undefined;
}

export function crlUrlsOf(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.CRLDistributionPointsExtension);
  const urls: string[] = [];
  for (const dp of ext?.distributionPoints ?? [])
    for (const n of dp.distributionPoint?.fullName ?? []) if (n.uniformResourceIdentifier) urls.push(n.uniformResourceIdentifier);
  return urls;
}

export function ocspUrlsOf(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.AuthorityInfoAccessExtension);
  return (ext?.ocsp ?? []).filter((n) => n.type === 'url').map((n) => n.value);
}

const KEY_USAGE_NAMES: Array<[number, string]> = [
  [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
  [x509.KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [x509.KeyUsageFlags.decipherOnly, 'decipherOnly'],
];
const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** What `keyward certificate inspect` shows of a certificate. */
export interface CertificateSummary {
  readonly subject: string;
  readonly sans: string[];
  readonly key: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly secondsLeft: number;
  readonly keyUsage: string[];
  readonly extendedKeyUsage: string[];
  readonly issuer: string;
  readonly serialNumber: string;
  readonly sha256Fingerprint: string;
  readonly crlUrls: string[];
  readonly ocspUrls: string[];
}

export function summarise(cert: x509.X509Certificate, now = new Date()): CertificateSummary {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const kind: Record<string, string> = { dns: 'DNS', ip: 'IP', url: 'URI', email: 'email' };
  return {
    subject: cert.subject,
    sans: (san?.names.items ?? []).map((n) => `${kind[n.type] ?? n.type}:${n.value}`),
    key: keyTypeOf(cert),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    secondsLeft: Math.round((cert.notAfter.getTime() - now.getTime()) / 1000),
    keyUsage: ku ? KEY_USAGE_NAMES.filter(([bit]) => (ku.usages & bit) !== 0).map(([, n]) => n) : [],
    extendedKeyUsage: (eku?.usages ?? []).map((u) => EKU_NAMES[String(u)] ?? String(u)),
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    sha256Fingerprint: createHash('sha256')
      .update(new Uint8Array(cert.rawData))
      .digest('hex')
      .toUpperCase()
      .replace(/(..)(?=.)/g, '$1:'),
    crlUrls: crlUrlsOf(cert),
    ocspUrls: ocspUrlsOf(cert),
  };
}

/** "3 d 4 h", "12 min 5 s", "expired 2 min ago". */
export function timeLeft(seconds: number): string {
  const abs = Math.abs(seconds);
  const parts =
    abs >= 86_400
      ? `${Math.floor(abs / 86_400)} d ${Math.floor((abs % 86_400) / 3_600)} h`
      : abs >= 3_600
        ? `${Math.floor(abs / 3_600)} h ${Math.floor((abs % 3_600) / 60)} min`
        : `${Math.floor(abs / 60)} min ${abs % 60} s`;
  return seconds >= 0 ? `${parts} left` : `expired ${parts} ago`;
}

/** An OCSP request (RFC 6960 §4.1) for `cert`, issued by `issuer`, with SHA-1 CertID hashes as responders expect. */
export function ocspRequest(cert: x509.X509Certificate, issuer: x509.X509Certificate): Uint8Array {
  const leaf = AsnConvert.parse(cert.rawData, Certificate);
  const ca = AsnConvert.parse(issuer.rawData, Certificate);
  const sha1 = (b: ArrayBuffer) => {
    const d = createHash('sha1').update(new Uint8Array(b)).digest();
    return new OctetString(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  };
  const req = new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [
        new OcspSingleRequest({
          reqCert: new CertID({
            hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
            issuerNameHash: sha1(AsnConvert.serialize(ca.tbsCertificate.subject)),
            issuerKeyHash: sha1(ca.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey),
            serialNumber: leaf.tbsCertificate.serialNumber,
          }),
        }),
      ],
    }),
  });
  return new Uint8Array(AsnConvert.serialize(req));
}

/** The status an OCSP response gives: good, revoked (with time and reason), unknown, or the responder's refusal. */
export function ocspStatus(der: Uint8Array): { status: string; revokedAt?: string; reason?: string } {
  const res = AsnConvert.parse(der, OCSPResponse);
  if (res.responseStatus !== 0 || !res.responseBytes) return { status: `refused (OCSP responseStatus ${res.responseStatus})` };
  const basic = AsnConvert.parse(res.responseBytes.response.buffer, BasicOCSPResponse);
  const single = basic.tbsResponseData.responses[0];
  if (!single) return { status: 'unknown' };
  const s = single.certStatus;
  if (s.revoked) {
    const code = s.revoked.revocationReason as unknown as number | undefined;
    const names = [
      'unspecified',
      'keyCompromise',
      'cACompromise',
      'affiliationChanged',
      'superseded',
      'cessationOfOperation',
      'certificateHold',
      '',
      'removeFromCRL',
      'privilegeWithdrawn',
      'aACompromise',
    ];
    return {
      status: 'revoked',
      revokedAt: s.revoked.revocationTime.toISOString(),
      reason: code === undefined ? undefined : (names[Number(code)] ?? String(code)),
    };
  }
  return { status: s.good !== undefined ? 'good' : 'unknown' };
}
