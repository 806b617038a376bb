/**
 * The soak run: `npm run bench -- --soak [--minutes 10]`.
 *
 * Two real `keyward serve` replicas (child processes, the V8 limits of the
 * other HTTP scenarios) on one PostgreSQL database; the load generator keeps
 * 64 issuance requests in flight, 32 on each, for the given minutes (default
 * 10). Reports per minute: throughput, p50/p99 latency, errors, and the RSS
 * of each replica; then the total errors, the RSS slope over the second half
 * (a least-squares line through the samples, as a share of the mean), and
 * the p99 stability (max/min of the per-minute p99 over the second half).
 * Reported, not asserted. Writes bench/results/soak.json and soak.md.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import { startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { request } from './load.ts';
import { benchEnvironment, rssMb, startServe } from './proc.ts';

x509.cryptoProvider.set(webcrypto as never);

const argv = process.argv.slice(2);
const minutesArg = argv.indexOf('--minutes');
const MINUTES = minutesArg >= 0 ? Number(argv[minutesArg + 1]) : 10;
if (!(MINUTES > 0)) throw new Error('--minutes takes a positive number');
const IN_FLIGHT = 64;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}bin/keyward`;
const SERVER_NODE_OPTIONS = process.env.KEYWARD_BENCH_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=192';

const say = (s: string) => process.stderr.write(`» ${s}\n`);
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);
const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function makeCsr(i: number): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=s${i}.soak.internal`,
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `s${i}.soak.internal` }])],
  });
  return csr.toString('pem');
}

const started = Date.now();
say(`Keyward soak: 2 replicas, ${IN_FLIGHT} in flight, ${MINUTES} min, ${cpus().length} cores, Node ${process.version}`);
const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) c.kill('SIGTERM');
  await database.drop().catch(() => {});
  await keycloak.stop();
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
process.once('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

try {
  const { env: common } = await benchEnvironment({ keycloak, databaseUrl: database.url, name: 'soak' });
  const baseEnv = {
    ...common,
  };
  const kw = await compose(loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0' }), { log: silentLogger });
  const realm = `soak-${randomBytes(3).toString('hex')}`;
  await kw.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
  await kw.policies.put(
    realm,
    'svc',
    {
      keyTypes: ['EC-P256'],
      maxValidityDays: 30,
      subject: { required: ['CN'], allowed: ['CN'] },
      san: { dns: ['*.soak.internal'], ip: [], uri: [], email: [] },
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
      approval: 'none',
    },
    'system',
  );
  const { secret } = await kw.apiClients.create(realm, { clientId: 'soak-client', defaultPolicy: { realm, name: 'svc' } }, 'system');
  await kw.issuance.issuingCa(realm);
  await kw.close();
  say('generating CSRs…');
  const csrs = await Promise.all(Array.from({ length: 200 }, (_, i) => makeCsr(i)));

  const startServer = () =>
    startServe({ bin: BIN, env: { ...process.env, ...baseEnv, NODE_OPTIONS: SERVER_NODE_OPTIONS }, children, seconds: 30 });
  const replicas = [await startServer(), await startServer()];
  const cfg = await oidc.discovery(new URL(`${keycloak.url}/realms/${realm}`), 'soak-client', undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
  let token = (await oidc.clientCredentialsGrant(cfg)).access_token;
  const tokenTimer = setInterval(() => {
    void oidc.clientCredentialsGrant(cfg).then((t) => {
      token = t.access_token;
    });
  }, 240_000);
  tokenTimer.unref();

  interface Minute {
    latencies: number[];
    errors: number;
    rss: number[][];
  }
  const minutes: Minute[] = Array.from({ length: Math.ceil(MINUTES) }, () => ({ latencies: [], errors: 0, rss: [[], []] }));
  const rssSamples: Array<{ t: number; mb: number[] }> = [];
  const errorKinds = new Map<string, number>();
  const t0 = performance.now();
  const end = t0 + MINUTES * 60_000;
  const minuteOf = (t: number) => Math.min(minutes.length - 1, Math.floor((t - t0) / 60_000));
  const sampler = setInterval(() => {
    const t = performance.now();
    const mb = replicas.map((r) => rssMb(r.pid));
    rssSamples.push({ t: (t - t0) / 1000, mb });
    mb.forEach((m, k) => minutes[minuteOf(t)]!.rss[k]!.push(m));
  }, 1000);
  const reporter = setInterval(() => {
    const m = minuteOf(performance.now()) - 1;
    const x = minutes[m];
    if (m >= 0 && x) say(`minute ${m + 1}: ${round(x.latencies.length / 60)}/s, p99 ${round(pct(x.latencies, 99))} ms, ${x.errors} errors`);
  }, 60_000);
  let i = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, w) => {
      const url = replicas[w % 2]!.url;
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const res = await request(`${url}/v1/realms/${realm}/certificates`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/pkcs10' },
            body: csrs[i++ % csrs.length]!,
          });
          if (res.status !== 201) throw new Error(`HTTP ${res.status}`);
          minutes[minuteOf(t)]!.latencies.push(performance.now() - t);
        } catch (err) {
          minutes[minuteOf(t)]!.errors++;
          const kind = (err as Error).message.slice(0, 80);
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
        }
      }
    }),
  );
  clearInterval(sampler);
  clearInterval(reporter);

  const perMinute = minutes.map((m, k) => ({
    minute: k + 1,
    perSecond: round(m.latencies.length / Math.min(60, MINUTES * 60 - k * 60)),
    p50ms: round(pct(m.latencies, 50)),
    p99ms: round(pct(m.latencies, 99)),
    errors: m.errors,
    rssMb: m.rss.map((xs) => round(xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN)),
    rssMaxMb: m.rss.map((xs) => round(Math.max(...xs))),
  }));
  const half = (MINUTES * 60) / 2;
  const second = rssSamples.filter((s) => s.t >= half);
  /** Least-squares slope of RSS over the second half, as the change it makes over that half relative to the mean (%). */
  const slope = (k: number) => {
    const xs = second.map((s) => s.t);
    const ys = second.map((s) => s.mb[k]!);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let num = 0;
    let den = 0;
    for (let j = 0; j < xs.length; j++) {
      num += (xs[j]! - mx) * (ys[j]! - my);
      den += (xs[j]! - mx) ** 2;
    }
    const perSecond = den ? num / den : 0;
    return { mbPerMinute: round(perSecond * 60), percentOverHalf: round((100 * perSecond * half) / my), meanMb: round(my) };
  };
  const secondHalfMinutes = perMinute.filter((m) => m.minute > Math.floor(minutes.length / 2));
  const p99s = secondHalfMinutes.map((m) => m.p99ms);
  const summary = {
    requests: minutes.reduce((a, m) => a + m.latencies.length, 0),
    errors: minutes.reduce((a, m) => a + m.errors, 0),
    errorKinds: Object.fromEntries(errorKinds),
    perSecond: round(minutes.reduce((a, m) => a + m.latencies.length, 0) / (MINUTES * 60)),
    p99AllMs: round(
      pct(
        minutes.flatMap((m) => m.latencies),
        99,
      ),
    ),
    rssSlopeSecondHalf: [slope(0), slope(1)],
    p99StabilitySecondHalf: round(Math.max(...p99s) / Math.min(...p99s)),
  };
  const result = {
    date: new Date().toISOString(),
    minutes: MINUTES,
    inFlight: IN_FLIGHT,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    serverNodeOptions: SERVER_NODE_OPTIONS,
    seconds: Math.round((Date.now() - started) / 1000),
    perMinute,
    summary,
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/soak.json`, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Keyward soak (${result.date}, ${MINUTES} min, 2 replicas, ${IN_FLIGHT} in flight, ` +
      `${result.machine.cores} cores, Node ${process.version})`,
    '',
    '| Minute | Issued/s | p50 ms | p99 ms | Errors | RSS replica 1 (mean/max MB) | RSS replica 2 (mean/max MB) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...perMinute.map(
      (m) =>
        `| ${m.minute} | ${m.perSecond} | ${m.p50ms} | ${m.p99ms} | ${m.errors} | ` +
        `${m.rssMb[0]} / ${m.rssMaxMb[0]} | ${m.rssMb[1]} / ${m.rssMaxMb[1]} |`,
    ),
    '',
    `Total: ${summary.requests.toLocaleString('en')} certificates issued, ${summary.errors} errors` +
      `${summary.errors ? ` (${JSON.stringify(summary.errorKinds)})` : ''}, ${summary.perSecond}/s, p99 ${summary.p99AllMs} ms.`,
    `RSS slope over the second half: replica 1 ${summary.rssSlopeSecondHalf[0]!.mbPerMinute} MB/min ` +
      `(${summary.rssSlopeSecondHalf[0]!.percentOverHalf} % over the half, mean ${summary.rssSlopeSecondHalf[0]!.meanMb} MB), ` +
      `replica 2 ${summary.rssSlopeSecondHalf[1]!.mbPerMinute} MB/min (${summary.rssSlopeSecondHalf[1]!.percentOverHalf} %, ` +
      `mean ${summary.rssSlopeSecondHalf[1]!.meanMb} MB).`,
    `p99 stability over the second half (max/min of the per-minute p99): ${summary.p99StabilitySecondHalf}.`,
    '',
  ].join('\n');
  writeFileSync(`${ROOT}bench/results/soak.md`, md);
  process.stdout.write(md);
} finally {
  await cleanup();
}
process.exit(0);
