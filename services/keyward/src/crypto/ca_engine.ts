/**
 * The CA crypto adapter behind issuance's CaEngine port: CSR parsing with
 * proof of possession, the policy validators, CA creation and import,
 * certificate, CRL and OCSP signing. ASN.1 through the maintained
 * @peculiar/asn1-* schemas and @peculiar/x509; signatures through node:crypto
 * (synchronous, the fastest primitive on the hot path).
 *
 * CA private keys are decrypted once per process and kept as KeyObjects.
 */
import "reflect-metadata"; // @peculiar/x509 resolves its providers through tsyringe, which needs it first
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import {
  BasicOCSPResponse, CertStatus, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes, ResponseData, RevokedInfo,
  SingleResponse, id_pkix_ocsp_basic, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import * as asn1x509 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, webcrypto, type KeyObject,
} from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { CaEngine, DnAttribute, IssueParams, NewCa, OcspStatus, ParsedCsr, RevokedEntry, SanSet, StoredCa } from '../issuance/ports.ts';
import { KeywardError } from '../kernel/errors.ts';
import { protectKey, unprotectKey } from './key_protection.ts';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

/** Attribute type OIDs and the short names policies use. */
export const DN_OIDS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.8': 'ST', '2.5.4.7': 'L', '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC',
};
const DN_NAMES = Object.fromEntries(Object.entries(DN_OIDS).map(([k, v]) => [v, k]));

/** Signature algorithm OID → node:crypto digest (null: the algorithm hashes itself). */
const SIG_HASH: Readonly<Record<string, string | null>> = {
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

const REASON_CODES: Readonly<Record<string, number>> = {
  unspecified: 0, keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5,
  certificateHold: 6, removeFromCRL: 8, privilegeWithdrawn: 9, aACompromise: 10,
};

const KU: Readonly<Record<string, number>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature, nonRepudiation: x509.KeyUsageFlags.nonRepudiation, keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment, keyAgreement: x509.KeyUsageFlags.keyAgreement, keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign, encipherOnly: x509.KeyUsageFlags.encipherOnly, decipherOnly: x509.KeyUsageFlags.decipherOnly,
};
const EKU: Readonly<Record<string, string>> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth, clientAuth: x509.ExtendedKeyUsage.clientAuth, codeSigning: x509.ExtendedKeyUsage.codeSigning,
  emailProtection: x509.ExtendedKeyUsage.emailProtection, timeStamping: x509.ExtendedKeyUsage.timeStamping, OCSPSigning: x509.ExtendedKeyUsage.ocspSigning,
};

interface PolicyRules {
  readonly keyTypes: readonly string[];
  readonly maxValidityDays: number;
  readonly subject: { readonly required: readonly string[]; readonly allowed: readonly string[] };
  readonly san: SanSet;
}

export type EngineCsr = ParsedCsr;

// ------------------------------------------------------------------ helpers

function pemToDer(text: string, label: RegExp): Uint8Array | undefined {
  const m = new RegExp(`-----BEGIN (${label.source})-----([\\s\\S]*?)-----END \\1-----`).exec(text);
  if (!m) return undefined;
  const body = m[2]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined;
  return new Uint8Array(Buffer.from(body, 'base64'));
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** `EC-P256`, `EC-P384`, `RSA-2048`, `Ed25519`, … */
export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return ({ prime256v1: 'EC-P256', secp384r1: 'EC-P384', secp521r1: 'EC-P521' } as Record<string, string>)[d.namedCurve ?? ''] ?? `EC-${d.namedCurve}`;
  if (key.asymmetricKeyType === 'rsa') return `RSA-${d.modulusLength}`;
  if (key.asymmetricKeyType === 'rsa-pss') return `RSA-PSS-${d.modulusLength}`;
  return String(key.asymmetricKeyType);
}

/** Signing parameters for a CA key: node:crypto digest, WebCrypto algorithm, signature AlgorithmIdentifier OID. */
function signingOf(key: KeyObject): { hash: string; web: Algorithm | EcdsaParams; oid: string } {
  const t = keyTypeOf(key);
  if (t === 'EC-P384') return { hash: 'sha384', web: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams, oid: '1.2.840.10045.4.3.3' };
  if (t.startsWith('EC-')) return { hash: 'sha256', web: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams, oid: '1.2.840.10045.4.3.2' };
  if (t.startsWith('RSA-')) return { hash: 'sha256', web: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm, oid: '1.2.840.113549.1.1.11' };
  throw new TypeError(`unsupported CA key type ${t}`);
}

async function webKeys(priv: KeyObject): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const t = keyTypeOf(priv);
  const alg = t.startsWith('EC-') ? { name: 'ECDSA', namedCurve: t === 'EC-P384' ? 'P-384' : t === 'EC-P521' ? 'P-521' : 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const pkcs8 = priv.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']) as unknown as CryptoKey,
    publicKey: await webcrypto.subtle.importKey('spki', spki, alg, true, ['verify']) as unknown as CryptoKey,
  };
}

const toHex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
/** DER INTEGER contents → our serial form (lowercase hex without leading zero octets). */
export const serialFromInteger = (b: ArrayBuffer | Uint8Array) => toHex(b).replace(/^(00)+(?=.)/, '').replace(/^0(?=.)/, '');

/** The schema decodes iPAddress octets to text; refuse anything that is not an IPv4/IPv6 address. */
function normaliseIp(text: string): string {
  if (!isIP(text)) throw new KeywardError('csr.malformed', 'The CSR has an IP address SAN that is not 4 or 16 octets');
  return text.toLowerCase();
}

// ------------------------------------------------------------------ policy validators (one named rule each)

export function checkKey(rules: PolicyRules, keyType: string): void {
  if (!rules.keyTypes.includes(keyType)) {
    throw new KeywardError('policy.key_not_allowed', `Key type ${keyType} is not allowed by the policy (allowed: ${rules.keyTypes.join(', ')})`, { extras: { keyType, allowed: rules.keyTypes } });
  }
}

export function checkSubject(rules: PolicyRules, subject: readonly DnAttribute[]): void {
  for (const a of subject) {
    if (!rules.subject.allowed.includes(a.type)) throw new KeywardError('policy.subject_not_allowed', `Subject attribute ${a.type} is not allowed by the policy (allowed: ${rules.subject.allowed.join(', ') || 'none'})`, { extras: { attribute: a.type } });
  }
  for (const r of rules.subject.required) {
    if (!subject.some((a) => a.type === r)) throw new KeywardError('policy.subject_not_allowed', `The policy requires a subject ${r}`, { extras: { attribute: r } });
  }
}

/** `*.x` matches exactly one label in front of x; other patterns match exactly (case-insensitive). */
export function dnsAllowed(patterns: readonly string[], name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    const pat = p.toLowerCase();
    if (!pat.startsWith('*.')) return pat === n;
    const suffix = pat.slice(1); // ".x"
    if (!n.endsWith(suffix)) return false;
    const label = n.slice(0, -suffix.length);
    return label.length > 0 && !label.includes('.') && label !== '*';
  });
}

export function ipAllowed(cidrs: readonly string[], ip: string): boolean {
  const family = isIP(ip);
  if (!family) return false;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const f = isIP(addr!);
    if (!f) continue;
    list.addSubnet(addr!, bits === undefined ? (f === 4 ? 32 : 128) : Number(bits), f === 4 ? 'ipv4' : 'ipv6');
  }
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

export function uriAllowed(patterns: readonly string[], uri: string): boolean {
  return patterns.some((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(uri));
}

export function emailAllowed(patterns: readonly string[], email: string): boolean {
  const e = email.toLowerCase();
  return patterns.some((p) => (p.startsWith('@') ? e.endsWith(p.toLowerCase()) && e.indexOf('@') === e.length - p.length : e === p.toLowerCase()));
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

export function checkSans(rules: PolicyRules, sans: SanSet, subject: readonly DnAttribute[]): void {
  const refuse = (kind: string, value: string) => {
    throw new KeywardError('policy.san_not_allowed', `${kind} ${value} is not allowed by the policy`, { extras: { san: `${kind.split(' ')[0]!.toLowerCase()}:${value}` } });
  };
  for (const d of sans.dns) if (!dnsAllowed(rules.san.dns, d)) refuse('DNS name', d);
  for (const i of sans.ip) if (!ipAllowed(rules.san.ip, i)) refuse('IP address', i);
  for (const u of sans.uri) if (!uriAllowed(rules.san.uri, u)) refuse('URI', u);
  for (const m of sans.email) if (!emailAllowed(rules.san.email, m)) refuse('Email address', m);
  // A CN that looks like a host name is a name too (clients still match on it): same rules as DNS SANs.
  for (const cn of subject.filter((a) => a.type === 'CN')) {
    if (HOSTNAME.test(cn.value) && !dnsAllowed(rules.san.dns, cn.value)) {
      throw new KeywardError('policy.subject_not_allowed', `Subject CN ${cn.value} is a host name outside the policy's DNS names`, { extras: { attribute: 'CN' } });
    }
  }
}

export function checkValidity(rules: PolicyRules, days: number): void {
  if (days > rules.maxValidityDays) {
    throw new KeywardError('policy.validity_exceeded', `A validity of ${days} days exceeds the policy maximum of ${rules.maxValidityDays} days`, { extras: { maximum: rules.maxValidityDays } });
  }
}

// ------------------------------------------------------------------ the engine

export class NodeCaEngine implements CaEngine {
  readonly #kek: Buffer;
  readonly #keys = new Map<string, KeyObject>();
  readonly #webKeys = new Map<string, Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }>>();
  readonly #certs = new Map<string, x509.X509Certificate>();

  constructor(kek: Buffer) {
    if (kek.length !== 32) throw new TypeError('the key-encryption key must be 32 bytes');
    this.#kek = kek;
  }

  parseCsr(input: string | Uint8Array): EngineCsr {
    let der: Uint8Array | undefined;
    const text = typeof input === 'string' ? input : Buffer.from(input).subarray(0, 11).toString('latin1') === '-----BEGIN ' ? Buffer.from(input).toString('latin1') : undefined;
    if (text !== undefined) der = pemToDer(text, /(?:NEW )?CERTIFICATE REQUEST/);
    else der = input as Uint8Array;
    if (!der || der.length < 16) throw new KeywardError('csr.malformed', 'The CSR is not a PEM "CERTIFICATE REQUEST" or DER PKCS#10 structure');
    let req: CertificationRequest;
    try {
      req = AsnConvert.parse(der, CertificationRequest);
    } catch (err) {
      throw new KeywardError('csr.malformed', 'The CSR is not a valid PKCS#10 structure', { cause: err });
    }
    const info = req.certificationRequestInfo;
    const spki = new Uint8Array(AsnConvert.serialize(info.subjectPKInfo));
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch (err) {
      throw new KeywardError('policy.key_not_allowed', 'The CSR carries a public key of an unsupported type', { cause: err });
    }
    const alg = req.signatureAlgorithm.algorithm;
    if (!(alg in SIG_HASH)) throw new KeywardError('csr.bad_signature', `The CSR is signed with an unsupported algorithm ${alg}`);
    const tbs = req.certificationRequestInfoRaw ? new Uint8Array(req.certificationRequestInfoRaw) : new Uint8Array(AsnConvert.serialize(info));
    let ok = false;
    try {
      ok = nodeVerify(SIG_HASH[alg] ?? null, tbs, key, new Uint8Array(req.signature));
    } catch {
      ok = false;
    }
    if (!ok) throw new KeywardError('csr.bad_signature', 'The CSR signature does not verify with its public key (no proof of possession)');
    const subject: DnAttribute[] = [];
    for (const rdn of info.subject) {
      for (const atv of rdn) subject.push({ type: DN_OIDS[atv.type] ?? atv.type, value: atv.value.toString() });
    }
    const sans = { dns: [] as string[], ip: [] as string[], uri: [] as string[], email: [] as string[] };
    for (const attr of info.attributes) {
      if (attr.type !== '1.2.840.113549.1.9.14') continue;
      for (const v of attr.values) {
        const exts = AsnConvert.parse(v, asn1x509.Extensions);
        for (const ext of exts) {
          if (ext.extnID !== asn1x509.id_ce_subjectAltName) continue;
          const names = AsnConvert.parse(ext.extnValue, asn1x509.SubjectAlternativeName);
          for (const n of names) {
            if (n.dNSName !== undefined) sans.dns.push(n.dNSName);
            else if (n.iPAddress !== undefined) sans.ip.push(normaliseIp(n.iPAddress));
            else if (n.uniformResourceIdentifier !== undefined) sans.uri.push(n.uniformResourceIdentifier);
            else if (n.rfc822Name !== undefined) sans.email.push(n.rfc822Name);
            else throw new KeywardError('policy.san_not_allowed', 'The CSR asks for a kind of subject alternative name Keyward does not issue (only DNS, IP, URI and email)');
          }
        }
      }
    }
    return { subject, sans, keyType: keyTypeOf(key), pem: derToPem(der, 'CERTIFICATE REQUEST'), spki };
  }

  enforce(policy: unknown, request: { keyType: string; subject: readonly DnAttribute[]; sans: SanSet; validityDays: number }): void {
    const rules = policy as PolicyRules;
    checkKey(rules, request.keyType);
    checkSubject(rules, request.subject);
    checkSans(rules, request.sans, request.subject);
    checkValidity(rules, request.validityDays);
  }

  #newKey(type: 'EC-P256' | 'EC-P384'): KeyObject {
    return generateKeyPairSync('ec', { namedCurve: type === 'EC-P384' ? 'P-384' : 'P-256' }).privateKey;
  }

  #seal(key: KeyObject): unknown {
    return protectKey(this.#kek, key.export({ format: 'der', type: 'pkcs8' }));
  }

  #privateKey(ca: StoredCa): KeyObject {
    let k = this.#keys.get(ca.id);
    if (!k) {
      k = createPrivateKey({ key: unprotectKey(this.#kek, ca.keyBlob), format: 'der', type: 'pkcs8' });
      this.#keys.set(ca.id, k);
    }
    return k;
  }

  #web(ca: StoredCa) {
    let w = this.#webKeys.get(ca.id);
    if (!w) {
      w = webKeys(this.#privateKey(ca));
      this.#webKeys.set(ca.id, w);
    }
    return w;
  }

  #cert(ca: StoredCa): x509.X509Certificate {
    let c = this.#certs.get(ca.id);
    if (!c) {
      c = new x509.X509Certificate(ca.certificatePem);
      this.#certs.set(ca.id, c);
    }
    return c;
  }

  async createRoot(name: string, now: Date): Promise<NewCa> {
    const key = this.#newKey('EC-P384');
    const keys = await webKeys(key);
    const notAfter = new Date(now.getTime() + 20 * 365 * 86_400_000);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(), name: `CN=${name} ${createHash('sha256').update(Buffer.from(key.export({ format: 'der', type: 'pkcs8' }))).digest('hex').slice(0, 8)}, O=Keyward`,
      notBefore: new Date(now.getTime() - 60_000), notAfter, keys: keys as CryptoKeyPair, signingAlgorithm: signingOf(key).web,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { subject: cert.subject, certificatePem: cert.toString('pem') + '\n', keyBlob: this.#seal(key), keyType: 'EC-P384', notAfter };
  }

  generateKey(): { spki: Uint8Array; pkcs8: Uint8Array; keyType: string } {
    const key = this.#newKey('EC-P256');
    return {
      spki: new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' })),
      pkcs8: new Uint8Array(key.export({ format: 'der', type: 'pkcs8' })),
      keyType: 'EC-P256',
    };
  }

  seal(pkcs8: Uint8Array): unknown {
    return protectKey(this.#kek, Buffer.from(pkcs8));
  }

  unseal(blob: unknown): Uint8Array {
    return new Uint8Array(unprotectKey(this.#kek, blob));
  }

  async createIssuing(realm: string, parent: StoredCa, now: Date, label = 'Issuing CA'): Promise<NewCa> {
    const key = this.#newKey('EC-P256');
    const keys = await webKeys(key);
    const parentCert = this.#cert(parent);
    const parentKeys = await this.#web(parent);
    let notAfter = new Date(now.getTime() + 10 * 365 * 86_400_000);
    if (notAfter > parentCert.notAfter) notAfter = parentCert.notAfter;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(), subject: `CN=Keyward ${realm} ${label}, O=Keyward`, issuer: parentCert.subjectName,
      notBefore: new Date(now.getTime() - 60_000), notAfter, publicKey: keys.publicKey, signingKey: parentKeys.privateKey,
      signingAlgorithm: signingOf(this.#privateKey(parent)).web,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(parentCert),
      ],
    });
    return { subject: cert.subject, certificatePem: cert.toString('pem') + '\n', keyBlob: this.#seal(key), keyType: 'EC-P256', notAfter };
  }

  async importParent(certificatePem: string, keyPem: string): Promise<NewCa> {
    let cert: x509.X509Certificate;
    let key: KeyObject;
    try {
      cert = new x509.X509Certificate(certificatePem);
    } catch (err) {
      throw new KeywardError('ca.invalid', 'The CA certificate is not a PEM X.509 certificate', { cause: err });
    }
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new KeywardError('ca.invalid', 'The CA key is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)', { cause: err });
    }
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) throw new KeywardError('ca.invalid', 'The certificate is not a CA certificate (basicConstraints cA is not set)');
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)) throw new KeywardError('ca.invalid', 'The CA certificate does not allow certificate signing (keyUsage keyCertSign)');
    const certSpki = Buffer.from(cert.publicKey.rawData);
    const keySpki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    if (!certSpki.equals(keySpki)) throw new KeywardError('ca.invalid', 'The private key does not belong to the CA certificate');
    try {
      signingOf(key);
    } catch {
      throw new KeywardError('ca.invalid', `CA keys of type ${keyTypeOf(key)} are not supported (EC P-256/P-384, RSA 2048–4096)`);
    }
    return { subject: cert.subject, certificatePem: cert.toString('pem') + '\n', keyBlob: this.#seal(key), keyType: keyTypeOf(key), notAfter: cert.notAfter };
  }

  async issue(ca: StoredCa, p: IssueParams): Promise<{ der: Uint8Array; pem: string }> {
    const csr = p.csr as EngineCsr;
    const caCert = this.#cert(ca);
    const keys = await this.#web(ca);
    const publicKey = new x509.PublicKey(Buffer.from(csr.spki));
    const names: x509.JsonGeneralName[] = [
      ...p.sans.dns.map((v) => ({ type: 'dns' as const, value: v })),
      ...p.sans.ip.map((v) => ({ type: 'ip' as const, value: v })),
      ...p.sans.uri.map((v) => ({ type: 'url' as const, value: v })),
      ...p.sans.email.map((v) => ({ type: 'email' as const, value: v })),
    ];
    const ku = p.keyUsage.reduce((acc, u) => acc | (KU[u] ?? 0), 0);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(ku ? [new x509.KeyUsagesExtension(ku, true)] : []),
      ...(p.extendedKeyUsage.length ? [new x509.ExtendedKeyUsageExtension(p.extendedKeyUsage.map((e) => EKU[e]!), false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, p.subject.length === 0)] : []),
      ...(p.crlUrl ? [new x509.CRLDistributionPointsExtension([p.crlUrl])] : []),
      ...(p.ocspUrl ? [new x509.AuthorityInfoAccessExtension({ ocsp: [p.ocspUrl] })] : []),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: p.serial, subject: subjectJson(p.subject), issuer: caCert.subjectName, notBefore: p.notBefore, notAfter: p.notAfter,
      publicKey, signingKey: keys.privateKey, signingAlgorithm: signingOf(this.#privateKey(ca)).web, extensions,
    });
    const der = new Uint8Array(cert.rawData);
    return { der, pem: derToPem(der) };
  }

  async crl(ca: StoredCa, entries: readonly RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array> {
    const caCert = this.#cert(ca);
    const keys = await this.#web(ca);
    const crl = await x509.X509CrlGenerator.create({
      issuer: caCert.subjectName, thisUpdate, nextUpdate, signingKey: keys.privateKey, signingAlgorithm: signingOf(this.#privateKey(ca)).web,
      entries: entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, reason: REASON_CODES[e.reason] ?? 0 })),
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
        new x509.Extension(asn1x509.id_ce_cRLNumber, false, AsnConvert.serialize(new asn1x509.CRLNumber(Number(crlNumber)))),
      ],
    });
    return new Uint8Array(crl.rawData);
  }

  async ocsp(ca: StoredCa, requestDer: Uint8Array, lookup: (serialHex: string) => Promise<OcspStatus>, now: Date): Promise<Uint8Array> {
    let request: OCSPRequest;
    try {
      request = AsnConvert.parse(requestDer, OCSPRequest);
      if (request.tbsRequest.requestList.length === 0) throw new Error('empty request list');
    } catch {
      return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.malformedRequest })));
    }
    const caCert = this.#cert(ca);
    const caKey = this.#privateKey(ca);
    const nameDer = Buffer.from(AsnConvert.serialize(AsnConvert.parse(caCert.rawData, asn1x509.Certificate).tbsCertificate.subject));
    const keyBits = Buffer.from(AsnConvert.parse(caCert.publicKey.rawData, asn1x509.SubjectPublicKeyInfo).subjectPublicKey);
    const HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
    const responses: SingleResponse[] = [];
    let recognised = false;
    for (const r of request.tbsRequest.requestList) {
      const id = r.reqCert;
      const hash = HASHES[id.hashAlgorithm.algorithm];
      const mine = hash !== undefined
        && createHash(hash).update(nameDer).digest().equals(Buffer.from(id.issuerNameHash.buffer))
        && createHash(hash).update(keyBits).digest().equals(Buffer.from(id.issuerKeyHash.buffer));
      let certStatus: CertStatus;
      if (!mine) certStatus = new CertStatus({ unknown: null });
      else {
        recognised = true;
        const s = await lookup(serialFromInteger(id.serialNumber));
        certStatus = s.status === 'good' ? new CertStatus({ good: null })
          : s.status === 'revoked' ? new CertStatus({ revoked: new RevokedInfo({ revocationTime: s.revokedAt, revocationReason: new asn1x509.CRLReason(REASON_CODES[s.reason] ?? 0) }) })
          : new CertStatus({ unknown: null });
      }
      responses.push(new SingleResponse({ certID: id, certStatus, thisUpdate: truncate(now), nextUpdate: new Date(truncate(now).getTime() + 3_600_000) }));
    }
    if (!recognised) return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.unauthorized })));
    const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    const keyHash = createHash('sha1').update(keyBits).digest();
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new OctetString(keyHash) }),
      producedAt: truncate(now),
      responses,
      ...(nonce ? { responseExtensions: [nonce] } : {}),
    });
    const tbs = Buffer.from(AsnConvert.serialize(data));
    const s = signingOf(caKey);
    const signature = nodeSign(s.hash, tbs, caKey);
    const basic = new BasicOCSPResponse({
      tbsResponseData: data,
      signatureAlgorithm: new asn1x509.AlgorithmIdentifier({ algorithm: s.oid, ...(s.oid.startsWith('1.2.840.113549') ? { parameters: null } : {}) }),
      signature: new Uint8Array(signature).buffer,
    });
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
    });
    return new Uint8Array(AsnConvert.serialize(response));
  }
}

function truncate(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function randomSerial(): string {
  const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
}

/** Our ordered attributes → an x509 JsonName (one attribute per RDN, order kept). */
function subjectJson(subject: readonly DnAttribute[]): x509.JsonName {
  return subject.map((a) => ({ [DN_NAMES[a.type] ?? a.type]: [a.value] }));
}
