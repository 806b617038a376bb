/**
 * The certificate a device pushes, checked before anything is stored
 * (bad input is refused with a precise code): it must parse, be within its
 * validity, not be a CA, carry a key of sensible strength, and come with a
 * short chain. The alias rules of IBM SKLM's pending client certificates
 * live here too.
 */
import { X509Certificate } from 'node:crypto';
import { decodeCertificate } from '../ca/certificate.ts';
import { formatName, type NameAttribute } from '../ca/name.ts';
import { pemBlocks, toPem } from '../ca/pem.ts';
import { fingerprintOf } from '../client_cert/client_certificates.ts';
import { KeywardError } from '../kernel/errors.ts';
import type { DeviceCertificate } from './ports.ts';

/** A pushed chain may hold the device certificate and at most three issuers. */
export const MAX_CHAIN_CERTIFICATES = 4;
/** …and at most this many bytes of DER in all. */
export const MAX_CHAIN_BYTES = 32_768;
/** Clock skew tolerated on a pushed certificate's notBefore. */
const SKEW_MS = 5 * 60_000;

const malformed = (detail: string, cause?: unknown) =>
  new KeywardError('device.certificate_malformed', detail, cause === undefined ? {} : { cause });

/** Checks the size of a chain (device certificate first), before any parsing. */
export function checkChainSize(ders: readonly Uint8Array[]): void {
  const bytes = ders.reduce((n, d) => n + d.length, 0);
  if (ders.length > MAX_CHAIN_CERTIFICATES || bytes > MAX_CHAIN_BYTES) {
    throw new KeywardError(
      'device.chain_too_large',
      `A device may push at most ${MAX_CHAIN_CERTIFICATES} certificates and ${MAX_CHAIN_BYTES} bytes ` +
        `(got ${ders.length} certificates, ${bytes} bytes)`,
      {
        extras: { maxCertificates: MAX_CHAIN_CERTIFICATES, maxBytes: MAX_CHAIN_BYTES },
      },
    );
  }
}

/**
 * The certificates of an upload: PEM text (one or more CERTIFICATE blocks,
 * the device's first) or one DER certificate.
 */
export function uploadedChain(body: string | Uint8Array): Uint8Array[] {
  if (typeof body !== 'string') {
    if (body.length === 0) throw malformed('The body is empty: send the device certificate as PEM (or DER as application/pkix-cert)');
    if (body[0] === 0x30) return [body];
    body = Buffer.from(body).toString('utf8');
  }
  const blocks = pemBlocks(body, /CERTIFICATE/);
  if (blocks.length === 0) throw malformed('The body holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (blocks.some((b) => b === undefined)) throw malformed('A PEM certificate block does not hold valid base64');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(body))
    throw malformed('The body holds a private key: push only the certificate; the key never leaves the device');
  return blocks as Uint8Array[];
}

const RFC2253_KEYWORDS: Readonly<Record<string, string>> = {
  CN: 'CN',
  C: 'C',
  L: 'L',
  ST: 'ST',
  O: 'O',
  OU: 'OU',
  DC: 'DC',
  emailAddress: 'EMAILADDRESS',
  serialNumber: 'SERIALNUMBER',
  '0.9.2342.19200300.100.1.1': 'UID',
  '2.5.4.9': 'STREET',
};
const escape2253 = (v: string): string =>
  v
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');

/**
 * A subject in RFC 2253 form, as Java's X500Principal renders it and
 * Keycloak's `client-x509` authenticator compares it: last RDN first, no
 * spaces after commas (`O=Acme,CN=device-7`).
 */
export function rfc2253(attributes: readonly NameAttribute[]): string {
  return [...attributes]
    .reverse()
    .map((a) => `${RFC2253_KEYWORDS[a.type] ?? a.type}=${escape2253(a.value)}`)
    .join(',');
}

/**
 * Validates a device certificate and describes it for storage.
 * @throws 400 `device.certificate_malformed`, 422 `device.certificate_expired`,
 *   `device.certificate_is_ca`, `device.certificate_weak_key`
 */
export function deviceCertificate(der: Uint8Array, now: Date): DeviceCertificate {
  let x: X509Certificate;
  try {
    x = new X509Certificate(der);
  } catch (err) {
    throw malformed('The device certificate is not an X.509 certificate', err);
  }
  const notBefore = new Date(x.validFrom);
  const notAfter = new Date(x.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw malformed('The device certificate has an unreadable validity');
  if (notAfter <= now)
    throw new KeywardError('device.certificate_expired', `The device certificate expired on ${notAfter.toISOString()}`, {
      extras: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() },
    });
  if (notBefore.getTime() > now.getTime() + SKEW_MS) {
    throw new KeywardError('device.certificate_expired', `The device certificate is not valid before ${notBefore.toISOString()}`, {
      extras: { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() },
    });
  }
  if (x.ca)
    throw new KeywardError(
      'device.certificate_is_ca',
      'The certificate is a CA certificate (basicConstraints cA is set): a device pushes its own end-entity certificate',
    );
  const key = x.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && (bits ?? 0) < 2048) {
    throw new KeywardError(
      'device.certificate_weak_key',
      `The device certificate has an RSA key of ${bits} bits; at least 2048 are required`,
    );
  }
  if (!['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448'].includes(key.asymmetricKeyType ?? '')) {
    throw new KeywardError(
      'device.certificate_weak_key',
      `The device certificate's key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (RSA ≥ 2048, EC, Ed25519, Ed448)`,
    );
  }
  const lines = (s: string) => s.split('\n').filter(Boolean);
  let subject: string;
  let subjectRfc2253: string;
  try {
    const decoded = decodeCertificate(der);
    subject = formatName(decoded.subject);
    subjectRfc2253 = rfc2253(decoded.subject);
  } catch {
    // Not v3 (the CA domain reads only v3): fall back to node's rendering.
    subject = lines(x.subject).join(', ');
    subjectRfc2253 = lines(x.subject).reverse().join(',');
  }
  if (!subject) throw malformed("The device certificate has an empty subject: Keycloak's X.509 client authenticator needs one");
  return {
    fingerprint: fingerprintOf(der),
    certificatePem: toPem(new Uint8Array(x.raw), 'CERTIFICATE'),
    subject,
    issuer: lines(x.issuer).join(', '),
    serial: x.serialNumber.toLowerCase(),
    notBefore,
    notAfter,
    subjectRfc2253,
  };
}

/** `AB:CD:…` as people compare fingerprints. */
export const colonHex = (hex: string): string => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

const RESERVED_ALIAS = /^[A-Za-z]{3}[0-9]{18}$/;

/**
 * IBM SKLM's alias rules: not case-sensitive, stored lower-case (`MY Cert1`
 * → `my cert1`); no `/` or `\`; not three letters followed by 18 digits
 * (the form key groups use, e.g. `aaa000000000000000002`).
 * @throws 400 `device.alias_invalid`
 */
export function normalizeAlias(input: unknown): string {
  if (typeof input !== 'string') throw new KeywardError('device.alias_invalid', 'alias must be a string', { extras: { field: '/alias' } });
  const alias = input.trim().toLowerCase();
  const refuse = (why: string) =>
    new KeywardError('device.alias_invalid', `The alias "${input.slice(0, 100)}" ${why}`, { extras: { field: '/alias' } });
  if (alias.length === 0) throw refuse('is empty');
  if ([...alias].length > 128) throw refuse('is longer than 128 characters');
  if (/[/\\]/.test(alias)) throw refuse('contains a forward slash or backslash');
  if (RESERVED_ALIAS.test(alias)) throw refuse('has the reserved form of three letters followed by 18 digits (used for key groups)');
  if (/[\u0000-\u001f\u007f]/.test(alias)) throw refuse('contains control characters');
  return alias;
}

/**
 * The device client's clientId: the alias with every run of characters
 * other than `a-z 0-9 . _ -` turned into one `-` (`my cert1` → `my-cert1`).
 */
export function clientIdForAlias(alias: string): string {
  const id = alias
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, 64);
  if (!id) return 'device';
  return id.startsWith('keyward-') ? `device-${id}` : id; // keyward-* names belong to Keyward's own clients
}

/** Device groups and roles become Keycloak group names. */
const GROUP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export function checkGroupName(value: unknown, field: 'deviceGroup' | 'deviceRole'): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !GROUP.test(value)) {
    throw new KeywardError('request.malformed', `${field} must be 1 to 64 letters, digits, "_", "." or "-" (e.g. PEER_TO_PEER)`, {
      extras: { field: `/${field}` },
    });
  }
  return value;
}

/** `CERTIFICATE-<uuid>` ↔ row id. */
export const UUID_PREFIX = 'CERTIFICATE-';
export const renderUuid = (id: string): string => `${UUID_PREFIX}${id}`;
export function parseUuid(uuid: string): string | undefined {
  const m = /^CERTIFICATE-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(uuid.trim());
  return m ? m[1]!.toLowerCase() : undefined;
}
