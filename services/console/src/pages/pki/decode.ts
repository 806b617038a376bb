/**
 * Decodes a PEM certificate in the browser with @peculiar/x509, into the
 * fields `openssl x509 -text` shows. Loaded on demand (its own chunk), so the
 * inventory does not pay for the ASN.1 code.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface DecodedCertificate {
  readonly version: number;
  readonly serialNumber: string;
  readonly signatureAlgorithm: string;
  readonly issuer: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: string;
  readonly sans: string[];
  readonly keyUsage: string[];
  readonly extendedKeyUsage: string[];
  readonly basicConstraints: string | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  readonly crlUrls: string[];
  readonly ocspUrls: string[];
  readonly caIssuerUrls: string[];
  readonly sha256: string;
  readonly extensions: { oid: string; name: string; critical: boolean }[];
}

const KEY_USAGE_NAMES: [number, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'Digital Signature'],
  [x509.KeyUsageFlags.nonRepudiation, 'Non Repudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'Key Encipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'Data Encipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'Key Agreement'],
  [x509.KeyUsageFlags.keyCertSign, 'Certificate Sign'],
  [x509.KeyUsageFlags.cRLSign, 'CRL Sign'],
  [x509.KeyUsageFlags.encipherOnly, 'Encipher Only'],
  [x509.KeyUsageFlags.decipherOnly, 'Decipher Only'],
];
const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'TLS Web Server Authentication (serverAuth)',
  '1.3.6.1.5.5.7.3.2': 'TLS Web Client Authentication (clientAuth)',
  '1.3.6.1.5.5.7.3.3': 'Code Signing',
  '1.3.6.1.5.5.7.3.4': 'E-mail Protection',
  '1.3.6.1.5.5.7.3.8': 'Time Stamping',
  '1.3.6.1.5.5.7.3.9': 'OCSP Signing',
};
const EXTENSION_NAMES: Record<string, string> = {
  '2.5.29.14': 'Subject Key Identifier',
  '2.5.29.15': 'Key Usage',
  '2.5.29.17': 'Subject Alternative Name',
  '2.5.29.19': 'Basic Constraints',
  '2.5.29.31': 'CRL Distribution Points',
  '2.5.29.35': 'Authority Key Identifier',
  '2.5.29.37': 'Extended Key Usage',
  '2.5.29.32': 'Certificate Policies',
  '1.3.6.1.5.5.7.1.1': 'Authority Information Access',
};
const SIG_NAMES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
};

const hexColons = (buf: ArrayBuffer | Uint8Array) =>
  [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

function publicKeyText(cert: x509.X509Certificate): string {
  const alg = cert.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  if (alg.namedCurve) return `EC ${alg.namedCurve} (${alg.namedCurve.replace('P-', '')} bit)`;
  if (alg.modulusLength) return `RSA ${alg.modulusLength} bit`;
  // Without WebCrypto's parse the SPKI algorithm name is all there is.
  return alg.name;
}

function sanText(n: x509.GeneralName): string {
  const label = { dns: 'DNS', ip: 'IP Address', url: 'URI', email: 'email', dn: 'DirName', guid: 'GUID', upn: 'UPN', id: 'Registered ID' }[
    n.type
  ];
  return `${label ?? n.type}:${n.value}`;
}

/** SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` prints it (WebCrypto needs a secure context: HTTPS or localhost). */
async function sha256(der: ArrayBuffer): Promise<string> {
  if (!globalThis.crypto?.subtle) return 'not available (the console is not served over HTTPS)';
  return hexColons(await crypto.subtle.digest('SHA-256', der));
}

export async function decodeCertificate(pem: string): Promise<DecodedCertificate> {
  const cert = new x509.X509Certificate(pem);
  const ext = <T extends x509.Extension>(type: new (raw: BufferSource) => T) => cert.getExtension(type) ?? undefined;
  const san = ext(x509.SubjectAlternativeNameExtension);
  const ku = ext(x509.KeyUsagesExtension);
  const eku = ext(x509.ExtendedKeyUsageExtension);
  const bc = ext(x509.BasicConstraintsExtension);
  const ski = ext(x509.SubjectKeyIdentifierExtension);
  const aki = ext(x509.AuthorityKeyIdentifierExtension);
  const crl = ext(x509.CRLDistributionPointsExtension);
  const aia = ext(x509.AuthorityInfoAccessExtension);
  const crlUrls: string[] = [];
  for (const dp of crl?.distributionPoints ?? []) {
    for (const n of dp.distributionPoint?.fullName ?? []) if (n.uniformResourceIdentifier) crlUrls.push(n.uniformResourceIdentifier);
  }
  let alg: string;
  try {
    const a = cert.signatureAlgorithm as { name: string; hash?: { name: string } };
    alg = a.hash ? `${a.name} with ${a.hash.name}` : a.name;
  } catch {
    alg = 'unknown';
  }
  return {
    version: 3,
    serialNumber: cert.serialNumber.toLowerCase(),
    signatureAlgorithm: SIG_NAMES[alg] ?? alg,
    issuer: cert.issuer,
    subject: cert.subject,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    publicKey: publicKeyText(cert),
    sans: san ? san.names.items.map(sanText) : [],
    keyUsage: ku ? KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, n]) => n) : [],
    extendedKeyUsage: eku ? eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)) : [],
    basicConstraints: bc ? `CA:${bc.ca ? 'TRUE' : 'FALSE'}${bc.pathLength !== undefined ? `, pathlen:${bc.pathLength}` : ''}` : undefined,
    subjectKeyId: ski ? ski.keyId.toUpperCase().replace(/(..)(?!$)/g, '$1:') : undefined,
    authorityKeyId: aki?.keyId ? aki.keyId.toUpperCase().replace(/(..)(?!$)/g, '$1:') : undefined,
    crlUrls,
    ocspUrls: (aia?.ocsp ?? []).map((n) => n.value),
    caIssuerUrls: (aia?.caIssuers ?? []).map((n) => n.value),
    sha256: await sha256(cert.rawData),
    extensions: cert.extensions.map((e) => ({ oid: e.type, name: EXTENSION_NAMES[e.type] ?? e.type, critical: e.critical })),
  };
}
