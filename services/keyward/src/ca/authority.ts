/**
 * Creating and importing CAs (issue 4 §2): a Keyward root, an issuing CA per
 * realm under it (or under a parent CA the operator imports). Each returns the
 * record to store (certificate, envelope-encrypted key, subject, SKI) and the
 * loaded context, ready to sign.
 *
 * Profiles (RFC 5280 §4.2.1.3, §4.2.1.9):
 * - root: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign (critical), SKI;
 * - issuing: basicConstraints cA with pathLenConstraint 0 (critical), keyUsage
 *   digitalSignature + keyCertSign + cRLSign (critical; digitalSignature because
 *   it signs OCSP responses itself, RFC 6960 §4.2.2.2), SKI, AKI.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';
import { newSerialHex } from '../kernel/ids.ts';
import { signatureAlgorithmFor } from './algorithms.ts';
import { assembleSigned, basicConstraintsOf, keyIdentifier, keyUsageBitsOf } from './certificate.ts';
import { caRecord, certificatesFromPem, loadCa, type CaContext } from './ca_context.ts';
import { children, readOctetAlignedBits, readTlv } from './der/reader.ts';
import { explicit, integerFromHex, sequence, time, tlvOf, TAG } from './der/writer.ts';
import { authorityKeyIdentifier, basicConstraints, keyUsage, subjectKeyIdentifier } from './extensions.ts';
import { generateCaKey, keyTypeOf, type CaKeyType } from './keys.ts';
import { protectKey } from './key_protection.ts';
import { attributeValueProblem, encodeName, type NameAttribute } from './name.ts';
import { KEY_USAGE_BITS } from './oids.ts';
import { toPem } from './pem.ts';
import type { CaRecord, CaSigner } from './ports.ts';
import { localSigner } from './signer.ts';

export interface NewCa {
  /** What to store. */
  readonly record: CaRecord;
  /** The CA, loaded and ready to sign. */
  readonly ca: CaContext;
}

const DAY = 86_400_000;
const VERSION_3 = explicit(0, Buffer.from([TAG.INTEGER, 1, 2]));

const truncate = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

function checkSubject(subject: readonly NameAttribute[]): void {
  if (!Array.isArray(subject) || subject.length === 0) throw new TypeError('a CA needs a non-empty subject');
  for (const a of subject) {
    const problem = attributeValueProblem(a);
    if (problem) throw new TypeError(`CA subject attribute ${a.type} ${problem}`);
  }
}

function publicKeyBitsOf(spki: Uint8Array): Uint8Array {
  const seq = readTlv(spki, 0);
  const [, bits] = children(spki, seq);
  return readOctetAlignedBits(spki, bits!);
}

async function signCaCertificate(o: {
  serialHex: string;
  issuer: { name: Uint8Array; signer: CaSigner; keyId: Uint8Array | undefined };
  subject: readonly NameAttribute[];
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  pathLength: number | undefined;
  usages: readonly (keyof typeof KEY_USAGE_BITS)[];
}): Promise<string> {
  const ski = keyIdentifier(publicKeyBitsOf(o.spki));
  const exts = [basicConstraints(true, o.pathLength), keyUsage(o.usages.map((u) => KEY_USAGE_BITS[u])), subjectKeyIdentifier(ski)];
  if (o.issuer.keyId) exts.push(authorityKeyIdentifier(o.issuer.keyId));
  const tbs = sequence(
    VERSION_3,
    integerFromHex(o.serialHex),
    o.issuer.signer.algorithm.der,
    o.issuer.name,
    sequence(time(o.notBefore), time(o.notAfter)),
    encodeName(o.subject),
    o.spki,
    explicit(3, tlvOf(TAG.SEQUENCE, exts)),
  );
  const signature = await o.issuer.signer.sign(tbs);
  return toPem(assembleSigned(tbs, o.issuer.signer.algorithm.der, signature), 'CERTIFICATE');
}

/**
 * Creates a self-signed root CA.
 * @example
 * const { record, ca } = await createRootCa({ subject: [{ type: 'CN', value: 'Keyward Root CA' }, { type: 'O', value: 'Keyward' }], now: new Date(), kek });
 */
export async function createRootCa(o: {
  readonly subject: readonly NameAttribute[];
  readonly now: Date;
  readonly kek: Uint8Array;
  /** Default EC-P384. */
  readonly keyType?: CaKeyType;
  /** Default 7300 (20 years). */
  readonly validityDays?: number;
  readonly serialHex?: string;
}): Promise<NewCa> {
  checkSubject(o.subject);
  const key = await generateCaKey(o.keyType ?? 'EC-P384');
  const signer = localSigner(key);
  const notBefore = truncate(o.now);
  const certificatePem = await signCaCertificate({
    serialHex: o.serialHex ?? newSerialHex(),
    issuer: { name: encodeName(o.subject), signer, keyId: undefined },
    subject: o.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (o.validityDays ?? 7300) * DAY),
    spki: signer.spki,
    pathLength: undefined,
    usages: ['keyCertSign', 'cRLSign'],
  });
  const ca = loadCa({ certificatePem, chainPem: [] }, signer);
  return { record: caRecord(ca, protectKey(o.kek, key)), ca };
}

/**
 * Creates an issuing CA signed by `parent` (a Keyward root or an imported
 * parent). Its validity ends no later than the parent's.
 * @example
 * const { record, ca } = await createIssuingCa({ parent: root.ca, subject: [{ type: 'CN', value: 'Keyward demo Issuing CA' }], now, kek });
 */
export async function createIssuingCa(o: {
  readonly parent: CaContext;
  readonly subject: readonly NameAttribute[];
  readonly now: Date;
  readonly kek: Uint8Array;
  /** Default EC-P256. */
  readonly keyType?: CaKeyType;
  /** Default 3650 (10 years), capped at the parent's notAfter. */
  readonly validityDays?: number;
  readonly serialHex?: string;
}): Promise<NewCa> {
  checkSubject(o.subject);
  if (o.parent.pathLength === 0) throw new TypeError('the parent CA may not have subordinate CAs (pathLenConstraint 0)');
  const key = await generateCaKey(o.keyType ?? 'EC-P256');
  const signer = localSigner(key);
  const notBefore = truncate(o.now);
  let notAfter = new Date(notBefore.getTime() + (o.validityDays ?? 3650) * DAY);
  if (notAfter > o.parent.notAfter) notAfter = o.parent.notAfter;
  if (notAfter <= notBefore) throw new TypeError('the parent CA has expired');
  const certificatePem = await signCaCertificate({
    serialHex: o.serialHex ?? newSerialHex(),
    issuer: { name: o.parent.der.name, signer: o.parent.signer, keyId: o.parent.subjectKeyId },
    subject: o.subject,
    notBefore,
    notAfter,
    spki: signer.spki,
    pathLength: 0,
    usages: ['digitalSignature', 'keyCertSign', 'cRLSign'],
  });
  const ca = loadCa({ certificatePem, chainPem: [o.parent.certificatePem, ...o.parent.chainPem] }, signer);
  return { record: caRecord(ca, protectKey(o.kek, key)), ca };
}

/**
 * Imports an operator's CA (PEM certificate, optionally followed by its own
 * chain, and an unencrypted PEM private key) to sign Keyward's issuing CAs.
 * @throws KeywardError ca.invalid — not a certificate or key, not a CA, no keyCertSign, a
 *   pathLenConstraint of 0, a key that is not the certificate's, an unsupported key type, or a
 *   certificate not valid at `now`
 */
export function importParentCa(o: {
  readonly certificatePem: string;
  readonly keyPem: string;
  readonly now: Date;
  readonly kek: Uint8Array;
}): NewCa {
  const [first, ...chain] = certificatesFromPem(o.certificatePem);
  const cert = first!.decoded;
  let key: KeyObject;
  try {
    key = createPrivateKey(o.keyPem);
  } catch (err) {
    throw new KeywardError('ca.invalid', 'The CA key is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)', { cause: err });
  }
  const bc = basicConstraintsOf(cert);
  if (!bc?.ca) throw new KeywardError('ca.invalid', 'The certificate is not a CA certificate (basicConstraints cA is not set)');
  if (bc.pathLength === 0) throw new KeywardError('ca.invalid', 'The CA certificate allows no CA below it (pathLenConstraint 0)');
  const ku = keyUsageBitsOf(cert);
  if (ku && !ku.has(KEY_USAGE_BITS.keyCertSign))
    throw new KeywardError('ca.invalid', 'The CA certificate does not allow certificate signing (keyUsage keyCertSign)');
  const certKey = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
  if (!certKey.equals(createPublicKey(key))) throw new KeywardError('ca.invalid', 'The private key does not belong to the CA certificate');
  try {
    signatureAlgorithmFor(keyTypeOf(key));
  } catch {
    throw new KeywardError('ca.invalid', `CA keys of type ${keyTypeOf(key)} are not supported (EC-P256, EC-P384, RSA-2048/3072/4096)`);
  }
  if (o.now < cert.notBefore || o.now > cert.notAfter) {
    throw new KeywardError(
      'ca.invalid',
      `The CA certificate is not valid now (${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()})`,
    );
  }
  const ca = loadCa(
    { certificatePem: toPem(first!.der, 'CERTIFICATE'), chainPem: chain.map((c) => toPem(c.der, 'CERTIFICATE')) },
    localSigner(key),
  );
  return { record: caRecord(ca, protectKey(o.kek, key)), ca };
}
