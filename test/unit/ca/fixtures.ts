/**
 * Fixtures for the CA specifications: openssl as a real client uses it, a
 * frozen clock, a fixed key-encryption key, test CAs per key type (made once
 * per run), policies, and @peculiar/x509 set up as the reference
 * implementation the fast paths are held to.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its providers through tsyringe, which needs this first
import * as x509 from '@peculiar/x509';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createIssuingCa,
  createRootCa,
  parsePolicy,
  unprotectKey,
  type CaContext,
  type CaKeyType,
  type CaRecord,
  type Policy,
  sealedBlobOf,
} from '../../../services/keyward/src/ca/index.ts';
import { KeywardError, type ErrorCode } from '../../../services/keyward/src/kernel/errors.ts';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
export { x509 };

/** The frozen clock of these specifications. */
export const NOW = new Date('2026-03-01T12:00:00.000Z');
export const DAY = 86_400_000;
export const KEK = Buffer.alloc(32, 7);
export const CRL_URL = 'http://keyward.test/v1/realms/demo/crl';
export const OCSP_URL = 'http://keyward.test/v1/ocsp';

// ------------------------------------------------------------------ openssl

export function openssl(args: readonly string[], input?: string | Uint8Array): string {
  const r = spawnSync('openssl', args, {
    input: input === undefined ? undefined : Buffer.from(input),
    timeout: 60_000,
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString('latin1') + r.stderr.toString('latin1');
}

/** openssl's exit code and output together, for commands expected to fail. */
export function opensslStatus(args: readonly string[]): { status: number; output: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, output: r.stdout + r.stderr };
}

/** A temporary directory, made on first use (suites skipped by --grep leave nothing behind). */
export class Workdir {
  #path: string | undefined;
  get path(): string {
    this.#path ??= mkdtempSync(join(tmpdir(), 'keyward-ca-'));
    return this.#path;
  }
  file(name: string, content: string | Uint8Array): string {
    const p = join(this.path, name);
    writeFileSync(p, content);
    return p;
  }
  read(name: string): Buffer {
    return readFileSync(join(this.path, name));
  }
  at(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    if (this.#path) rmSync(this.#path, { recursive: true, force: true });
    this.#path = undefined;
  }
}

export interface CsrOptions {
  /** `ec:P-256`, `ec:P-384`, `ec:P-521`, `ec:secp256k1`, `rsa:2048`, `ed25519`, or a PEM private key. */
  readonly key?: string;
  readonly subject?: string;
  readonly sans?: readonly string[];
  readonly digest?: string;
  readonly extra?: readonly string[];
}

let csrCount = 0;

/** A CSR made by `openssl req`; returns its PEM and the key file. */
export function opensslCsr(dir: Workdir, o: CsrOptions = {}): { pem: string; keyFile: string } {
  const n = ++csrCount;
  const key = o.key ?? 'ec:P-256';
  const keyFile = dir.at(`k${n}.pem`);
  if (key.startsWith('-----BEGIN')) writeFileSync(keyFile, key);
  else if (key.startsWith('ec:'))
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key.slice(3)}`, '-out', keyFile]);
  else if (key.startsWith('rsa:'))
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.slice(4)}`, '-out', keyFile]);
  else openssl(['genpkey', '-algorithm', key, '-out', keyFile]);
  const out = dir.at(`r${n}.csr`);
  const args = ['req', '-new', '-key', keyFile, '-subj', o.subject ?? '/CN=api.apps.example.internal', '-out', out];
  if (o.sans?.length) args.push('-addext', `subjectAltName=${o.sans.join(',')}`);
  if (o.digest) args.push(`-${o.digest}`);
  args.push(...(o.extra ?? []));
  openssl(args);
  return { pem: readFileSync(out, 'utf8'), keyFile };
}

/** A private key PEM made by node (for keys openssl's genpkey will not make, e.g. exponent 3). */
export function rsaKeyPem(modulusLength: number, publicExponent = 65537): string {
  return generateKeyPairSync('rsa', { modulusLength, publicExponent }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export const pemToDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

// ------------------------------------------------------------------ CAs

export interface TestCas {
  readonly root: CaContext;
  readonly rootRecord: CaRecord;
  readonly issuing: CaContext;
  readonly issuingRecord: CaRecord;
  readonly issuingKey: KeyObject;
  readonly rootKey: KeyObject;
}

const cas = new Map<string, Promise<TestCas>>();

/** A root (EC-P384) and an issuing CA of the given key type under it, made once per run. */
export function testCas(issuingKeyType: CaKeyType = 'EC-P256', rootKeyType: CaKeyType = 'EC-P384'): Promise<TestCas> {
  const key = `${rootKeyType}/${issuingKeyType}`;
  let p = cas.get(key);
  if (!p) {
    p = (async () => {
      const root = await createRootCa({
        subject: [
          { type: 'CN', value: `Test Root ${rootKeyType}` },
          { type: 'O', value: 'Keyward Tests' },
        ],
        keyType: rootKeyType,
        now: new Date(NOW.getTime() - DAY),
        kek: KEK,
      });
      const issuing = await createIssuingCa({
        parent: root.ca,
        subject: [
          { type: 'CN', value: `Test Issuing ${issuingKeyType}` },
          { type: 'O', value: 'Keyward Tests' },
          { type: 'C', value: 'DE' },
        ],
        keyType: issuingKeyType,
        now: new Date(NOW.getTime() - DAY),
        kek: KEK,
      });
      return {
        root: root.ca,
        rootRecord: root.record,
        issuing: issuing.ca,
        issuingRecord: issuing.record,
        issuingKey: unprotectKey(KEK, sealedBlobOf(issuing.record.key)),
        rootKey: unprotectKey(KEK, sealedBlobOf(root.record.key)),
      };
    })();
    cas.set(key, p);
  }
  return p;
}

/** WebCrypto signing parameters for a node key, for @peculiar/x509's generators. */
export function webSigning(key: KeyObject): { key: Promise<CryptoKey>; algorithm: Algorithm | EcdsaParams } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails!.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    const hash = curve === 'P-384' ? 'SHA-384' : 'SHA-256';
    return {
      key: key.toCryptoKey({ name: 'ECDSA', namedCurve: curve }, false, ['sign']) as unknown as Promise<CryptoKey>,
      algorithm: { name: 'ECDSA', hash } as EcdsaParams,
    };
  }
  return {
    key: key.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']) as unknown as Promise<CryptoKey>,
    algorithm: { name: 'RSASSA-PKCS1-v1_5' },
  };
}

// ------------------------------------------------------------------ policies

export const POLICY_DOCUMENT = {
  keyTypes: ['EC-P256', 'EC-P384', 'RSA-2048', 'RSA-3072'],
  maxValidityDays: 90,
  subject: { required: ['CN'], allowed: ['CN', 'O', 'OU', 'C', 'ST', 'L', 'serialNumber', 'emailAddress', 'DC'] },
  san: {
    dns: ['*.apps.example.internal', 'api.example.internal'],
    ip: ['10.0.0.0/8', 'fd00::/8'],
    uri: ['spiffe://example.internal/*'],
    email: ['@example.internal'],
  },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
} as const;

export function policy(overrides: Record<string, unknown> = {}): Policy {
  return parsePolicy({ ...structuredClone(POLICY_DOCUMENT), ...overrides });
}

// ------------------------------------------------------------------ assertions

/** Asserts that `fn` throws a KeywardError with this code (and these extras, when given). */
export function expectCode(fn: () => unknown, code: ErrorCode, extras?: Record<string, unknown>): KeywardError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(KeywardError);
    expect((err as KeywardError).code, (err as Error).message).to.equal(code);
    if (extras) expect((err as KeywardError).extras).to.deep.include(extras);
    return err as KeywardError;
  }
  return expect.fail(`expected ${code}, but nothing was thrown`);
}

export async function expectCodeAsync(
  fn: () => Promise<unknown>,
  code: ErrorCode,
  extras?: Record<string, unknown>,
): Promise<KeywardError> {
  try {
    await fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(KeywardError);
    expect((err as KeywardError).code, (err as Error).message).to.equal(code);
    if (extras) expect((err as KeywardError).extras).to.deep.include(extras);
    return err as KeywardError;
  }
  return expect.fail(`expected ${code}, but nothing was resolved`);
}
