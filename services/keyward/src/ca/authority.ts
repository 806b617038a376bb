/**
 * Creating and importing CAs: a Keyward root, an issuing CA per realm under it
 * (or under a parent CA the operator imports). Each returns the record to
 * store (certificate, envelope-encrypted key, subject, SKI) and the loaded
 * context, ready to sign. The certificates are written by ./sign.ts from the
 * rootCa and issuingCa profiles (./profiles.ts).
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { KeywardError } from '../kernel/errors.ts';
import { newSerialHex } from '../kernel/ids.ts';
import { signatureAlgorithmFor } from './algorithms.ts';
import { basicConstraintsOf, keyUsageBitsOf } from './certificate.ts';
import { caRecord, certificatesFromPem, loadCa, type CaContext } from './ca_context.ts';
import { sealedKeyStore } from './key_store.ts';
import { keyTypeOf, samePublicKey, spkiOf, type CaKeyType } from './keys.ts';
import { protectKey } from './key_protection.ts';
import { attributeValueProblem, type NameAttribute } from './name.ts';
import { KEY_USAGE_BITS } from './oids.ts';
import { toPem } from './pem.ts';
import type { CaKeyStore, CaRecord } from './ports.ts';
import { PROFILES } from './profiles.ts';
import { signCertificate } from './sign.ts';
import { localSigner } from './signer.ts';

/** A CA just made or imported. */
export interface NewCa {
  /** What to store. */
  readonly record: CaRecord;
  /** The CA, loaded and ready to sign. */
  readonly ca: CaContext;
}

const DAY = 86_400_000;

/**
 * The least lifetime an imported parent must have left: an issuing CA below
 * it ends when the parent does, and so does every leaf.
 */
export const MIN_PARENT_LIFETIME_DAYS = 30;

/** The private key among PEM blocks (PKCS#8, PKCS#1 or SEC1), skipping openssl's EC PARAMETERS block. */
const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

const truncate = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

/**
 * Where a new CA key is made: `keys` (with the CA's `id`, which an HSM key is
 * labelled with), or, given only `kek`, in this process, sealed under it.
 */
interface KeyPlace {
  readonly kek?: Uint8Array;
  readonly keys?: CaKeyStore;
  /** The CA's id (default: a random one): the label and id of an HSM key. */
  readonly id?: string;
}

function newCaKey(o: KeyPlace, keyType: CaKeyType) {
  const keys = o.keys ?? (o.kek ? sealedKeyStore(o.kek) : undefined);
  if (!keys) throw new TypeError('a new CA needs a key store or a key-encryption key');
  return keys.generate({ id: o.id ?? randomUUID(), keyType });
}

function checkSubject(subject: readonly NameAttribute[]): void {
  if (!Array.isArray(subject) || subject.length === 0) throw new TypeError('a CA needs a non-empty subject');
  for (const a of subject) {
    const problem = attributeValueProblem(a);
    if (problem) throw new TypeError(`CA subject attribute ${a.type} ${problem}`);
  }
}

/**
 * Creates a self-signed root CA.
 * @example
 * const subject = [{ type: 'CN', value: 'Keyward Root CA' }, { type: 'O', value: 'Keyward' }];
 * const { record, ca } = await createRootCa({ subject, now: new Date(), kek });
 */
export async function createRootCa(
  o: KeyPlace & {
    readonly subject: readonly NameAttribute[];
    readonly now: Date;
    /** Default EC-P384. */
    readonly keyType?: CaKeyType;
    /** Default 7300 (20 years). */
    readonly validityDays?: number;
    readonly serialHex?: string;
  },
): Promise<NewCa> {
  checkSubject(o.subject);
  const { signer, ref } = await newCaKey(o, o.keyType ?? 'EC-P384');
  const notBefore = truncate(o.now);
  const { pem: certificatePem } = await signCertificate({
    issuer: { selfSigned: signer },
    profile: PROFILES.rootCa,
    subject: o.subject,
    spki: signer.spki,
    serialHex: o.serialHex ?? newSerialHex(),
    notBefore,
    notAfter: new Date(notBefore.getTime() + (o.validityDays ?? 7300) * DAY),
  });
  const ca = loadCa({ certificatePem, chainPem: [] }, signer);
  return { record: caRecord(ca, ref), ca };
}

/**
 * Creates an issuing CA signed by `parent` (a Keyward root or an imported
 * parent). Its validity ends no later than the parent's.
 * @example
 * const { record, ca } = await createIssuingCa({ parent: root.ca, subject: [{ type: 'CN', value: 'Keyward demo Issuing CA' }], now, kek });
 */
export async function createIssuingCa(
  o: KeyPlace & {
    readonly parent: CaContext;
    readonly subject: readonly NameAttribute[];
    readonly now: Date;
    /** Default EC-P256. */
    readonly keyType?: CaKeyType;
    /** Default 3650 (10 years), capped at the parent's notAfter. */
    readonly validityDays?: number;
    readonly serialHex?: string;
  },
): Promise<NewCa> {
  checkSubject(o.subject);
  if (o.parent.pathLength === 0) throw new TypeError('the parent CA may not have subordinate CAs (pathLenConstraint 0)');
  const notBefore = truncate(o.now);
  let notAfter = new Date(notBefore.getTime() + (o.validityDays ?? 3650) * DAY);
  if (notAfter > o.parent.notAfter) notAfter = o.parent.notAfter;
  if (notAfter <= notBefore) throw new TypeError('the parent CA has expired');
  const { signer, ref } = await newCaKey(o, o.keyType ?? 'EC-P256');
  const { pem: certificatePem } = await signCertificate({
    issuer: o.parent,
    profile: PROFILES.issuingCa,
    subject: o.subject,
    spki: signer.spki,
    serialHex: o.serialHex ?? newSerialHex(),
    notBefore,
    notAfter,
  });
  const ca = loadCa({ certificatePem, chainPem: [o.parent.certificatePem, ...o.parent.chainPem] }, signer);
  return { record: caRecord(ca, ref), ca };
}

/**
 * Imports an operator's CA (PEM certificate, optionally followed by its own
 * chain, and an unencrypted PEM private key) to sign Keyward's issuing CAs.
 * The key may be PKCS#8 or a traditional PKCS#1 / SEC1 PEM key, as `openssl
 * req -newkey`, `openssl genrsa` and `openssl ecparam -genkey` write them
 * (the latter's EC PARAMETERS block is skipped).
 * @example const { record, ca } = importParentCa({ certificatePem, keyPem, now: clock.now(), kek });
 * @throws KeywardError ca.malformed (400) — the certificate or key cannot be read;
 *   ca.invalid (422) — not a CA, no keyCertSign, a pathLenConstraint of 0, a key that is not the certificate's, an unsupported key type, a
 *   certificate not valid at `now`, or one that ends in less than MIN_PARENT_LIFETIME_DAYS
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
    key = createPrivateKey(PRIVATE_KEY_BLOCK.exec(o.keyPem)?.[0] ?? o.keyPem);
  } catch (err) {
    throw new KeywardError('ca.malformed', 'The CA key is not an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)', { cause: err });
  }
  const bc = basicConstraintsOf(cert);
  if (!bc?.ca) throw new KeywardError('ca.invalid', 'The certificate is not a CA certificate (basicConstraints cA is not set)');
  if (bc.pathLength === 0) throw new KeywardError('ca.invalid', 'The CA certificate allows no CA below it (pathLenConstraint 0)');
  const ku = keyUsageBitsOf(cert);
  if (ku && !ku.has(KEY_USAGE_BITS.keyCertSign))
    throw new KeywardError('ca.invalid', 'The CA certificate does not allow certificate signing (keyUsage keyCertSign)');
  if (!samePublicKey(cert.spki, spkiOf(key))) throw new KeywardError('ca.invalid', 'The private key does not belong to the CA certificate');
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
  if (cert.notAfter.getTime() - o.now.getTime() < MIN_PARENT_LIFETIME_DAYS * DAY) {
    throw new KeywardError(
      'ca.invalid',
      `The CA certificate expires on ${cert.notAfter.toISOString()}; a parent CA needs at least ${MIN_PARENT_LIFETIME_DAYS} days left`,
    );
  }
  const ca = loadCa(
    { certificatePem: toPem(first!.der, 'CERTIFICATE'), chainPem: chain.map((c) => toPem(c.der, 'CERTIFICATE')) },
    localSigner(key),
  );
  return { record: caRecord(ca, { store: 'sealed', blob: protectKey(o.kek, key) }), ca };
}
