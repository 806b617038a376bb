/**
 * Issuance with the issuing CA key in a PKCS#11 token (SoftHSM2) beside the
 * same with the key sealed in PostgreSQL and held in the process, in one run:
 * `npm run bench -- --hsm` (add --quick for a short run).
 *
 * Starts a real Keycloak and PostgreSQL as bench/run.ts does, and a
 * throwaway SoftHSM2 token (Debian's softhsm2, installed when missing, as the
 * tests do). Measures, alternating the two stores run by run: the CA signer
 * alone (one signature per TBSCertificate), in-process issuance with 64 in
 * flight, and HTTP issuance against `keyward serve` at concurrency 16 and 64.
 * Prints the ratios and writes bench/results/hsm.json and bench/results/hsm.md.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import type { Principal } from '../services/keyward/src/authn/principal.ts';
import { openCa } from '../services/keyward/src/ca/index.ts';
import { compose, type Keyward } from '../services/keyward/src/compose.ts';
import { Pkcs11KeyStore } from '../services/keyward/src/crypto/pkcs11_key_store.ts';
import { startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { softHsmToken } from '../test/support/softhsm.ts';
import { asyncRate as measureRate, request } from './load.ts';
import { benchEnvironment, rssMb, startServe } from './proc.ts';

x509.cryptoProvider.set(webcrypto as never);

const QUICK = process.argv.includes('--quick') || process.env.KEYWARD_BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 5;
const SECONDS = QUICK ? 2 : 4;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}bin/keyward`;
const say = (s: string) => process.stderr.write(`» ${s}\n`);
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

interface Scenario {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  extra?: Record<string, unknown>;
}
const scenarios: Scenario[] = [];
function record(name: string, unit: string, samples: number[], extra?: Record<string, unknown>): Scenario {
  const sorted = [...samples].sort((a, b) => a - b);
  const s: Scenario = {
    name,
    unit,
    median: round(sorted[Math.floor(sorted.length / 2)]!),
    min: round(sorted[0]!),
    max: round(sorted.at(-1)!),
    runs: samples.length,
    ...(extra ? { extra } : {}),
  };
  scenarios.push(s);
  say(`${name}: ${s.median} ${unit} (min ${s.min}, max ${s.max})`);
  return s;
}

const asyncRate = (fn: () => Promise<unknown>, concurrency: number, seconds = SECONDS) => measureRate(fn, concurrency, seconds);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN);
};

async function makeCsr(subject: string, san: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }])],
  });
  return csr.toString('pem');
}

const started = Date.now();
const mode = `${QUICK ? 'quick' : 'full'}: ${RUNS} runs of ${SECONDS} s`;
say(`Keyward PKCS#11 benchmark (${mode}) on ${cpus().length} cores, Node ${process.version}`);
const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
const token = softHsmToken(`bench-${randomBytes(3).toString('hex')}`);
say(`SoftHSM2 token "${token.label}" (${token.module})`);
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) c.kill('SIGTERM');
  await database.drop().catch(() => {});
  await keycloak.stop();
  token.remove();
};
process.once('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

try {
  const { env: common } = await benchEnvironment({ keycloak, databaseUrl: database.url, name: 'hsm' });
  const baseEnv = {
    ...common,
  };
  const hsmEnv = {
    ...baseEnv,
    KEYWARD_CA_KEY_STORE: 'pkcs11',
    KEYWARD_PKCS11_MODULE: token.module,
    KEYWARD_PKCS11_TOKEN_LABEL: token.label,
    KEYWARD_PKCS11_PIN: token.pin,
    SOFTHSM2_CONF: token.conf,
  };
  const policy = {
    keyTypes: ['EC-P256'],
    maxValidityDays: 30,
    subject: { required: ['CN'], allowed: ['CN'] },
    san: { dns: ['*.bench.internal'], ip: [], uri: [], email: [] },
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth'],
    approval: 'none',
  };
  const tag = randomBytes(3).toString('hex');
  const realms = { sealed: `bench-sealed-${tag}`, pkcs11: `bench-hsm-${tag}` } as const;
  type Store = keyof typeof realms;

  /** A realm with a policy and an API client, its issuing CA made by `kw` (the sealed one first: the root stays sealed). */
  async function setUp(kw: Keyward, realm: string) {
    await kw.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
    await kw.policies.put(realm, 'svc', policy, 'system');
    const { secret } = await kw.apiClients.create(realm, { clientId: 'bench-client', defaultPolicy: { realm, name: 'svc' } }, 'system');
    const c = await kw.identity.findClient(realm, 'bench-client');
    const principal: Principal = {
      credential: 'bearer',
      kind: 'client',
      realm,
      subject: await kw.identity.serviceAccountId(realm, c!),
      clientId: 'bench-client',
      username: 'service-account-bench-client',
      credentialRoles: [],
    };
    const { issuing } = await kw.issuance.issuingCa(realm);
    return { secret, principal, issuing };
  }

  const sealedKw = await compose(loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0' }), { log: silentLogger });
  const sealed = await setUp(sealedKw, realms.sealed);
  // One process holds the token at a time: the in-process PKCS#11 Keyward is closed before the servers start.
  const hsmKw = await compose(loadConfig({ HOME: process.env.HOME, SOFTHSM2_CONF: token.conf }, { ...hsmEnv, KEYWARD_PORT: '0' }), {
    log: silentLogger,
  });
  const hsm = await setUp(hsmKw, realms.pkcs11);
  if (hsm.issuing.key.store !== 'pkcs11' || sealed.issuing.key.store !== 'sealed')
    throw new Error('the two realms do not use the two stores');
  say(`issuing CAs: ${realms.sealed} sealed (${sealed.issuing.keyType}), ${realms.pkcs11} in the token (${hsm.issuing.keyType})`);

  say('generating CSRs…');
  const csrs = await Promise.all(
    Array.from({ length: QUICK ? 50 : 200 }, (_, i) => makeCsr(`CN=s${i}.bench.internal`, `s${i}.bench.internal`)),
  );
  let n = 0;
  const nextCsr = () => csrs[n++ % csrs.length]!;

  // 1. In-process issuance: parse, proof of possession, policy, build, sign, durable store — 64 in flight.
  const inProcess: Record<Store, number[]> = { sealed: [], pkcs11: [] };
  for (let r = 0; r < RUNS; r++) {
    inProcess.sealed.push(
      (await asyncRate(() => sealedKw.issuance.issue(realms.sealed, sealed.principal, { csr: nextCsr() }), 64, SECONDS)).perSecond,
    );
    inProcess.pkcs11.push(
      (await asyncRate(() => hsmKw.issuance.issue(realms.pkcs11, hsm.principal, { csr: nextCsr() }), 64, SECONDS)).perSecond,
    );
  }
  const inSealed = record('in-process issuance, P-256 CA sealed (in the process), PostgreSQL, 64 in flight', 'certs/s', inProcess.sealed);
  const inHsm = record('in-process issuance, P-256 CA in SoftHSM2, PostgreSQL, 64 in flight', 'certs/s', inProcess.pkcs11);
  await hsmKw.close();
  await sealedKw.close();

  // 3. The CA signer alone: one signature over a TBSCertificate-sized input, 1 and 16 at once (the PKCS#11 one
  // through the same key store, its own process-wide login, once the in-process Keyward has let go of the token).
  const tbs = randomBytes(600);
  const keys = Pkcs11KeyStore.open({ module: token.module, tokenLabel: token.label, pin: token.pin, sessions: 4 });
  const sign = {
    sealed: openCa(sealed.issuing, Buffer.from(baseEnv.KEYWARD_KEK, 'base64')).signer,
    pkcs11: openCa(hsm.issuing, keys).signer,
  };
  const signRates: Record<string, Record<Store, number[]>> = { '1': { sealed: [], pkcs11: [] }, '16': { sealed: [], pkcs11: [] } };
  for (let r = 0; r < RUNS; r++) {
    for (const c of [1, 16] as const) {
      for (const s of ['sealed', 'pkcs11'] as const) {
        signRates[c]![s].push((await asyncRate(async () => sign[s].sign(tbs), c, SECONDS / 2)).perSecond);
      }
    }
  }
  keys.close();
  const signScenarios: Record<string, Record<Store, Scenario>> = {};
  for (const c of ['1', '16']) {
    signScenarios[c] = {
      sealed: record(`CA signature, P-256, sealed key in the process, ${c} at once`, 'ops/s', signRates[c]!.sealed),
      pkcs11: record(`CA signature, P-256, SoftHSM2 token, ${c} at once`, 'ops/s', signRates[c]!.pkcs11),
    };
  }

  // 2. HTTP issuance end to end against `keyward serve`, one server at a time.
  const tokens: Record<Store, string> = { sealed: '', pkcs11: '' };
  for (const s of ['sealed', 'pkcs11'] as const) {
    const cfg = await oidc.discovery(
      new URL(`${keycloak.url}/realms/${realms[s]}`),
      'bench-client',
      undefined,
      oidc.ClientSecretBasic(s === 'sealed' ? sealed.secret : hsm.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    tokens[s] = (await oidc.clientCredentialsGrant(cfg)).access_token;
  }
  const http: Record<string, Record<Store, Scenario>> = {};
  const servers: Record<Store, { url: string; pid: number }> = {
    sealed: await startServe({ bin: BIN, env: { ...process.env, ...baseEnv }, children, seconds: 30 }),
    pkcs11: { url: '', pid: 0 },
  };
  const httpRuns: Record<string, Record<Store, { rates: number[]; lat: number[]; errors: number; peak: number }>> = {};
  const measureHttp = async (s: Store) => {
    const issueHttp = async () => {
      const res = await request(`${servers[s].url}/v1/realms/${realms[s]}/certificates`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[s]}`, 'content-type': 'application/pkcs10' },
        body: nextCsr(),
      });
      if (res.status !== 201) throw new Error(`HTTP ${res.status}`);
    };
    await asyncRate(issueHttp, 16, 2); // warm up the fresh process (JIT, connection pools, the opened CA)
    for (const c of [16, 64]) {
      const slot: { rates: number[]; lat: number[]; errors: number; peak: number } = { rates: [], lat: [], errors: 0, peak: 0 };
      (httpRuns[c] ??= {} as Record<Store, typeof slot>)[s] = slot;
      for (let r = 0; r < RUNS; r++) {
        const sampler = setInterval(() => (slot.peak = Math.max(slot.peak, rssMb(servers[s].pid))), 200);
        const res = await asyncRate(issueHttp, c);
        clearInterval(sampler);
        slot.rates.push(res.perSecond);
        slot.lat.push(...res.latencies);
        slot.errors += res.errors;
      }
    }
  };
  await measureHttp('sealed');
  children.splice(0).forEach((c) => c.kill('SIGTERM'));
  await new Promise((r) => setTimeout(r, 1000));
  servers.pkcs11 = await startServe({ bin: BIN, env: { ...process.env, ...hsmEnv }, children, seconds: 30 });
  await measureHttp('pkcs11');
  for (const c of ['16', '64']) {
    http[c] = {} as Record<Store, Scenario>;
    for (const s of ['sealed', 'pkcs11'] as const) {
      const x = httpRuns[c]![s];
      http[c]![s] = record(
        `HTTP issuance, P-256 CA ${s === 'sealed' ? 'sealed (in the process)' : 'in SoftHSM2'}, concurrency ${c}`,
        'certs/s',
        x.rates,
        { p50ms: pct(x.lat, 50), p99ms: pct(x.lat, 99), errors: x.errors, peakRssMb: round(x.peak) },
      );
    }
  }

  const ratio = (a: Scenario, b: Scenario) => round(b.median / a.median);
  const ratios = {
    'CA signature, 1 at once': ratio(signScenarios['1']!.sealed, signScenarios['1']!.pkcs11),
    'CA signature, 16 at once': ratio(signScenarios['16']!.sealed, signScenarios['16']!.pkcs11),
    'in-process issuance, 64 in flight': ratio(inSealed, inHsm),
    'HTTP issuance, concurrency 16': ratio(http['16']!.sealed, http['16']!.pkcs11),
    'HTTP issuance, concurrency 64': ratio(http['64']!.sealed, http['64']!.pkcs11),
  };
  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    seconds: Math.round((Date.now() - started) / 1000),
    pkcs11: { module: token.module, sessions: 4 },
    scenarios,
    ratios,
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/hsm.json`, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Keyward PKCS#11 benchmark (${result.date}, ${QUICK ? 'quick' : 'full'}, ${result.machine.cores} cores, Node ${process.version})`,
    '',
    'The issuing CA key inside a SoftHSM2 token (KEYWARD_CA_KEY_STORE=pkcs11, 4 sessions) beside the same key sealed in PostgreSQL',
    'and held in the process (the default), measured in one run, alternating.',
    '',
    '| Scenario | Median | Min | Max | Unit | Notes |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...scenarios.map(
      (s) =>
        `| ${s.name} | ${s.median} | ${s.min} | ${s.max} | ${s.unit} | ${
          s.extra
            ? Object.entries(s.extra)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
            : ''
        } |`,
    ),
    '',
    '| PKCS#11 ÷ sealed | Ratio |',
    '| --- | ---: |',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
  writeFileSync(`${ROOT}bench/results/hsm.md`, md);
  process.stdout.write(md);
} finally {
  await cleanup();
}
