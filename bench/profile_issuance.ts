/**
 * In-process issuance against the same-run crypto floor, for profiling:
 *
 *   node [--cpu-prof] bench/profile_issuance.ts [--seconds 4] [--concurrency 64] [--no-floor] [--no-seal]
 *
 * Starts a Keycloak (or uses KEYWARD_KEYCLOAK_URL) and a fresh PostgreSQL
 * database through the test harness, composes Keyward in this process and
 * issues certificates through IssuanceService.issue — CSR parse, proof of
 * possession, policy, build, sign and the durable store — interleaved with
 * the floor (CSR verify + certificate sign, one core) so both see the same
 * machine. Prints the figures, the ratio to floor × cores and the CPU time
 * per certificate of this process (all threads) and of PostgreSQL (Linux
 * /proc). --no-floor skips the floor slices (a clean profile), --no-seal skips
 * the audit sealer (its share). With --cpu-prof node writes one profile per
 * thread (the main thread and the crypto worker).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateKeyPairSync, randomBytes, sign, verify, webcrypto } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../services/keyward/src/keycloak/bootstrap.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import type { Principal } from '../services/keyward/src/authn/principal.ts';
import { postgresCpuSeconds } from './proc.ts';

x509.cryptoProvider.set(webcrypto as never);

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const SECONDS = arg('--seconds', 4);
const CONCURRENCY = arg('--concurrency', 64);
const ROUNDS = 4;
const say = (s: string) => process.stderr.write(`» ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function makeCsr(i: number): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=s${i}.bench.internal`,
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `s${i}.bench.internal` }])],
  });
  return csr.toString('pem');
}

const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
try {
  const boot = await bootstrap({
    url: keycloak.url,
    adminUser: keycloak.adminUser,
    adminPassword: keycloak.adminPassword,
    clientId: 'keyward-control-plane',
    audience: 'keyward',
    operatorClientId: 'keyward-bench-operator',
  });
  const config = loadConfig(
    { HOME: process.env.HOME },
    {
      KEYWARD_DATABASE_URL: database.url,
      KEYWARD_KEYCLOAK_URL: keycloak.url,
      KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
      KEYWARD_KEK: randomBytes(32).toString('base64'),
      KEYWARD_LOG_LEVEL: 'error',
      KEYWARD_DATA_DIR: `/tmp/keyward-bench-${process.pid}`,
      KEYWARD_ROLE_CACHE_SECONDS: '10',
      KEYWARD_PORT: '0',
    },
  );
  const kw = await compose(config, { log: silentLogger });
  // --no-seal: the audit sealer (a background job, one UPDATE per event) skipped, to measure its share.
  if (process.argv.includes('--no-seal')) (kw.audit as { seal: unknown }).seal = async () => 0;
  try {
    const realm = 'bench';
    await kw.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
    await kw.policies.put(
      realm,
      'svc',
      {
        keyTypes: ['EC-P256'],
        maxValidityDays: 30,
        subject: { required: ['CN'], allowed: ['CN'] },
        san: { dns: ['*.bench.internal'], ip: [], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
        approval: 'none',
      },
      'system',
    );
    const clientId = `bench-client-${randomBytes(3).toString('hex')}`;
    await kw.apiClients.create(realm, { clientId, defaultPolicy: { realm, name: 'svc' } }, 'system');
    const saId = await kw.identity.serviceAccountId(realm, (await kw.identity.findClient(realm, clientId))!);
    const principal: Principal = {
      credential: 'bearer',
      kind: 'client',
      realm,
      subject: saId,
      clientId,
      username: `service-account-${clientId}`,
      credentialRoles: [],
    };
    const csrs = await Promise.all(Array.from({ length: 200 }, (_, i) => makeCsr(i)));
    await kw.issuance.issuingCa(realm);

    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tbs = randomBytes(600);
    const ecSig = sign('sha256', tbs, ec.privateKey);
    const floorSlice = (ms: number) => {
      const end = performance.now() + ms;
      const start = performance.now();
      let n = 0;
      while (performance.now() < end) {
        for (let k = 0; k < 20; k++) {
          verify('sha256', tbs, ec.publicKey, ecSig);
          sign('sha256', tbs, ec.privateKey);
        }
        n += 20;
      }
      return n / ((performance.now() - start) / 1000);
    };
    let i = 0;
    let errors = 0;
    let total = 0;
    const issueSlice = async (ms: number) => {
      const end = performance.now() + ms;
      const start = performance.now();
      let n = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            try {
              await kw.issuance.issue(realm, principal, { csr: csrs[i++ % csrs.length]! });
              n++;
              total++;
            } catch (err) {
              if (errors++ === 0) say(`first error: ${String(err)}`);
            }
          }
        }),
      );
      return n / ((performance.now() - start) / 1000);
    };
    await issueSlice(500); // warm
    total = 0;
    let cpuMicros = 0;
    let pgSeconds = 0;
    const floors: number[] = [];
    const issued: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      floors.push(process.argv.includes('--no-floor') ? 1 : floorSlice((SECONDS * 1000) / ROUNDS / 2));
      const c0 = process.cpuUsage();
      const pg0 = postgresCpuSeconds();
      issued.push(await issueSlice((SECONDS * 1000) / ROUNDS));
      const c = process.cpuUsage(c0);
      cpuMicros += c.user + c.system;
      pgSeconds += postgresCpuSeconds() - pg0;
    }
    process.stdout.write(
      `CPU per certificate: this process ${Math.round(cpuMicros / total)} µs (all threads), PostgreSQL ` +
        `${Math.round((pgSeconds * 1e6) / total)} µs (${total} certificates)\n`,
    );
    const cores = cpus().length;
    const ratios = issued.map((x, k) => x / (floors[k]! * cores));
    process.stdout.write(`floor (verify + sign, 1 core)      ${Math.round(median(floors))} /s\n`);
    process.stdout.write(`in-process issuance, ${CONCURRENCY} in flight   ${Math.round(median(issued))} /s (${errors} errors)\n`);
    process.stdout.write(
      `ratio to floor x ${cores} cores          ${(100 * median(ratios)).toFixed(1)} % (rounds: ` +
        `${ratios.map((x) => (100 * x).toFixed(1)).join(', ')})\n`,
    );
  } finally {
    await kw.close();
  }
} finally {
  await database.drop().catch(() => {});
  await keycloak.stop();
}
