/**
 * Keyward benchmarks. `npm run bench` (or `bench/run.ts --quick`).
 *
 * Starts what it needs through the same harness as the tests — a real
 * Keycloak and a real PostgreSQL (a fresh database, dropped at the end) — and
 * runs every scenario in this process tree, each several times; figures are
 * medians with min and max, and ratios are computed within the same run.
 * Writes bench/results/latest.json and bench/results/latest.md.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign, verify, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as oidc from 'openid-client';
import { startKeycloak, testDatabase, freePort, startEmbeddedPostgres } from '../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../services/keyward/src/keycloak/bootstrap.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import type { Principal } from '../services/keyward/src/authn/principal.ts';
import { postgresCpuSeconds, rssMb, startServe } from './proc.ts';
import { asyncRate as measureRate, request } from './load.ts';

x509.cryptoProvider.set(webcrypto as never);

const QUICK = process.argv.includes('--quick') || process.env.KEYWARD_BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 5;
const SECONDS = QUICK ? 2 : 6;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}bin/keyward`;
/** V8 limits for the measured servers (README: memory): a smaller young generation and a capped old space. */
const SERVER_NODE_OPTIONS = process.env.KEYWARD_BENCH_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=192';

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
const say = (s: string) => process.stderr.write(`» ${s}\n`);

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
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

/** ops/s of a synchronous function over `seconds`. */
function rate(fn: () => void, seconds = SECONDS / 2): number {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

const asyncRate = (fn: () => Promise<unknown>, concurrency: number, seconds = SECONDS) => measureRate(fn, concurrency, seconds);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
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

// ------------------------------------------------------------------ main

const started = Date.now();
say(`Keyward benchmarks (${QUICK ? 'quick' : 'full'}: ${RUNS} runs of ${SECONDS} s) on ${cpus().length} cores, Node ${process.version}`);
const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) c.kill('SIGTERM');
  await database.drop().catch(() => {});
  await keycloak.stop();
};
process.once('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});
process.once('SIGTERM', () => {
  void cleanup().then(() => process.exit(143));
});
process.once('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

try {
  const boot = await bootstrap({
    url: keycloak.url,
    adminUser: keycloak.adminUser,
    adminPassword: keycloak.adminPassword,
    clientId: 'keyward-control-plane',
    audience: 'keyward',
    operatorClientId: 'keyward-bench-operator',
  });
  const kek = randomBytes(32).toString('base64');
  const baseEnv = {
    KEYWARD_DATABASE_URL: database.url,
    KEYWARD_KEYCLOAK_URL: keycloak.url,
    KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
    KEYWARD_KEK: kek,
    KEYWARD_LOG_LEVEL: 'error',
    KEYWARD_DATA_DIR: `/tmp/keyward-bench-${process.pid}`,
    KEYWARD_ROLE_CACHE_SECONDS: '10',
  };
  const config = loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0' });
  const kw = await compose(config, { log: silentLogger });
  // A realm of its own per run: a benchmark may run twice against the same Keycloak (KEYWARD_KEYCLOAK_URL).
  const realm = `bench-${randomBytes(3).toString('hex')}`;
  await kw.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
  const policy = {
    keyTypes: ['EC-P256', 'RSA-2048'],
    maxValidityDays: 30,
    subject: { required: ['CN'], allowed: ['CN'] },
    san: { dns: ['*.bench.internal'], ip: [], uri: [], email: [] },
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth', 'clientAuth'],
    approval: 'none',
  };
  await kw.policies.put(realm, 'svc', policy, 'system');
  const { secret } = await kw.apiClients.create(realm, { clientId: 'bench-client', defaultPolicy: { realm, name: 'svc' } }, 'system');
  const saId = await (async () => {
    const c = await kw.identity.findClient(realm, 'bench-client');
    return kw.identity.serviceAccountId(realm, c!);
  })();
  const principal: Principal = {
    credential: 'bearer',
    kind: 'client',
    realm,
    subject: saId,
    clientId: 'bench-client',
    username: 'service-account-bench-client',
    credentialRoles: [],
  };
  say('generating CSRs…');
  const csrs = await Promise.all(
    Array.from({ length: QUICK ? 50 : 200 }, (_, i) => makeCsr(`CN=s${i}.bench.internal`, `s${i}.bench.internal`)),
  );

  // 1. The floor: raw node:crypto on this machine, this run.
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tbs = randomBytes(600);
  const ecSig = sign('sha256', tbs, ec.privateKey);
  record(
    'floor: ECDSA P-256 sign (node:crypto, 1 core)',
    'ops/s',
    Array.from({ length: RUNS }, () => rate(() => sign('sha256', tbs, ec.privateKey))),
  );
  record(
    'floor: RSA-2048 sign (node:crypto, 1 core)',
    'ops/s',
    Array.from({ length: RUNS }, () => rate(() => sign('sha256', tbs, rsa.privateKey))),
  );
  const floor = record(
    'floor: CSR verify + certificate sign, P-256 (node:crypto, 1 core)',
    'ops/s',
    Array.from({ length: RUNS }, () =>
      rate(() => {
        verify('sha256', tbs, ec.publicKey, ecSig);
        sign('sha256', tbs, ec.privateKey);
      }),
    ),
  );

  // 2. The bare library: @peculiar/x509 parse + verify + build + sign.
  const caKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const lib = record(
    'library: @peculiar/x509 CSR verify + leaf build and sign (1 core, sequential)',
    'certs/s',
    await (async () => {
      const out: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const res = await asyncRate(
          async () => {
            const csr = new x509.Pkcs10CertificateRequest(csrs[0]!);
            await csr.verify();
            await x509.X509CertificateGenerator.create({
              serialNumber: randomBytes(16).toString('hex'),
              subject: csr.subject,
              issuer: 'CN=Bench CA',
              notBefore: new Date(),
              notAfter: new Date(Date.now() + 86_400_000),
              publicKey: csr.publicKey,
              signingKey: caKeys.privateKey as never,
              signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
              extensions: [
                new x509.BasicConstraintsExtension(false, undefined, true),
                new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 's0.bench.internal' }]),
              ],
            });
          },
          1,
          SECONDS / 2,
        );
        out.push(res.perSecond);
      }
      return out;
    })(),
  );

  // 3. In-process issuance: parse + proof of possession + policy + build + sign + durable store (PostgreSQL).
  await kw.issuance.issuingCa(realm);
  let i = 0;
  const cpu = { process: 0, postgres: 0, certs: 0 };
  const inProcess = record(
    'in-process issuance, P-256 CA, PostgreSQL (durable), 64 in flight',
    'certs/s',
    await (async () => {
      const out: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const c0 = process.cpuUsage();
        const pg0 = postgresCpuSeconds();
        const res = await asyncRate(() => kw.issuance.issue(realm, principal, { csr: csrs[i++ % csrs.length]! }), 64, SECONDS / 2);
        const c = process.cpuUsage(c0);
        cpu.process += c.user + c.system;
        cpu.postgres += (postgresCpuSeconds() - pg0) * 1e6;
        cpu.certs += res.latencies.length;
        out.push(res.perSecond);
      }
      return out;
    })(),
    {},
  );
  // Where the CPU goes (all threads of this process, and the PostgreSQL server processes), per certificate.
  inProcess.extra = { cpuUsPerCertKeyward: round(cpu.process / cpu.certs), cpuUsPerCertPostgres: round(cpu.postgres / cpu.certs) };
  say(
    `  CPU per certificate: Keyward ${inProcess.extra.cpuUsPerCertKeyward} µs (all threads), PostgreSQL ` +
      `${inProcess.extra.cpuUsPerCertPostgres} µs`,
  );

  // 3a. The same with an RSA-2048 issuing CA (KEYWARD_CA_KEY_TYPE), same store.
  {
    const rkw = await compose(loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0', KEYWARD_CA_KEY_TYPE: 'RSA-2048' }), {
      log: silentLogger,
    });
    const rrealm = `${realm}-rsa`;
    await rkw.realms.put(rrealm, { defaultRoles: ['keyward-requester'] }, 'system');
    await rkw.policies.put(rrealm, 'svc', policy, 'system');
    await rkw.issuance.issuingCa(rrealm);
    const rp = { ...principal, realm: rrealm };
    const made = await rkw.apiClients.create(rrealm, { clientId: 'bench-rsa-client' }, 'system');
    void made;
    const rc = await rkw.identity.findClient(rrealm, 'bench-rsa-client');
    const rsub = await rkw.identity.serviceAccountId(rrealm, rc!);
    record(
      'in-process issuance, RSA-2048 CA, PostgreSQL (durable), 64 in flight',
      'certs/s',
      await (async () => {
        const out: number[] = [];
        for (let r = 0; r < RUNS; r++)
          out.push(
            (
              await asyncRate(
                () =>
                  rkw.issuance.issue(
                    rrealm,
                    { ...rp, subject: rsub, clientId: 'bench-rsa-client' },
                    { csr: csrs[i++ % csrs.length]!, policy: 'svc' },
                  ),
                64,
                SECONDS / 2,
              )
            ).perSecond,
          );
        return out;
      })(),
    );
    await rkw.close();
  }

  // 3b. The same on the embedded PostgreSQL.
  say('starting an embedded PostgreSQL for the embedded-store scenario…');
  const embedded = await startEmbeddedPostgres({ dataDir: `/tmp/keyward-bench-embedded-${process.pid}` });
  try {
    const ekw = await compose(
      loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_DATABASE_URL: embedded.url, KEYWARD_PORT: '0' }),
      { log: silentLogger },
    );
    await ekw.realms.put(realm, {}, 'system');
    await ekw.policies.put(realm, 'svc', policy, 'system');
    await ekw.issuance.issuingCa(realm);
    record(
      'in-process issuance, P-256 CA, embedded PostgreSQL (durable), 64 in flight',
      'certs/s',
      await (async () => {
        const out: number[] = [];
        for (let r = 0; r < RUNS; r++)
          out.push(
            (await asyncRate(() => ekw.issuance.issue(realm, principal, { csr: csrs[i++ % csrs.length]!, policy: 'svc' }), 64, SECONDS / 2))
              .perSecond,
          );
        return out;
      })(),
    );
    await ekw.close();
  } finally {
    await embedded.stop();
  }

  // 4. HTTP issuance end to end, servers as separate processes.
  const startServer = () =>
    startServe({ bin: BIN, env: { ...process.env, ...baseEnv, NODE_OPTIONS: SERVER_NODE_OPTIONS }, children, seconds: 20 });
  const serverStarted = Date.now();
  const server = await startServer();
  const cfg = await oidc.discovery(new URL(`${keycloak.url}/realms/${realm}`), 'bench-client', undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
  let token = (await oidc.clientCredentialsGrant(cfg)).access_token;
  const tokenTimer = setInterval(() => {
    void oidc.clientCredentialsGrant(cfg).then((t) => {
      token = t.access_token;
    });
  }, 240_000);
  tokenTimer.unref();
  const issueHttp = (url: string) => async () => {
    const res = await request(`${url}/v1/realms/${realm}/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/pkcs10' },
      body: csrs[i++ % csrs.length]!,
    });
    if (res.status !== 201) throw new Error(`HTTP ${res.status}`);
  };
  const idleRss = rssMb(server.pid);
  record('server RSS idle', 'MB', [idleRss]);
  const http: Record<number, Scenario> = {};
  for (const c of [1, 16, 64]) {
    const runs: number[] = [];
    let lat: number[] = [];
    let errors = 0;
    let peak = 0;
    for (let r = 0; r < RUNS; r++) {
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(server.pid));
      }, 200);
      const res = await asyncRate(issueHttp(server.url), c);
      clearInterval(sampler);
      runs.push(res.perSecond);
      lat = lat.concat(res.latencies);
      errors += res.errors;
    }
    http[c] = record(`HTTP issuance, P-256 CA, PostgreSQL, concurrency ${c}`, 'certs/s', runs, {
      p50ms: pct(lat, 50),
      p95ms: pct(lat, 95),
      p99ms: pct(lat, 99),
      errors,
      peakRssMb: round(peak),
    });
  }
  // Two server processes on the same PostgreSQL.
  const second = await startServer();
  record(
    'HTTP issuance, 2 server processes, concurrency 64',
    'certs/s',
    await (async () => {
      const out: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const a = asyncRate(issueHttp(server.url), 32);
        const b = asyncRate(issueHttp(second.url), 32);
        const [x, y] = await Promise.all([a, b]);
        out.push(x.perSecond + y.perSecond);
      }
      return out;
    })(),
  );

  // 5. Token verification overhead: an authenticated cheap endpoint against an unauthenticated one,
  // run in alternation so that both see the same machine; the ratio is the median of the pairs'.
  const authedRuns: number[] = [];
  const openRuns: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    authedRuns.push(
      (
        await asyncRate(async () => {
          const res = await request(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        }, 16)
      ).perSecond,
    );
    openRuns.push(
      (
        await asyncRate(async () => {
          const res = await request(`${server.url}/healthz`);
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        }, 16)
      ).perSecond,
    );
  }
  const authed = record('authenticated GET /v1/whoami, concurrency 16', 'req/s', authedRuns);
  const open = record('unauthenticated GET /healthz, concurrency 16', 'req/s', openRuns);
  const authCost = median(openRuns.map((o, i) => o / authedRuns[i]!));
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const jwksFetches = Number(/keyward_jwks_fetches (\d+)/.exec(metrics)?.[1] ?? NaN);
  record('JWKS fetches during the run (one server)', 'fetches', [jwksFetches]);
  const clientLookups = Number(/keyward_client_state_lookups (\d+)/.exec(metrics)?.[1] ?? NaN);
  record('API client state lookups in Keycloak during the run (one server)', 'lookups', [clientLookups]);
  // One client, KEYWARD_ROLE_CACHE_SECONDS=10: at most one lookup per 10 s of the server's life, never one per request.
  const lookupBound = Math.ceil((Date.now() - serverStarted) / 10_000) + 1;

  // 9. Memory under 64-concurrency load for a while: first and second half.
  const soak = QUICK ? 10 : 60;
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMb(server.pid)), 500);
  await asyncRate(issueHttp(server.url), 64, soak);
  clearInterval(sampler);
  const half = Math.floor(samples.length / 2);
  const firstMax = Math.max(...samples.slice(0, half));
  const secondMax = Math.max(...samples.slice(half));
  record(`server RSS under concurrency 64 for ${soak} s (max)`, 'MB', [Math.max(...samples)], {
    firstHalfMaxMb: round(firstMax),
    secondHalfMaxMb: round(secondMax),
  });

  // 7. Provisioning: API clients per second through Keyward against the direct admin REST calls.
  //    The direct side is the fewest calls for the same client (confidential, service account,
  //    the keyward audience scope, one realm role, its secret), with the same overlap of
  //    independent calls as Keyward's: create; scope ‖ service account; role mapping ‖ secret.
  //    Keyward adds validation, the audit event and the answer's effective roles. Samples of
  //    PROVISIONING_CLIENTS clients, Keyward and direct alternating, so both see the same Keycloak.
  const PROVISIONING_CLIENTS = QUICK ? 20 : 40;
  const admin = kw.keycloak.client;
  const scope = (await admin.clientScopes.findOneByName({ realm, name: 'keyward' }))!;
  const role = (await admin.roles.findOneByName({ realm, name: 'keyward-revoker' }))!;
  const viaKeywardRuns: number[] = [];
  const directRuns: number[] = [];
  for (let r = -1; r < Math.min(RUNS, 3); r++) {
    // r = -1 warms both paths up (connections, JIT) and is not recorded
    let t = performance.now();
    const n = r < 0 ? 3 : PROVISIONING_CLIENTS;
    for (let k = 0; k < n; k++)
      await kw.apiClients.create(realm, { clientId: `p${r}-${k}-${randomBytes(2).toString('hex')}`, roles: ['keyward-revoker'] }, 'system');
    if (r >= 0) viaKeywardRuns.push(PROVISIONING_CLIENTS / ((performance.now() - t) / 1000));
    t = performance.now();
    for (let k = 0; k < n; k++) {
      const { id } = await admin.clients.create({
        realm,
        clientId: `d${r}-${k}-${randomBytes(2).toString('hex')}`,
        publicClient: false,
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        directAccessGrantsEnabled: false,
      });
      const [, sa] = await Promise.all([
        admin.clients.addDefaultClientScope({ realm, id, clientScopeId: scope.id! }),
        admin.clients.getServiceAccountUser({ realm, id }),
      ]);
      await Promise.all([
        admin.users.addRealmRoleMappings({ realm, id: sa.id!, roles: [{ id: role.id!, name: role.name! }] }),
        admin.clients.getClientSecret({ realm, id }),
      ]);
    }
    if (r >= 0) directRuns.push(PROVISIONING_CLIENTS / ((performance.now() - t) / 1000));
  }
  const viaKeyward = record('provisioning through Keyward (create API client)', 'clients/s', viaKeywardRuns, {
    clientsPerSample: PROVISIONING_CLIENTS,
  });
  const direct = record('provisioning with the minimum admin REST calls (same result)', 'clients/s', directRuns, {
    clientsPerSample: PROVISIONING_CLIENTS,
  });
  const provisioningRatio = median(viaKeywardRuns.map((x, k) => directRuns[k]! / x));

  // 8. Revocation status: CRL generation for 10,000 and 100,000 entries; OCSP responses per second.
  const { issuing } = await kw.issuance.issuingCa(realm);
  const { buildCrl, openCa } = await import('../services/keyward/src/ca/index.ts');
  const issuingCa = openCa(issuing, Buffer.from(kek, 'base64'));
  const crlTimes: Record<number, Scenario> = {};
  for (const n of [10_000, 100_000]) {
    const entries = Array.from({ length: n }, (_, k) => ({
      serialHex: createHash('sha1').update(String(k)).digest('hex').slice(0, 32).replace(/^0/, '4'),
      revokedAt: new Date(),
      reason: 'keyCompromise' as const,
    }));
    const times: number[] = [];
    let size = 0;
    for (let r = 0; r < (n > 10_000 ? (QUICK ? 1 : 3) : RUNS); r++) {
      const t = performance.now();
      const der = await buildCrl({
        ca: issuingCa,
        entries,
        crlNumber: BigInt(r + 1),
        thisUpdate: new Date(),
        nextUpdate: new Date(Date.now() + 86_400_000),
      });
      times.push((performance.now() - t) / 1000);
      size = der.length;
    }
    crlTimes[n] = record(`CRL generation, ${n} entries`, 's', times, { bytes: size });
  }
  const leafRes = await kw.issuance.issue(realm, principal, { csr: csrs[0]! });
  const leafPem = leafRes.kind === 'issued' ? leafRes.certificate.certificate : '';
  const leafCert = new x509.X509Certificate(leafPem);
  const issuerCert = new x509.X509Certificate(issuing.certificatePem);
  const { AsnConvert } = await import('@peculiar/asn1-schema');
  const asnX509 = await import('@peculiar/asn1-x509');
  const ocspAsn = await import('@peculiar/asn1-ocsp');
  const nameDer = AsnConvert.serialize(AsnConvert.parse(issuerCert.rawData, asnX509.Certificate).tbsCertificate.subject);
  const keyBits = AsnConvert.parse(issuerCert.publicKey.rawData, asnX509.SubjectPublicKeyInfo).subjectPublicKey;
  const { OctetString } = await import('@peculiar/asn1-schema');
  const ocspReq = new Uint8Array(
    AsnConvert.serialize(
      new ocspAsn.OCSPRequest({
        tbsRequest: new ocspAsn.TBSRequest({
          requestList: [
            new ocspAsn.Request({
              reqCert: new ocspAsn.CertID({
                hashAlgorithm: new asnX509.AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
                issuerNameHash: new OctetString(createHash('sha1').update(Buffer.from(nameDer)).digest()),
                issuerKeyHash: new OctetString(createHash('sha1').update(Buffer.from(keyBits)).digest()),
                serialNumber: new Uint8Array(Buffer.from(leafCert.serialNumber, 'hex')).buffer,
              }),
            }),
          ],
        }),
      }),
    ),
  );
  record(
    'OCSP responses over HTTP (POST), concurrency 16',
    'resp/s',
    await (async () => {
      const out: number[] = [];
      for (let r = 0; r < RUNS; r++)
        out.push(
          (
            await asyncRate(async () => {
              const res = await request(`${server.url}/v1/realms/${realm}/ocsp`, {
                method: 'POST',
                headers: { 'content-type': 'application/ocsp-request' },
                body: ocspReq,
              });
              if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
            }, 16)
          ).perSecond,
        );
      return out;
    })(),
  );
  const ocsp = scenarios.at(-1)!;

  // 6. The peer: CloudFlare's cfssl serve (Debian golang-cfssl) on the same CSRs and concurrency:
  //    bare (/sign, no auth, no storage) and doing Keyward's work (/authsign with an HMAC auth key,
  //    its certificate database on the same PostgreSQL). Plus `openssl x509 -req` per process.
  const peer: { bare?: Scenario; same?: Scenario; openssl?: Scenario; missing?: string } = {};
  const cfssl = (() => {
    try {
      return execFileSync('sh', ['-c', 'command -v cfssl'], { encoding: 'utf8' }).trim();
    } catch {
      if (process.getuid?.() === 0) {
        say('installing the peer CA: apt-get install golang-cfssl…');
        try {
          execFileSync('sh', [
            '-c',
            'apt-get install -y -q golang-cfssl >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q ' +
              'golang-cfssl >/dev/null 2>&1)',
          ]);
          return execFileSync('sh', ['-c', 'command -v cfssl'], { encoding: 'utf8' }).trim();
        } catch {
          return '';
        }
      }
      return '';
    }
  })();
  if (!cfssl) peer.missing = 'cfssl is not installed (Debian package golang-cfssl)';
  else {
    const dir = mkdtempSync(`${tmpdir()}/keyward-bench-cfssl-`);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${dir}/ca-key.pem`,
        '-out',
        `${dir}/ca.pem`,
        '-days',
        '365',
        '-subj',
        '/CN=cfssl bench CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      { stdio: 'ignore' },
    );
    const hmacKey = randomBytes(16).toString('hex');
    const usages = ['digital signature', 'server auth', 'client auth'];
    writeFileSync(`${dir}/bare.json`, JSON.stringify({ signing: { default: { expiry: '720h', usages } } }));
    writeFileSync(
      `${dir}/auth.json`,
      JSON.stringify({
        signing: { default: { expiry: '720h', usages, auth_key: 'k' } },
        auth_keys: { k: { type: 'standard', key: hmacKey } },
      }),
    );
    const cfDb = `keyward_bench_cfssl_${randomBytes(4).toString('hex')}`;
    const adminUrl = new URL(database.url);
    adminUrl.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${cfDb}`);
    const cfUrl = new URL(database.url);
    cfUrl.pathname = `/${cfDb}`;
    const c2 = new pg.Client({ connectionString: cfUrl.toString() });
    await c2.connect();
    // cfssl's certdb schema (certdb/pg migrations of cfssl 1.2).
    await c2.query(`CREATE TABLE certificates (serial_number bytea NOT NULL, authority_key_identifier bytea NOT NULL,
      ca_label bytea, status bytea NOT NULL, reason int, expiry timestamptz, revoked_at timestamptz, pem bytea NOT NULL,
      PRIMARY KEY (serial_number, authority_key_identifier));
      CREATE TABLE ocsp_responses (serial_number bytea NOT NULL, authority_key_identifier bytea NOT NULL, body bytea NOT NULL,
      expiry timestamptz, PRIMARY KEY (serial_number, authority_key_identifier))`);
    await c2.end();
    const dsn = new URL(cfUrl.toString());
    dsn.searchParams.set('sslmode', 'disable');
    writeFileSync(`${dir}/db.json`, JSON.stringify({ driver: 'postgres', data_source: dsn.toString() }));
    const startCfssl = async (config: string, db: boolean) => {
      const port = await freePort();
      const child = spawn(
        cfssl,
        [
          'serve',
          '-address',
          '127.0.0.1',
          '-port',
          String(port),
          '-ca',
          `${dir}/ca.pem`,
          '-ca-key',
          `${dir}/ca-key.pem`,
          '-config',
          `${dir}/${config}`,
          '-loglevel',
          '3',
          ...(db ? ['-db-config', `${dir}/db.json`] : []),
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      for (let t = 0; t < 100; t++) {
        try {
          await fetch(`http://127.0.0.1:${port}/api/v1/cfssl/info`, { method: 'POST', body: '{}' });
          return `http://127.0.0.1:${port}`;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error('cfssl serve did not start');
    };
    const bareUrl = await startCfssl('bare.json', false);
    const authUrl = await startCfssl('auth.json', true);
    const bareBodies = csrs.map((c) => JSON.stringify({ certificate_request: c }));
    const authBodies = bareBodies.map((b) =>
      JSON.stringify({
        token: createHmac('sha256', Buffer.from(hmacKey, 'hex')).update(b).digest('base64'),
        request: Buffer.from(b).toString('base64'),
      }),
    );
    const cfCall = (url: string, path: string, bodies: string[]) => async () => {
      const res = await request(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i++ % bodies.length]!,
      });
      const body = JSON.parse(res.body.toString('utf8')) as { success?: boolean };
      if (res.status !== 200 || !body.success) throw new Error(`cfssl answered ${res.status}`);
    };
    for (const [label, url, path, bodies] of [
      ['bare', bareUrl, '/api/v1/cfssl/sign', bareBodies],
      ['same work', authUrl, '/api/v1/cfssl/authsign', authBodies],
    ] as const) {
      for (const c of [1, 64]) {
        const runs: number[] = [];
        let lat: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const res = await asyncRate(cfCall(url, path, bodies), c);
          runs.push(res.perSecond);
          lat = lat.concat(res.latencies);
        }
        const sc = record(`peer: cfssl serve ${label}, concurrency ${c}`, 'certs/s', runs, { p50ms: pct(lat, 50), p99ms: pct(lat, 99) });
        if (c === 64) {
          if (label === 'bare') peer.bare = sc;
          else peer.same = sc;
        }
      }
    }
    const stored = await (async () => {
      const c3 = new pg.Client({ connectionString: cfUrl.toString() });
      await c3.connect();
      const n = Number((await c3.query('SELECT count(*) AS n FROM certificates')).rows[0].n);
      await c3.end();
      return n;
    })();
    say(`cfssl stored ${stored} certificates in PostgreSQL`);
    writeFileSync(`${dir}/req.csr`, csrs[0]!);
    peer.openssl = record(
      'baseline: openssl x509 -req, one process per certificate',
      'certs/s',
      await (async () => {
        const out: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          out.push(
            (
              await asyncRate(
                () =>
                  new Promise<void>((resolve, reject) => {
                    execFile(
                      'openssl',
                      [
                        'x509',
                        '-req',
                        '-in',
                        `${dir}/req.csr`,
                        '-CA',
                        `${dir}/ca.pem`,
                        '-CAkey',
                        `${dir}/ca-key.pem`,
                        '-days',
                        '30',
                        '-set_serial',
                        String(Date.now()),
                        '-out',
                        '/dev/null',
                      ],
                      (err) => (err ? reject(err) : resolve()),
                    );
                  }),
                2,
                SECONDS / 2,
              )
            ).perSecond,
          );
        }
        return out;
      })(),
    );
    for (const c of children.splice(-2)) c.kill('SIGTERM');
    await admin.query(`DROP DATABASE IF EXISTS ${cfDb} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }

  // The performance targets, judged on this run's figures.
  const targets = [
    {
      name: 'HTTP issuance, P-256, concurrency 64, PostgreSQL',
      target: '>= 2000 certs/s and p99 <= 100 ms',
      measured: `${http[64]!.median} certs/s, p99 ${http[64]!.extra!.p99ms} ms`,
      met: http[64]!.median >= 2000 && Number(http[64]!.extra!.p99ms) <= 100,
    },
    {
      name: 'in-process issuance vs same-run floor (verify + sign, 1 core x cores)',
      target: '>= 50 %',
      measured:
        `${round((100 * inProcess.median) / (floor.median * cpus().length))} % ` +
        `(${inProcess.median} vs ${round(floor.median * cpus().length)}; CPU per certificate ` +
        `${inProcess.extra!.cpuUsPerCertKeyward} µs Keyward + ${inProcess.extra!.cpuUsPerCertPostgres} µs PostgreSQL, ` +
        `floor ${round(1e6 / floor.median)} µs)`,
      met: inProcess.median >= 0.5 * floor.median * cpus().length,
    },
    peer.same
      ? {
          name: 'Keyward vs cfssl serve doing the same work, concurrency 64',
          target: '>= 1.0x',
          measured:
            `${round(http[64]!.median / peer.same.median)}x (${http[64]!.median} vs ${peer.same.median} certs/s; ` +
            `vs bare cfssl ${round(http[64]!.median / peer.bare!.median)}x)`,
          met: http[64]!.median >= peer.same.median,
        }
      : { name: 'Keyward vs cfssl serve doing the same work', target: '>= 1.0x', measured: `not measured: ${peer.missing}`, met: false },
    {
      name: 'authenticated request cost vs unauthenticated',
      target: '<= 1.3x',
      measured: `${round(authCost)}x (median of alternating pairs; ${Math.round(authed.median)} vs ${Math.round(open.median)} req/s)`,
      met: authCost <= 1.3,
    },
    {
      name: 'API client state lookups in steady state',
      target: '<= 1 per client per cache period (10 s)',
      measured: `${clientLookups} lookup(s) in all, bound ${lookupBound}`,
      met: clientLookups <= lookupBound,
    },
    {
      name: 'JWKS fetches in steady state',
      target: '0 after the initial fetch',
      measured: `${jwksFetches} fetch(es) in all`,
      met: jwksFetches <= 1,
    },
    { name: 'CRL of 100,000 entries', target: '<= 2 s', measured: `${crlTimes[100_000]!.median} s`, met: crlTimes[100_000]!.median <= 2 },
    { name: 'OCSP', target: '>= 5000 responses/s', measured: `${ocsp.median} resp/s`, met: ocsp.median >= 5000 },
    {
      name: 'provisioning cost vs direct admin REST',
      target: '<= 1.5x',
      measured: `${round(provisioningRatio)}x (median of per-sample ratios; ${viaKeyward.median} vs ${direct.median} clients/s)`,
      met: provisioningRatio <= 1.5,
    },
    {
      name: 'server RSS under 64-concurrency load',
      target: '<= 256 MB, no growth in the second half',
      measured:
        `${scenarios.find((s) => s.name.startsWith('server RSS under'))!.median} MB ` +
        `(halves ${round(firstMax)} / ${round(secondMax)} MB)`,
      met: Math.max(firstMax, secondMax) <= 256 && secondMax <= firstMax * 1.05,
    },
  ];
  void lib;
  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    seconds: Math.round((Date.now() - started) / 1000),
    scenarios,
    targets,
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/latest.json`, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# Keyward benchmarks (${result.date}, ${QUICK ? 'quick' : 'full'}, ${result.machine.cores} cores, Node ${process.version})`,
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
    '| Target | Goal | Measured | Met |',
    '| --- | --- | --- | --- |',
    ...targets.map((t) => `| ${t.name} | ${t.target} | ${t.measured} | ${t.met ? 'yes' : 'no'} |`),
    '',
  ].join('\n');
  writeFileSync(`${ROOT}bench/results/latest.md`, md);
  process.stdout.write(md);
  await kw.close();
} finally {
  await cleanup();
}
process.exit(0);
