/**
 * The ACME benchmark: `npm run bench -- --acme [--quick]`.
 *
 * Complete RFC 8555 orders per second — newOrder → authorization → http-01
 * (the server's validator fetches the key authorization from this process)
 * → finalize → certificate download — driven by the npm `acme-client`
 * library at concurrency 1 and 16, against Keyward's ACME server and, in the
 * same run, against Pebble (Let's Encrypt's test server, Debian package
 * pebble) as the peer. Each worker has its own account, created with its own
 * External Account Binding key before the clock starts, and orders a fresh
 * name each time, so every order is validated. Names resolve to 127.0.0.1
 * through pebble-challtestsrv's DNS server for both validators. Both are
 * polled the same way: acme-client with a 20 ms initial backoff.
 *
 * Keyward runs as `keyward serve` (the V8 limits of the other HTTP
 * scenarios) on a real Keycloak and a fresh PostgreSQL database, its
 * directory on plain HTTP; Pebble serves HTTPS only. Both over keep-alive
 * sockets. KEYWARD_ACME_RATE is raised: a worker sends about ten signed
 * requests per order.
 *
 * Writes bench/results/acme.json and bench/results/acme.md.
 */
import 'reflect-metadata';
import acme from 'acme-client';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Agent as HttpAgent, type Server } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import { compose } from '../services/keyward/src/compose.ts';
import { freePort, startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { startChallTestSrv, startPebble } from '../test/support/pebble.ts';
import { request } from './load.ts';
import { benchEnvironment, startServe } from './proc.ts';

const QUICK = process.argv.includes('--quick') || process.env.KEYWARD_BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 5;
const SECONDS = QUICK ? 3 : 8;
const CONCURRENCY = [1, 16] as const;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}bin/keyward`;
/** V8 limits for the measured server, as in the other HTTP scenarios (README: memory). */
const SERVER_NODE_OPTIONS = process.env.KEYWARD_BENCH_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=192';

const say = (s: string) => process.stderr.write(`» ${s}\n`);
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN);
};

/** One ACME server under test. */
export interface AcmeTarget {
  readonly name: string;
  readonly directoryUrl: string;
  /** The parent domain of the ordered names (`<n>.<domain>`); the server's policy must allow it. */
  readonly domain: string;
  /** External Account Binding credentials, one per account. */
  eab(): Promise<{ kid: string; hmacKey: string }>;
  /** Sockets for the server: keep-alive, trusting its TLS certificate when it is HTTPS. */
  readonly agent: HttpAgent | HttpsAgent;
}

/** The http-01 responder both validators fetch from (RFC 8555 §8.3). */
async function startHttp01(): Promise<{ port: number; tokens: Map<string, string>; server: Server }> {
  const tokens = new Map<string, string>();
  const port = await freePort();
  const server = createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
    const keyAuthorization = token ? tokens.get(token) : undefined;
    if (!keyAuthorization) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(keyAuthorization);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, tokens, server };
}

interface Worker {
  readonly client: acme.Client;
  readonly certKey: Buffer;
}

async function workers(target: AcmeTarget, n: number): Promise<Worker[]> {
  const certKey = await acme.crypto.createPrivateEcdsaKey('P-256');
  return Promise.all(
    Array.from({ length: n }, async () => {
      const client = new acme.Client({
        directoryUrl: target.directoryUrl,
        accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'),
        externalAccountBinding: await target.eab(),
        backoffMin: 20,
        backoffMax: 500,
        backoffAttempts: 40,
      });
      await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:bench@example.com'] });
      return { client, certKey };
    }),
  );
}

let serial = 0;
/** One complete order; returns the certificate chain (PEM). */
async function order(w: Worker, target: AcmeTarget, tokens: Map<string, string>): Promise<string> {
  const name = `o${++serial}-${process.pid}.${target.domain}`;
  const created = await w.client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
  const [authz] = await w.client.getAuthorizations(created);
  const challenge = authz!.challenges.find((c) => c.type === 'http-01');
  if (!challenge) throw new Error(`${target.name} offered no http-01 challenge for ${name}`);
  tokens.set(challenge.token, await w.client.getChallengeKeyAuthorization(challenge));
  try {
    await w.client.completeChallenge(challenge);
    await w.client.waitForValidStatus(challenge);
  } finally {
    tokens.delete(challenge.token);
  }
  const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, w.certKey);
  const finalized = await w.client.finalizeOrder(created, csr);
  const chain = await w.client.getCertificate(finalized);
  if (!chain.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${target.name} returned no certificate for ${name}`);
  return chain;
}

interface Figure {
  name: string;
  target: string;
  concurrency: number;
  unit: 'orders/s';
  median: number;
  min: number;
  max: number;
  runs: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

async function measure(target: AcmeTarget, tokens: Map<string, string>, concurrency: number): Promise<Figure> {
  acme.axios.defaults.httpAgent = target.agent;
  acme.axios.defaults.httpsAgent = target.agent;
  const ws = await workers(target, concurrency);
  // One order per worker before the clock starts: connections open, caches warm.
  await Promise.all(ws.map((w) => order(w, target, tokens)));
  const samples: number[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    const end = start + SECONDS * 1000;
    let done = 0;
    await Promise.all(
      ws.map(async (w) => {
        while (performance.now() < end) {
          const t = performance.now();
          try {
            await order(w, target, tokens);
            latencies.push(performance.now() - t);
            done++;
          } catch (err) {
            errors++;
            firstError ??= err;
          }
        }
      }),
    );
    samples.push(done / ((performance.now() - start) / 1000));
  }
  if (errors) say(`  ${target.name}: ${errors} failed order(s), the first: ${(firstError as Error).message}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const figure: Figure = {
    name: `${target.name}: complete orders (http-01), concurrency ${concurrency}`,
    target: target.name,
    concurrency,
    unit: 'orders/s',
    median: round(median(samples)),
    min: round(sorted[0]!),
    max: round(sorted.at(-1)!),
    runs: RUNS,
    p50ms: pct(latencies, 50),
    p99ms: pct(latencies, 99),
    errors,
  };
  say(`${figure.name}: ${figure.median} orders/s (min ${figure.min}, max ${figure.max}, p50 ${figure.p50ms} ms, p99 ${figure.p99ms} ms)`);
  return figure;
}

// ------------------------------------------------------------------ main

const started = Date.now();
say(
  `Keyward ACME benchmark (${QUICK ? 'quick' : 'full'}: ${RUNS} runs of ${SECONDS} s) on ${cpus().length} cores, Node ${process.version}`,
);
const cleanups: (() => Promise<unknown>)[] = [];
const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

try {
  const http01 = await startHttp01();
  cleanups.push(() => new Promise((r) => http01.server.close(r)));
  const dns = await startChallTestSrv({ defaultIPv4: '127.0.0.1' });
  cleanups.push(() => dns.close());
  const figures: Figure[] = [];

  // The peer first: Pebble with External Account Binding required, like Keyward.
  const pebble = await startPebble({
    httpPort: http01.port,
    tlsPort: await freePort(),
    dnsServer: dns.dns,
    eab: 1 + Math.max(...CONCURRENCY) * 2,
  });
  cleanups.push(() => pebble.close());
  let nextKey = 0;
  const pebbleTarget: AcmeTarget = {
    name: 'Pebble',
    directoryUrl: pebble.directoryUrl,
    domain: 'bench.example.internal',
    eab: async () => pebble.eabKeys[nextKey++]!,
    agent: pebble.agent,
  };
  for (const c of CONCURRENCY) figures.push(await measure(pebbleTarget, http01.tokens, c));
  await pebble.close();

  // Keyward: a real Keycloak and a fresh PostgreSQL database, `keyward serve` as a child process with the
  // V8 limits of the other HTTP scenarios, validating http-01 on the same responder through the same DNS.
  const keycloak = await startKeycloak({ log: say });
  cleanups.push(() => keycloak.stop());
  const database = await testDatabase({ log: say });
  cleanups.push(() => database.drop());
  const { env: common } = await benchEnvironment({ keycloak, databaseUrl: database.url, name: 'acme' });
  const baseEnv = {
    ...common,
    KEYWARD_ACME_HTTP01_PORT: String(http01.port),
    KEYWARD_ACME_DNS_SERVER: dns.dns,
    // The per-account limit of signed requests (default 300 a minute) is for clients in production;
    // a worker here sends about ten per order.
    KEYWARD_ACME_RATE: '1000000',
  };
  const realm = `bench-acme-${randomBytes(3).toString('hex')}`;
  const domain = `${realm}.example.internal`;
  const secret = await (async () => {
    const kw = await compose(loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0' }), { log: silentLogger });
    try {
      await kw.realms.put(realm, {}, 'system');
      await kw.policies.put(
        realm,
        'web',
        {
          keyTypes: ['EC-P256'],
          maxValidityDays: 30,
          subject: { required: [], allowed: ['CN'] },
          san: { dns: [`*.${domain}`], ip: [], uri: [], email: [] },
          keyUsage: ['digitalSignature'],
          extendedKeyUsage: ['serverAuth'],
          approval: 'none',
        },
        'system',
      );
      await kw.issuance.issuingCa(realm);
      return (
        await kw.apiClients.create(
          realm,
          { clientId: 'bench-acme', roles: ['keyward-requester'], defaultPolicy: { realm, name: 'web' } },
          'system',
        )
      ).secret;
    } finally {
      await kw.close();
    }
  })();
  const children: ChildProcess[] = [];
  cleanups.push(async () => {
    for (const c of children) c.kill('SIGTERM');
  });
  const server = await startServe({
    bin: BIN,
    env: { ...process.env, ...baseEnv, NODE_OPTIONS: SERVER_NODE_OPTIONS },
    children,
    seconds: 30,
  });
  const cfg = await oidc.discovery(new URL(`${keycloak.url}/realms/${realm}`), 'bench-acme', undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
  const token = (await oidc.clientCredentialsGrant(cfg)).access_token;
  const keywardTarget: AcmeTarget = {
    name: 'Keyward',
    directoryUrl: `${server.url}/acme/${realm}/directory`,
    domain,
    eab: async () => {
      // One key binds one account: a fresh key per worker, created by the API client.
      const res = await request(`${server.url}/v1/realms/${realm}/acme/eab-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 201) throw new Error(`POST /v1/realms/${realm}/acme/eab-keys answered ${res.status}: ${res.body.toString()}`);
      const { kid, hmacKey } = JSON.parse(res.body.toString()) as { kid: string; hmacKey: string };
      return { kid, hmacKey };
    },
    agent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  };
  for (const c of CONCURRENCY) figures.push(await measure(keywardTarget, http01.tokens, c));

  const at = (target: string, c: number) => figures.find((f) => f.target === target && f.concurrency === c);
  const comparisons = CONCURRENCY.flatMap((c) => {
    const k = figures.find((f) => f.target.startsWith('Keyward') && f.concurrency === c);
    const p = at(pebbleTarget.name, c);
    return k && p ? [{ concurrency: c, keyward: k.median, pebble: p.median, ratio: round(k.median / p.median) }] : [];
  });
  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    seconds: Math.round((Date.now() - started) / 1000),
    client: 'acme-client 5.4.0',
    pebble: (() => {
      try {
        return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'pebble'], { encoding: 'utf8' });
      } catch {
        return 'not from a Debian package (KEYWARD_PEBBLE)';
      }
    })(),
    figures,
    comparisons,
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/acme.json`, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Keyward ACME benchmark (${result.date}, ${QUICK ? 'quick' : 'full'}, ${result.machine.cores} cores, Node ${process.version})`,
    '',
    `Complete orders (newOrder → http-01 → finalize → download) with acme-client 5.4.0, one account per worker; Pebble ${result.pebble}.`,
    '',
    '| Server | Concurrency | Median | Min | Max | Unit | p50 ms | p99 ms | Failed |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
    ...figures.map(
      (f) => `| ${f.target} | ${f.concurrency} | ${f.median} | ${f.min} | ${f.max} | ${f.unit} | ${f.p50ms} | ${f.p99ms} | ${f.errors} |`,
    ),
    '',
    '| Concurrency | Keyward | Pebble | Keyward / Pebble |',
    '| ---: | ---: | ---: | ---: |',
    ...comparisons.map((c) => `| ${c.concurrency} | ${c.keyward} | ${c.pebble} | ${c.ratio}x |`),
    '',
  ].join('\n');
  writeFileSync(`${ROOT}bench/results/acme.md`, md);
  process.stdout.write(md);
} finally {
  await cleanup();
}
process.exit(0);
