/**
 * The CA crypto adapter behind issuance's CaEngine port: CSR parsing with
 * proof of possession, the policy validators, CA creation and import,
 * certificate, CRL and OCSP signing. ASN.1 through the maintained
 * @peculiar/asn1-* schemas and @peculiar/x509; signatures through node:crypto
 * (synchronous, the fastest primitive), on worker threads under load
 * (offload.ts: the CSR check and the signature of concurrent issuances use
 * the other cores).
 *
 * CA private keys are decrypted once per process and kept as KeyObjects.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its providers through tsyringe, which needs it first
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import type {
  CaEngine,
  DnAttribute,
  IssueParams,
  NewCa,
  OcspStatus,
  ParsedCsr,
  RevokedEntry,
  SanSet,
  StoredCa,
} from '../issuance/ports.ts';
import { KeywardError } from '../kernel/errors.ts';
import {
  answerOcsp,
  buildCrl,
  toPem,
  createIssuingCa,
  createRootCa,
  issueCertificate,
  loadCa,
  protectKey,
  unprotectKey,
  type CaKeyType,
  type CaRecord,
  parseCsr as parseVerifiedCsr,
  type CaContext,
  type Csr,
  type Policy,
  type RevocationReason,
  parseCsrAsync as parseVerifiedCsrAsync,
} from '../ca/index.ts';
import { enforcePolicy } from '../ca/issue.ts';
import { sharedOffload, type CryptoOffload } from './offload.ts';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

/** Attribute type OIDs and the short names policies use. */
export const DN_OIDS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.8': 'ST',
  '2.5.4.7': 'L',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};
const DN_NAMES = Object.fromEntries(Object.entries(DN_OIDS).map(([k, v]) => [v, k]));

const KU: Readonly<Record<string, number>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};
const EKU: Readonly<Record<string, string>> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
  codeSigning: x509.ExtendedKeyUsage.codeSigning,
  emailProtection: x509.ExtendedKeyUsage.emailProtection,
  timeStamping: x509.ExtendedKeyUsage.timeStamping,
  OCSPSigning: x509.ExtendedKeyUsage.ocspSigning,
};

export type EngineCsr = ParsedCsr;

// ------------------------------------------------------------------ helpers

/** `EC-P256`, `EC-P384`, `RSA-2048`, `Ed25519`, … */
export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec')
    return (
      ({ prime256v1: 'EC-P256', secp384r1: 'EC-P384', secp521r1: 'EC-P521' } as Record<string, string>)[d.namedCurve ?? ''] ??
      `EC-${d.namedCurve}`
    );
  if (key.asymmetricKeyType === 'rsa') return `RSA-${d.modulusLength}`;
  if (key.asymmetricKeyType === 'rsa-pss') return `RSA-PSS-${d.modulusLength}`;
  return String(key.asymmetricKeyType);
}

/** Signing parameters for a CA key: node:crypto digest, WebCrypto algorithm, signature AlgorithmIdentifier OID. */
function signingOf(key: KeyObject): { hash: string; web: Algorithm | EcdsaParams; oid: string } {
  const t = keyTypeOf(key);
  if (t === 'EC-P384') return { hash: 'sha384', web: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams, oid: '1.2.840.10045.4.3.3' };
  if (t.startsWith('EC-')) return { hash: 'sha256', web: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams, oid: '1.2.840.10045.4.3.2' };
  if (t.startsWith('RSA-'))
    return { hash: 'sha256', web: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm, oid: '1.2.840.113549.1.1.11' };
  throw new TypeError(`unsupported CA key type ${t}`);
}

async function webKeys(priv: KeyObject): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const t = keyTypeOf(priv);
  const alg = t.startsWith('EC-')
    ? { name: 'ECDSA', namedCurve: t === 'EC-P384' ? 'P-384' : t === 'EC-P521' ? 'P-521' : 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const pkcs8 = priv.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return {
    privateKey: (await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign'])) as unknown as CryptoKey,
    publicKey: (await webcrypto.subtle.importKey('spki', spki, alg, true, ['verify'])) as unknown as CryptoKey,
  };
}

const toHex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
/** DER INTEGER contents → our serial form (lowercase hex without leading zero octets). */
export const serialFromInteger = (b: ArrayBuffer | Uint8Array) =>
  toHex(b)
    .replace(/^(00)+(?=.)/, '')
    .replace(/^0(?=.)/, '');

// ------------------------------------------------------------------ the engine

export class NodeCaEngine implements CaEngine {
  readonly #kek: Buffer;
  readonly #keys = new Map<string, KeyObject>();
  readonly #webKeys = new Map<string, Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }>>();
  readonly #certs = new Map<string, x509.X509Certificate>();
  readonly #contexts = new Map<string, CaContext>();
  readonly #verified = new WeakMap<ParsedCsr, Csr>();

  readonly #issuingKeyType: string;
  readonly #offload: CryptoOffload;

  /**
   * @param options.issuingKeyType key type of new issuing CAs (KEYWARD_CA_KEY_TYPE).
   * @param options.offload when CSR checks and CA signatures leave the main thread (default: the process's, see offload.ts).
   */
  constructor(kek: Buffer, options: { issuingKeyType?: string; offload?: CryptoOffload } = {}) {
    if (kek.length !== 32) throw new TypeError('the key-encryption key must be 32 bytes');
    this.#kek = kek;
    this.#issuingKeyType = options.issuingKeyType ?? 'EC-P256';
    this.#offload = options.offload ?? sharedOffload();
  }

  /**
   * Parses and verifies a CSR with the CA domain's lean DER reader (proof of
   * possession checked); the domain's Csr is kept so issuance can use the
   * fast path, which accepts only CSRs it verified itself.
   */
  parseCsr(input: string | Uint8Array): EngineCsr {
    return this.#parsed(parseVerifiedCsr(input));
  }

  /** {@link parseCsr} with the proof of possession checked on another core under load. */
  async parseCsrAsync(input: string | Uint8Array): Promise<EngineCsr> {
    return this.#parsed(await parseVerifiedCsrAsync(input, this.#offload.verifyCsr));
  }

  #parsed(csr: Csr): EngineCsr {
    if (csr.unsupportedSans.length) {
      throw new KeywardError(
        'policy.san_not_allowed',
        `The CSR asks for ${[...new Set(csr.unsupportedSans)].join(', ')} names; Keyward certifies DNS, IP, URI and e-mail names only`,
        { extras: { san: csr.unsupportedSans[0] } },
      );
    }
    const parsed: EngineCsr = { subject: csr.subject, sans: csr.sans, keyType: csr.keyType, pem: csr.pem, spki: csr.spki };
    this.#verified.set(parsed, csr);
    return parsed;
  }

  enforce(policy: unknown, request: { keyType: string; subject: readonly DnAttribute[]; sans: SanSet; validityDays: number }): void {
    enforcePolicy(this.#policy(policy), request); // includes the host-name CN rule (ca/policy/validators/subject.ts)
  }

  readonly #policies = new WeakMap<object, Policy>();

  /**
   * A frozen copy of a stored policy document, one per document object: the
   * CA domain compiles a frozen policy's SAN rules and encodes its key usages
   * once, not per certificate (the policy service hands out the same object
   * while it caches it).
   */
  #policy(doc: unknown): Policy {
    if (typeof doc !== 'object' || doc === null) return doc as Policy;
    if (Object.isFrozen(doc)) return doc as Policy;
    let p = this.#policies.get(doc);
    if (!p) {
      p = deepFreeze(structuredClone(doc)) as Policy;
      this.#policies.set(doc, p);
    }
    return p;
  }

  #newKey(type: string): KeyObject {
    if (type.startsWith('RSA-')) return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) }).privateKey;
    if (type === 'EC-P256' || type === 'EC-P384')
      return generateKeyPairSync('ec', { namedCurve: type === 'EC-P384' ? 'P-384' : 'P-256' }).privateKey;
    throw new TypeError(`unsupported CA key type ${type}`);
  }

  #seal(key: KeyObject): unknown {
    return protectKey(this.#kek, key);
  }

  #privateKey(ca: StoredCa): KeyObject {
    let k = this.#keys.get(ca.id);
    if (!k) {
      k = unprotectKey(this.#kek, ca.keyBlob);
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

  /** The CA domain's context (precomputed DER, signer) for the fast builders. */
  #context(ca: StoredCa): CaContext {
    let c = this.#contexts.get(ca.id);
    if (!c) {
      const chainPem = ca.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
      c = loadCa({ certificatePem: ca.certificatePem, chainPem }, this.#offload.signer(this.#privateKey(ca)));
      this.#contexts.set(ca.id, c);
    }
    return c;
  }

  #cert(ca: StoredCa): x509.X509Certificate {
    let c = this.#certs.get(ca.id);
    if (!c) {
      c = new x509.X509Certificate(ca.certificatePem);
      this.#certs.set(ca.id, c);
    }
    return c;
  }

  /** The installation's root, built by the CA domain (ECDSA P-384, 20 years). */
  async createRoot(name: string, now: Date): Promise<NewCa> {
    const tag = randomBytes(4).toString('hex'); // several installations' roots stay distinguishable
    const made = await createRootCa({
      subject: [
        { type: 'CN', value: `${name} ${tag}` },
        { type: 'O', value: 'Keyward' },
      ],
      now: backdated(now),
      kek: this.#kek,
      keyType: 'EC-P384',
    });
    return this.#stored(made.record);
  }

  async createIssuing(realm: string, parent: StoredCa, now: Date, label = 'Issuing CA'): Promise<NewCa> {
    const made = await createIssuingCa({
      parent: this.#context(parent),
      subject: [
        { type: 'CN', value: `Keyward ${realm} ${label}` },
        { type: 'O', value: 'Keyward' },
      ],
      now: backdated(now),
      kek: this.#kek,
      keyType: this.#issuingKeyType as CaKeyType,
    });
    return this.#stored(made.record);
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
    if (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign))
      throw new KeywardError('ca.invalid', 'The CA certificate does not allow certificate signing (keyUsage keyCertSign)');
    const certSpki = Buffer.from(cert.publicKey.rawData);
    const keySpki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    if (!certSpki.equals(keySpki)) throw new KeywardError('ca.invalid', 'The private key does not belong to the CA certificate');
    try {
      signingOf(key);
    } catch {
      throw new KeywardError('ca.invalid', `CA keys of type ${keyTypeOf(key)} are not supported (EC P-256/P-384, RSA 2048–4096)`);
    }
    return {
      subject: cert.subject,
      certificatePem: cert.toString('pem') + '\n',
      keyBlob: this.#seal(key),
      keyType: keyTypeOf(key),
      notAfter: cert.notAfter,
    };
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
    return this.#seal(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }));
  }

  unseal(blob: unknown): Uint8Array {
    return new Uint8Array(unprotectKey(this.#kek, blob).export({ format: 'der', type: 'pkcs8' }));
  }

  #stored(r: CaRecord): NewCa {
    return {
      subject: r.subject,
      certificatePem: r.certificatePem.endsWith('\n') ? r.certificatePem : r.certificatePem + '\n',
      keyBlob: r.keyBlob,
      keyType: r.keyType,
      notAfter: r.notAfter,
    };
  }

  async issue(ca: StoredCa, p: IssueParams): Promise<{ der: Uint8Array; pem: string }> {
    const verified = this.#verified.get(p.csr);
    if (verified && p.policy !== undefined && p.crlUrl && p.ocspUrl) {
      // The hot path: the CA domain's lean DER template, signed with node:crypto.
      const out = await issueCertificate({
        ca: this.#context(ca),
        csr: verified,
        policy: this.#policy(p.policy),
        validityDays: p.validityDays,
        subjectOverride: p.subject,
        sansOverride: p.sans,
        serialHex: p.serial,
        now: p.notBefore,
        crlUrl: p.crlUrl,
        ocspUrl: p.ocspUrl,
      });
      return { der: out.der, pem: out.certificatePem };
    }
    return this.#issueWithLibrary(ca, p);
  }

  /** The general path (keys Keyward generated, certificates without CRL/OCSP pointers): @peculiar/x509. */
  async #issueWithLibrary(ca: StoredCa, p: IssueParams): Promise<{ der: Uint8Array; pem: string }> {
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
      ...(p.extendedKeyUsage.length
        ? [
            new x509.ExtendedKeyUsageExtension(
              p.extendedKeyUsage.map((e) => EKU[e]!),
              false,
            ),
          ]
        : []),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, p.subject.length === 0)] : []),
      ...(p.crlUrl ? [new x509.CRLDistributionPointsExtension([p.crlUrl])] : []),
      ...(p.ocspUrl ? [new x509.AuthorityInfoAccessExtension({ ocsp: [p.ocspUrl] })] : []),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: p.serial,
      subject: subjectJson(p.subject),
      issuer: caCert.subjectName,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: signingOf(this.#privateKey(ca)).web,
      extensions,
    });
    const der = new Uint8Array(cert.rawData);
    return { der, pem: toPem(der, 'CERTIFICATE') };
  }

  async crl(ca: StoredCa, entries: readonly RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array> {
    return buildCrl({
      ca: this.#context(ca),
      crlNumber,
      thisUpdate,
      nextUpdate,
      entries: entries.map((e) => ({ serialHex: e.serial, revokedAt: e.revokedAt, reason: e.reason as RevocationReason })),
    });
  }

  async ocsp(ca: StoredCa, requestDer: Uint8Array, lookup: (serialHex: string) => Promise<OcspStatus>, now: Date): Promise<Uint8Array> {
    return answerOcsp(
      this.#context(ca),
      requestDer,
      async (serialHex) => {
        const s = await lookup(serialHex);
        return s.status === 'revoked' ? { status: 'revoked', revokedAt: s.revokedAt, reason: s.reason as RevocationReason } : s;
      },
      now,
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * CAs start two minutes in the past: leaves are back-dated one minute for
 * clients' clock skew, and a leaf must not start before its issuer.
 */
function backdated(now: Date): Date {
  return new Date(now.getTime() - 120_000);
}

/** Our ordered attributes → an x509 JsonName (one attribute per RDN, order kept). */
function subjectJson(subject: readonly DnAttribute[]): x509.JsonName {
  return subject.map((a) => ({ [DN_NAMES[a.type] ?? a.type]: [a.value] }));
}
