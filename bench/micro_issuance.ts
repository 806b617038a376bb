/**
 * Micro-benchmark of the issuance hot path, one process, one core:
 *
 *   node bench/micro_issuance.ts [--seconds 2]
 *
 * Prints ops/s for the crypto floor (raw
 * node:crypto P-256 sign and verify, CSR verify + certificate sign), Keyward's
 * fast path (parseCsr + issueCertificate, with P-256 and RSA-2048 CAs) and
 * @peculiar/x509's generator doing the same work, plus CRL and OCSP figures.
 * Figures that are compared are measured interleaved (each round gives each a
 * time slice in turn) and ratios are medians of per-round ratios, so load from
 * other processes on the machine skews them less.
 * It only prints; bench/run.ts is the full harness with targets and results files.
 */
import 'reflect-metadata'; // @peculiar/x509 needs it before it loads
import * as x509 from '@peculiar/x509';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, webcrypto, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  answerOcsp,
  buildCrl,
  createIssuingCa,
  createRootCa,
  issueCertificate,
  parseCsr,
  parsePolicy,
  unprotectKey,
  REVOCATION_REASONS,
  type CaContext,
  type CaKeyType,
  type RevokedCertificate,
  sealedBlobOf,
} from '../services/keyward/src/ca/index.ts';
import { children, readRoot, whole } from '../services/keyward/src/ca/der/reader.ts';
import { explicit, oid, octetString, sequence, integerFromHex, NULL } from '../services/keyward/src/ca/der/writer.ts';
import { newSerialHex } from '../services/keyward/src/kernel/ids.ts';

x509.cryptoProvider.set(webcrypto as never);

const at = process.argv.indexOf('--seconds');
const SECONDS = at > 0 ? Number(process.argv[at + 1]) : 2;
const RUNS = 3;
const NOW = new Date();
const KEK = randomBytes(32);
const CRL_URL = 'http://keyward.bench/v1/realms/bench/crl';
const OCSP_URL = 'http://keyward.bench/v1/ocsp';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function warm(fn: () => unknown): Promise<void> {
  for (let i = 0; i < 200; i++) await fn();
}

async function slice(fn: () => unknown, ms: number): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Measures several functions interleaved: each round gives every function a
 * slice of time in turn, so a neighbour's load shifts all figures of a round
 * alike. Returns the median ops/s of each, and the per-round samples (ratios
 * are taken within a round).
 */
async function interleaved(fns: readonly (() => unknown)[], rounds = RUNS * 3): Promise<{ medians: number[]; samples: number[][] }> {
  for (const fn of fns) await warm(fn);
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, fn] of fns.entries()) samples[i]!.push(await slice(fn, (SECONDS * 1000) / rounds));
  }
  return { medians: samples.map(median), samples };
}

async function opsPerSecond(fn: () => unknown): Promise<number> {
  return (await interleaved([fn], RUNS)).medians[0]!;
}

/** Median over rounds of a[i] / b[i]. */
const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]!));

const results: Array<{ name: string; value: number; unit: string; note?: string }> = [];
function report(name: string, value: number, unit = 'ops/s', note?: string): number {
  results.push({ name, value, unit, ...(note ? { note } : {}) });
  process.stdout.write(`${name.padEnd(58)} ${String(Math.round(value)).padStart(8)} ${unit}${note ? `   ${note}` : ''}\n`);
  return value;
}

// ------------------------------------------------------------------ fixtures

const POLICY = parsePolicy({
  keyTypes: ['EC-P256', 'RSA-2048'],
  maxValidityDays: 90,
  subject: { required: ['CN'], allowed: ['CN', 'O'] },
  san: { dns: ['*.apps.example.internal'], ip: ['10.0.0.0/8'], uri: ['spiffe://example.internal/*'], email: [] },
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsage: ['serverAuth', 'clientAuth'],
  approval: 'none',
});

async function makeCsr(): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=api.apps.example.internal, O=Example',
    keys: keys as never,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'api.apps.example.internal' },
        { type: 'ip', value: '10.1.2.3' },
        { type: 'url', value: 'spiffe://example.internal/ns/a/sa/b' },
      ]),
    ],
  });
  return req.toString('pem');
}

async function makeCa(keyType: CaKeyType): Promise<{ ca: CaContext; key: KeyObject }> {
  const root = await createRootCa({ subject: [{ type: 'CN', value: 'Bench Root' }], keyType: 'EC-P384', now: NOW, kek: KEK });
  const issuing = await createIssuingCa({
    parent: root.ca,
    subject: [{ type: 'CN', value: `Bench Issuing ${keyType}` }],
    keyType,
    now: NOW,
    kek: KEK,
  });
  return { ca: issuing.ca, key: unprotectKey(KEK, sealedBlobOf(issuing.record.key)) };
}

/** The obvious implementation with the library: parse, verify, build, sign, PEM. */
async function libraryIssue(
  csrPem: string,
  caCert: x509.X509Certificate,
  signingKey: webcrypto.CryptoKey,
  alg: webcrypto.EcdsaParams | webcrypto.Algorithm,
): Promise<string> {
  const req = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await req.verify())) throw new Error('CSR does not verify');
  const san = req.extensions.find((e) => e.type === '2.5.29.17');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerialHex(),
    subject: req.subjectName,
    issuer: caCert.subjectName,
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 30 * 86_400_000),
    publicKey: req.publicKey,
    signingKey: signingKey as never,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(req.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ...(san ? [new x509.SubjectAlternativeNameExtension(san.rawData)] : []),
      new x509.CRLDistributionPointsExtension([CRL_URL]),
      new x509.AuthorityInfoAccessExtension({ ocsp: [OCSP_URL] }),
    ],
  });
  return cert.toString('pem');
}

// ------------------------------------------------------------------ run

process.stdout.write(
  `Keyward issuance micro-benchmark — node ${process.version}, one core, ${SECONDS}s per figure; related figures are measured ` +
    `interleaved, medians of the rounds\n\n`,
);
const csrPem = await makeCsr();
const csr = parseCsr(csrPem);
const p256 = await makeCa('EC-P256');
const rsa = await makeCa('RSA-2048');

// the floor: raw signatures, then what any CA must do per certificate (verify the CSR, sign the certificate)
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const tbs = randomBytes(620); // about the size of a leaf TBSCertificate
const ecSig = sign('sha256', tbs, ec.privateKey);
const csrRoot = readRoot(csr.der, 0x30);
const [info, , sigTlv] = children(csr.der, csrRoot);
const csrTbs = whole(csr.der, info!);
const csrSig = csr.der.subarray(sigTlv!.body + 1, sigTlv!.end);
const csrKey = createPublicKey({ key: Buffer.from(csr.spki), format: 'der', type: 'spki' });

const raw = await interleaved(
  [
    () => sign('sha256', tbs, ec.privateKey),
    () => verify('sha256', tbs, ec.publicKey, ecSig),
    () => sign('sha256', tbs, rsaKey.privateKey),
  ],
  RUNS * 2,
);
const signP256 = report('node:crypto ECDSA P-256 sign', raw.medians[0]!);
const verifyP256 = report('node:crypto ECDSA P-256 verify', raw.medians[1]!);
report('node:crypto RSA-2048 sign', raw.medians[2]!);
const request = (ca: CaContext, c = csr) => ({
  ca,
  csr: c,
  policy: POLICY,
  validityDays: 30,
  serialHex: newSerialHex(),
  now: NOW,
  crlUrl: CRL_URL,
  ocspUrl: OCSP_URL,
});
const caCert = new x509.X509Certificate(p256.ca.certificatePem);
const webKey = (await p256.key.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as unknown as webcrypto.CryptoKey;

const p256Run = await interleaved([
  () => {
    // the floor: what any CA must do per certificate
    verify('sha256', csrTbs, csrKey, csrSig);
    sign('sha256', tbs, p256.key);
  },
  () => {
    // the floor, loading the CSR's key as a real request must
    verify('sha256', csrTbs, createPublicKey({ key: Buffer.from(csr.spki), format: 'der', type: 'spki' }), csrSig);
    sign('sha256', tbs, p256.key);
  },
  () => parseCsr(csrPem),
  () => issueCertificate(request(p256.ca)),
  () => issueCertificate(request(p256.ca, parseCsr(csrPem))),
]);
const [floor, floorLoad, parse, issueOnly, fast] = p256Run.medians as [number, number, number, number, number];
// The library path is measured on its own: its garbage would land in the slices of the others.
const slow = await opsPerSecond(() => libraryIssue(csrPem, caCert, webKey, { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams));
report('floor: CSR verify + certificate sign (P-256 CA)', floor);
report('floor + loading the CSR key (createPublicKey)', floorLoad);
process.stdout.write('\n');
report('Keyward parseCsr (decode + proof of possession)', parse);
report('Keyward issueCertificate, CSR already parsed (P-256 CA)', issueOnly);
report('Keyward parseCsr + issueCertificate (P-256 CA)', fast);
report('@peculiar/x509: parse + verify + generator + PEM (P-256 CA)', slow);

const rsaRun = await interleaved(
  [
    () => {
      verify('sha256', csrTbs, csrKey, csrSig);
      sign('sha256', tbs, rsa.key);
    },
    () => issueCertificate(request(rsa.ca, parseCsr(csrPem))),
  ],
  RUNS * 2,
);
report('floor: CSR verify + certificate sign (RSA-2048 CA)', rsaRun.medians[0]!);
report('Keyward parseCsr + issueCertificate (RSA-2048 CA)', rsaRun.medians[1]!);

process.stdout.write('\n');
const [sFloor, , , , sFast] = p256Run.samples as [number[], number[], number[], number[], number[]];
report('fast path / floor (P-256 CA), per-round median', ratio(sFast, sFloor) * 100, '%', 'target ≥ 50 %');
report('fast path / floor with key loading (P-256 CA)', ratio(sFast, p256Run.samples[1]!) * 100, '%');
report('fast path / floor (RSA-2048 CA)', ratio(rsaRun.samples[1]!, rsaRun.samples[0]!) * 100, '%');
report('fast path / @peculiar/x509 path', fast / slow, '×');
report('floor from the raw figures: 1 / (1/sign + 1/verify)', 1 / (1 / signP256 + 1 / verifyP256));

// revocation status
process.stdout.write('\n');
const entries: RevokedCertificate[] = Array.from({ length: 100_000 }, (_, i) => ({
  serialHex: newSerialHex(),
  revokedAt: new Date(NOW.getTime() - i * 1000),
  reason: REVOCATION_REASONS[i % 10]!,
}));
const crlTimes: number[] = [];
let crlSize = 0;
for (let r = 0; r < RUNS; r++) {
  const t = performance.now();
  crlSize = (
    await buildCrl({ ca: p256.ca, entries, crlNumber: BigInt(r + 1), thisUpdate: NOW, nextUpdate: new Date(NOW.getTime() + 86_400_000) })
  ).length;
  crlTimes.push(performance.now() - t);
}
report('CRL of 100,000 entries: build + sign', median(crlTimes), 'ms', `${(crlSize / 1e6).toFixed(1)} MB, target ≤ 2000 ms`);
const h = p256.ca.certIdHashes.sha1;
const ocspRequest = sequence(
  sequence(
    sequence(
      sequence(sequence(sequence(oid('1.3.14.3.2.26'), NULL), octetString(h.name), octetString(h.key), integerFromHex(newSerialHex()))),
    ),
    explicit(2, sequence(sequence(oid('1.3.6.1.5.5.7.48.1.2'), octetString(octetString(randomBytes(16)))))),
  ),
);
report(
  'OCSP: parse request + lookup + signed response (P-256 CA)',
  await opsPerSecond(() => answerOcsp(p256.ca, ocspRequest, () => ({ status: 'good' }), NOW)),
  'ops/s',
  'target ≥ 5000',
);
