/**
 * The scale benchmark: `npm run bench -- --scale [--scale-max N] [--quick]`.
 *
 * Loads certificates into a fresh database of one realm with a real CA, in
 * rungs of 10,000 → 100,000 → 1,000,000 (`--scale-max` stops earlier;
 * `--quick` at 100,000), and at each rung measures, first without and then
 * with the indexes of migration 017 (the same run, the same rows):
 * certificate search for each filter the API offers, a deep page, CRL
 * generation (the streamed builder Keyward uses and the former in-memory one,
 * time and peak memory), OCSP over HTTP for random serials, and the database
 * size per certificate. The PAT admin view is measured once with 100,000
 * tokens. Writes bench/results/scale.json and bench/results/scale.md.
 *
 * Rows: every certificate is really signed by the realm's issuing CA (the CA
 * domain's own checkRequest + signRequest, P-256 keys from a pool of 32
 * CSRs, each certificate with its own serial, subject and SANs), and written
 * with the store's columns by one multi-row INSERT … SELECT FROM unnest(…) per
 * batch of 5,000 rows (audit events are not written).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asnX509 from '@peculiar/asn1-x509';
import * as ocspAsn from '@peculiar/asn1-ocsp';
import { startKeycloak, testDatabase, freePort } from '../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../services/keyward/src/keycloak/bootstrap.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { newSerialHex } from '../services/keyward/src/kernel/ids.ts';
import type { Principal } from '../services/keyward/src/authn/principal.ts';
import {
  buildCrl,
  buildCrlStreamed,
  checkRequest,
  openCa,
  parseCsr,
  parsePolicy,
  signRequest,
  type RevocationReason,
} from '../services/keyward/src/ca/index.ts';
import { sanStrings } from '../services/keyward/src/ca/san.ts';
import { migrationFiles } from '../services/keyward/src/storage/database.ts';
import { revokedBatches } from '../services/keyward/src/storage/issuance_store.ts';
import { request } from './load.ts';
import { renderScale } from './scale_report.ts';

x509.cryptoProvider.set(webcrypto as never);

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const optValue = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const MAX = Number(optValue('--scale-max') ?? (QUICK ? 100_000 : 1_000_000));
if (!Number.isInteger(MAX) || MAX < 1000) throw new Error('--scale-max takes a whole number of at least 1000');
const LADDER = [10_000, 100_000, 1_000_000].filter((n) => n <= MAX);
if (!LADDER.includes(MAX)) LADDER.push(MAX);
const PATS = Number(optValue('--pats') ?? 100_000);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = `${ROOT}bin/keyward`;
const SERVER_NODE_OPTIONS = process.env.KEYWARD_BENCH_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=192';
const DAY = 86_400_000;
const BATCH = 5000;
/** Samples per figure: at most this many, or as many as fit in the time below (at least MIN_SAMPLES). */
const MAX_SAMPLES = QUICK ? 100 : 200;
const SAMPLE_SECONDS = QUICK ? 3 : 6;
const MIN_SAMPLES = 5;

const say = (s: string) => process.stderr.write(`» ${s}\n`);
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);
const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

interface Timing {
  p50: number;
  p99: number;
  n: number;
}
async function timed(fn: (k: number) => Promise<unknown>): Promise<Timing> {
  const ms: number[] = [];
  await fn(-1); // warm-up, not counted
  const end = performance.now() + SAMPLE_SECONDS * 1000;
  while (ms.length < MIN_SAMPLES || (ms.length < MAX_SAMPLES && performance.now() < end)) {
    const t = performance.now();
    await fn(ms.length);
    ms.push(performance.now() - t);
  }
  return { p50: round(pct(ms, 50)), p99: round(pct(ms, 99)), n: ms.length };
}

// ------------------------------------------------------------------ what the rows are made of

const POLICIES = ['web', 'mesh', 'db', 'batch', 'edge', 'iot', 'vpn', 'internal'];
const VALIDITY = [30, 90, 90, 180, 365, 397];
const REASONS: RevocationReason[] = ['keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged', 'unspecified'];
const TEAMS = 40;
const REQUESTERS = 500;
const END_ENTITIES = 1000;
/** The row's pseudo-random number in [0, 1): the same row gets the same values in every run. */
const hash01 = (i: number, salt: string) => createHash('sha1').update(`${salt}${i}`).digest().readUInt32BE(0) / 2 ** 32;

async function makeCsr(i: number): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=pool-${i}.bench.internal`,
    keys: keys as never,
    signingAlgorithm: alg,
  });
  return csr.toString('pem');
}

// ------------------------------------------------------------------ main

const started = Date.now();
say(`Keyward scale benchmark: rungs ${LADDER.join(' → ')} certificates, ${PATS} PATs, ${cpus().length} cores, Node ${process.version}`);
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

const db = new pg.Pool({ connectionString: database.url, max: 4 });
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
    KEYWARD_DATA_DIR: `${tmpdir()}/keyward-bench-scale-${process.pid}`,
    // The tokens' users exist only in this database: the sweep would remove them as users without access.
    KEYWARD_PAT_SWEEP_SECONDS: '0',
  };
  const config = loadConfig({ HOME: process.env.HOME }, { ...baseEnv, KEYWARD_PORT: '0' });
  const realm = `scale-${randomBytes(3).toString('hex')}`;
  // The CAs are made 400 days in the past, so that a year of issuance (and its expired certificates) fits their validity.
  const caStart = Date.now() - 400 * DAY;
  {
    const past = await compose(config, { log: silentLogger, clock: { now: () => new Date(caStart) } });
    await past.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
    await past.issuance.issuingCa(realm);
    await past.close();
  }
  const kw = await compose(config, { log: silentLogger });
  for (const name of POLICIES)
    await kw.policies.put(
      realm,
      name,
      {
        keyTypes: ['EC-P256'],
        maxValidityDays: 397,
        subject: { required: ['CN'], allowed: ['CN', 'O', 'OU'] },
        san: { dns: ['*.bench.internal'], ip: ['10.0.0.0/8'], uri: [], email: [] },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
        approval: 'none',
      },
      'system',
    );
  const { issuing } = await kw.issuance.issuingCa(realm);
  const ca = openCa(issuing, Buffer.from(kek, 'base64'));
  const operator: Principal = {
    credential: 'bearer',
    kind: 'user',
    realm: 'master',
    subject: 'bench-operator',
    username: 'bench-operator',
    clientId: 'keyward-console',
    credentialRoles: ['keyward-operator'],
  };
  const policy = parsePolicy({
    keyTypes: ['EC-P256'],
    maxValidityDays: 397,
    subject: { required: ['CN'], allowed: ['CN', 'O', 'OU'] },
    san: { dns: ['*.bench.internal'], ip: ['10.0.0.0/8'], uri: [], email: [] },
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth', 'clientAuth'],
    approval: 'none',
  });
  say('making the CSR pool…');
  const pool = await Promise.all(Array.from({ length: 32 }, (_, i) => makeCsr(i).then((pem) => parseCsr(pem))));
  const requesters = Array.from({ length: REQUESTERS }, (_, k) => ({
    kind: k % 5 === 0 ? 'user' : 'client',
    realm,
    id: randomUUID(),
    name: k % 5 === 0 ? `user-${k}` : `svc-${k}`,
  }));
  const base = `http://keyward.bench/v1/realms/${realm}`;
  const now = Date.now();
  const span = 365 * DAY; // issuance spread over the last year
  const subjectOf = (i: number) => `host-${i}-t${i % TEAMS}.bench.internal`;

  async function rowsFor(from: number, to: number, total: number) {
    const cols = Array.from({ length: 17 }, () => [] as unknown[]);
    for (let i = from; i < to; i++) {
      const cn = subjectOf(i);
      const issuedAt = new Date(now - span + Math.floor(((i + hash01(i, 'jitter')) / total) * (span - DAY)));
      const validityDays = VALIDITY[Math.floor(hash01(i, 'validity') * VALIDITY.length)]!;
      const checked = checkRequest({
        csr: pool[i % pool.length]!,
        policy,
        validityDays,
        subjectOverride: [
          { type: 'CN', value: cn },
          { type: 'O', value: 'Bench Corp' },
          { type: 'OU', value: `team-${i % TEAMS}` },
        ],
        sansOverride: {
          dns: [cn, `alt-${i}.bench.internal`],
          ip: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
          uri: [],
          email: [],
        },
      });
      const serial = newSerialHex();
      const issued = await signRequest(checked, { ca, serialHex: serial, now: issuedAt, crlUrl: `${base}/crl`, ocspUrl: `${base}/ocsp` });
      const requester = requesters[Math.floor(hash01(i, 'requester') * REQUESTERS)]!;
      const revoked = hash01(i, 'revoked') < 0.02;
      const revokedAt = revoked
        ? new Date(
            issued.notBefore.getTime() +
              Math.floor(hash01(i, 'when') * (Math.min(now, issued.notAfter.getTime()) - issued.notBefore.getTime())),
          )
        : null;
      const values = [
        serial,
        realm,
        issuing.id,
        issued.subject,
        JSON.stringify(sanStrings(issued.sans)),
        POLICIES[i % POLICIES.length]!,
        i % 10 === 0 ? `ee-${(i / 10) % END_ENTITIES}` : null,
        JSON.stringify(requester),
        `${requester.realm}/${requester.id}`,
        issued.keyType,
        issued.notBefore,
        issued.notAfter,
        revoked ? 'revoked' : 'valid',
        revokedAt,
        revoked ? REASONS[i % REASONS.length]! : null,
        Buffer.from(issued.der),
        issued.notBefore,
      ];
      for (let c = 0; c < 17; c++) cols[c]!.push(values[c]);
    }
    return cols;
  }
  const INSERT =
    'INSERT INTO certificates (serial, realm, ca_id, subject, sans, policy, end_entity, requester, requester_key, key_type, ' +
    'not_before, not_after, status, revoked_at, revocation_reason, der, created_at) SELECT * FROM unnest($1::text[], $2::text[], ' +
    '$3::uuid[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::timestamptz[], ' +
    '$12::timestamptz[], $13::text[], $14::timestamptz[], $15::text[], $16::bytea[], $17::timestamptz[])';

  /** Loads rows [from, to): signing the next batch while the previous one is written. */
  async function load(from: number, to: number, total: number): Promise<{ seconds: number; signSeconds: number }> {
    const t0 = performance.now();
    let signMs = 0;
    let writing: Promise<unknown> = Promise.resolve();
    for (let i = from; i < to; i += BATCH) {
      const s = performance.now();
      const cols = await rowsFor(i, Math.min(to, i + BATCH), total);
      signMs += performance.now() - s;
      await writing;
      writing = db.query(INSERT, cols);
      if ((i - from) % (BATCH * 20) === 0) say(`  loaded ${i.toLocaleString('en')} of ${to.toLocaleString('en')}`);
    }
    await writing;
    return { seconds: (performance.now() - t0) / 1000, signSeconds: signMs / 1000 };
  }

  // ---------------------------------------------------------------- migration 017: undo (before) and apply (after)

  const migrations = migrationFiles();
  const m017 = migrations.find((m) => m.version === 17);
  if (!m017) throw new Error('migration 017 is missing');
  const created = [...m017.sql.matchAll(/CREATE INDEX (?:IF NOT EXISTS )?(\w+)/g)].map((m) => m[1]!);
  const dropped = [...m017.sql.matchAll(/DROP INDEX (?:IF EXISTS )?(\w+)/g)].map((m) => m[1]!);
  const earlierDefinition = (name: string) => {
    for (const m of migrations.filter((x) => x.version < 17)) {
      const d = new RegExp(`CREATE (?:UNIQUE )?INDEX ${name} [^;]+;`).exec(m.sql);
      if (d) return d[0];
    }
    throw new Error(`no earlier definition of index ${name}`);
  };
  async function schema(which: 'before' | 'after') {
    const t = performance.now();
    if (which === 'before') {
      for (const n of created) await db.query(`DROP INDEX IF EXISTS ${n}`);
      for (const n of dropped) await db.query(earlierDefinition(n).replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX IF NOT EXISTS '));
    } else {
      await db.query(m017!.sql);
    }
    await db.query('ANALYZE certificates');
    await db.query('ANALYZE personal_access_tokens');
    return (performance.now() - t) / 1000;
  }

  // ---------------------------------------------------------------- EXPLAIN of what the store sends

  let capture: { text: string; params: unknown[] } | undefined;
  const dbAny = kw.db as unknown as { query: (q: unknown, p?: unknown[]) => Promise<unknown> };
  const realQuery = dbAny.query.bind(kw.db);
  dbAny.query = (q: unknown, p?: unknown[]) => {
    const text = typeof q === 'string' ? q : (q as { text: string }).text;
    if (capture === undefined && /FROM (certificates|personal_access_tokens)/.test(text) && !/count\(\*\)/.test(text))
      capture = { text, params: p ?? [] };
    return realQuery(q, p);
  };
  /** The plan of the first certificates/PAT query `fn` sends: node types and the indexes they use. */
  async function plan(fn: () => Promise<unknown>): Promise<string> {
    capture = undefined;
    await fn();
    const c = capture as { text: string; params: unknown[] } | undefined;
    if (!c) return '';
    capture = { text: '', params: [] }; // stop capturing
    const r = await db.query(`EXPLAIN (FORMAT JSON) ${c.text}`, c.params);
    const out: string[] = [];
    const walk = (n: Record<string, unknown>) => {
      const idx = n['Index Name'] ? ` ${n['Index Name'] as string}` : n['Relation Name'] ? ` ${n['Relation Name'] as string}` : '';
      out.push(`${n['Node Type'] as string}${idx}`);
      for (const k of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(k);
    };
    walk((r.rows[0] as { 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> })['QUERY PLAN'][0]!.Plan);
    return out.join(' › ');
  }

  // ---------------------------------------------------------------- the OCSP server

  const port = await freePort();
  const child = spawn(BIN, ['serve'], {
    env: { ...process.env, ...baseEnv, KEYWARD_PORT: String(port), NODE_OPTIONS: SERVER_NODE_OPTIONS },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const serverUrl = `http://127.0.0.1:${port}`;
  for (let t = 0; ; t++) {
    try {
      if ((await fetch(`${serverUrl}/healthz`)).ok) break;
    } catch {
      /* starting */
    }
    if (t > 300) throw new Error('keyward serve did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const issuerCert = new x509.X509Certificate(issuing.certificatePem);
  const nameDer = AsnConvert.serialize(AsnConvert.parse(issuerCert.rawData, asnX509.Certificate).tbsCertificate.subject);
  const keyBits = AsnConvert.parse(issuerCert.publicKey.rawData, asnX509.SubjectPublicKeyInfo).subjectPublicKey;
  const nameHash = createHash('sha1').update(Buffer.from(nameDer)).digest();
  const keyHash = createHash('sha1').update(Buffer.from(keyBits)).digest();
  const ocspRequest = (serialHex: string) =>
    new Uint8Array(
      AsnConvert.serialize(
        new ocspAsn.OCSPRequest({
          tbsRequest: new ocspAsn.TBSRequest({
            requestList: [
              new ocspAsn.Request({
                reqCert: new ocspAsn.CertID({
                  hashAlgorithm: new asnX509.AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
                  issuerNameHash: new OctetString(nameHash),
                  issuerKeyHash: new OctetString(keyHash),
                  serialNumber: new Uint8Array(Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex')).buffer,
                }),
              }),
            ],
          }),
        }),
      ),
    );
  /** OCSP over HTTP at 16 in flight, each request for another random serial (no cache hit). */
  async function ocspRun(): Promise<Timing & { perSecond: number; errors: number }> {
    const serials = (await db.query<{ serial: string }>('SELECT serial FROM certificates ORDER BY random() LIMIT 12000')).rows.map(
      (r) => r.serial,
    );
    const bodies = serials.map(ocspRequest);
    const ms: number[] = [];
    let errors = 0;
    let next = 0;
    const t0 = performance.now();
    const end = t0 + SAMPLE_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < bodies.length && performance.now() < end) {
          const body = bodies[next++]!;
          const t = performance.now();
          const res = await request(`${serverUrl}/v1/realms/${realm}/ocsp`, {
            method: 'POST',
            headers: { 'content-type': 'application/ocsp-request' },
            body,
          });
          if (res.status !== 200 || res.body.length <= 5) errors++;
          else ms.push(performance.now() - t);
        }
      }),
    );
    return {
      p50: round(pct(ms, 50)),
      p99: round(pct(ms, 99)),
      n: ms.length,
      perSecond: round(ms.length / ((performance.now() - t0) / 1000)),
      errors,
    };
  }

  // ---------------------------------------------------------------- CRL: time and peak memory

  async function memoryPeak<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; rssMb: number; heapMb: number }> {
    gc();
    const m0 = process.memoryUsage();
    let rss = m0.rss;
    let heap = m0.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rss = Math.max(rss, m.rss);
      heap = Math.max(heap, m.heapUsed);
    }, 2);
    const t = performance.now();
    const value = await fn();
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    return { value, seconds, rssMb: (rss - m0.rss) / 2 ** 20, heapMb: (heap - m0.heapUsed) / 2 ** 20 };
  }
  const crlTimes = () => {
    const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000);
    return { crlNumber: BigInt(Date.now()), thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + DAY) };
  };
  async function crlRuns() {
    const streamed: Array<{ seconds: number; rssMb: number; heapMb: number; bytes: number }> = [];
    const inMemory: typeof streamed = [];
    for (let r = 0; r < 3; r++) {
      // Keyward's path: a cursor in a transaction, batches encoded as they arrive.
      const s = await memoryPeak(async () => {
        const client = await db.connect();
        try {
          await client.query('BEGIN');
          const out = await buildCrlStreamed({ ca, ...crlTimes(), entries: revokedBatches(client, issuing.id) });
          await client.query('COMMIT');
          return out.der.length;
        } finally {
          client.release();
        }
      });
      streamed.push({ ...s, bytes: s.value });
      // The former path: every revoked row read at once, then the whole list encoded.
      const m = await memoryPeak(async () => {
        const rows = await db.query<{ serial: string; revoked_at: Date; revocation_reason: RevocationReason }>(
          "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE ca_id = $1 AND status = 'revoked' " +
            'ORDER BY revoked_at, serial',
          [issuing.id],
        );
        const entries = rows.rows.map((x) => ({ serialHex: x.serial, revokedAt: x.revoked_at, reason: x.revocation_reason }));
        return (await buildCrl({ ca, ...crlTimes(), entries })).length;
      });
      inMemory.push({ ...m, bytes: m.value });
    }
    const med = (xs: typeof streamed, k: 'seconds' | 'rssMb' | 'heapMb') =>
      round(
        pct(
          xs.map((x) => x[k]),
          50,
        ),
      );
    const max = (xs: typeof streamed, k: 'rssMb' | 'heapMb') => round(Math.max(...xs.map((x) => x[k])));
    // Through the service as well: Keyward's own refresh (number, lock, save), timed.
    await db.query('UPDATE crls SET next_update = now() WHERE ca_id = $1', [issuing.id]);
    const t = performance.now();
    await kw.issuance.crl(realm);
    const serviceSeconds = (performance.now() - t) / 1000;
    return {
      entries: Number((await db.query("SELECT count(*) AS n FROM certificates WHERE status = 'revoked'")).rows[0].n),
      bytes: streamed[0]!.bytes,
      streamedSeconds: med(streamed, 'seconds'),
      streamedRssMb: max(streamed, 'rssMb'),
      streamedHeapMb: max(streamed, 'heapMb'),
      inMemorySeconds: med(inMemory, 'seconds'),
      inMemoryRssMb: max(inMemory, 'rssMb'),
      inMemoryHeapMb: max(inMemory, 'heapMb'),
      serviceSeconds: round(serviceSeconds),
    };
  }

  // ---------------------------------------------------------------- certificate search, each filter

  const pick = (k: number, n: number) => Math.floor(hash01(k, `pick${n}`) * n);
  const searches = (n: number): Array<[string, (k: number) => Parameters<typeof kw.issuance.search>[2]]> => [
    ['no filter, first page', () => ({ first: 0, max: 50 })],
    ['no filter, page at offset n/2', () => ({ first: Math.floor(n / 2), max: 50 })],
    ['status=valid', () => ({ status: 'valid', first: 0, max: 50 })],
    ['status=revoked', () => ({ status: 'revoked', first: 0, max: 50 })],
    ['status=expired', () => ({ status: 'expired', first: 0, max: 50 })],
    ['subject (substring)', (k) => ({ subject: `host-${pick(k, n)}-t`, first: 0, max: 50 })],
    ['san', (k) => ({ san: `dns:${subjectOf(pick(k, n))}`, first: 0, max: 50 })],
    ['requester', (k) => ({ requester: requesters[pick(k, REQUESTERS)]!.name, first: 0, max: 50 })],
    ['policy', (k) => ({ policy: POLICIES[pick(k, POLICIES.length)]!, first: 0, max: 50 })],
    ['end entity', (k) => ({ endEntity: `ee-${pick(k, Math.min(END_ENTITIES, n / 10))}`, first: 0, max: 50 })],
    ['expiring before (+30 days)', () => ({ expiringBefore: new Date(Date.now() + 30 * DAY), first: 0, max: 50 })],
  ];

  async function sizes() {
    const r = await db.query(
      `SELECT count(*) AS n, pg_total_relation_size('certificates') AS total, pg_relation_size('certificates') AS heap,
              pg_indexes_size('certificates') AS idx FROM certificates`,
    );
    const x = r.rows[0] as { n: string; total: string; heap: string; idx: string };
    const n = Number(x.n);
    return {
      perCertBytes: Math.round(Number(x.total) / n),
      heapPerCert: Math.round(Number(x.heap) / n),
      indexPerCert: Math.round(Number(x.idx) / n),
    };
  }

  type Measured = Record<string, number | string>;
  async function measure(n: number, which: 'before' | 'after'): Promise<{ figures: Measured; plans: Record<string, string> }> {
    const figures: Measured = {};
    const plans: Record<string, string> = {};
    for (const [name, filter] of searches(n)) {
      plans[`search: ${name}`] = await plan(() => kw.issuance.search(realm, operator, filter(0)));
      const t = await timed(async (k) => {
        const items = await kw.issuance.search(realm, operator, filter(k));
        if (k === 0 && !items.length && !name.startsWith('status=expired')) say(`  (search ${name} found nothing)`);
      });
      figures[`search: ${name} p50 ms`] = t.p50;
      figures[`search: ${name} p99 ms`] = t.p99;
      say(`  [${n} ${which}] search ${name}: p50 ${t.p50} ms, p99 ${t.p99} ms (${t.n} samples)`);
    }
    // Keyset paging (after=serial) to the same deep page: the same rows as the offset page, at the first page's cost.
    const deep = Math.floor(n / 2);
    const [anchor] = await kw.issuance.search(realm, operator, { first: deep - 1, max: 1 });
    const byOffset = (await kw.issuance.search(realm, operator, { first: deep, max: 50 })).map((v) => v.serialNumber);
    const byKeyset = (await kw.issuance.search(realm, operator, { after: anchor!.serialNumber, first: 0, max: 50 })).map(
      (v) => v.serialNumber,
    );
    if (JSON.stringify(byOffset) !== JSON.stringify(byKeyset)) throw new Error('the keyset page differs from the offset page');
    plans['search: no filter, keyset page after n/2'] = await plan(() =>
      kw.issuance.search(realm, operator, { after: anchor!.serialNumber, first: 0, max: 50 }),
    );
    const ks = await timed(() => kw.issuance.search(realm, operator, { after: anchor!.serialNumber, first: 0, max: 50 }));
    figures['search: no filter, keyset page after n/2 p50 ms'] = ks.p50;
    figures['search: no filter, keyset page after n/2 p99 ms'] = ks.p99;
    say(
      `  [${n} ${which}] search keyset page after n/2: p50 ${ks.p50} ms, p99 ${ks.p99} ms (${ks.n} samples; same rows as the offset page)`,
    );
    const o = await ocspRun();
    figures['OCSP over HTTP p50 ms'] = o.p50;
    figures['OCSP over HTTP p99 ms'] = o.p99;
    figures['OCSP over HTTP resp/s (16 in flight)'] = o.perSecond;
    say(`  [${n} ${which}] OCSP: p50 ${o.p50} ms, p99 ${o.p99} ms, ${o.perSecond}/s, ${o.errors} errors`);
    const c = await crlRuns();
    figures['CRL entries'] = c.entries;
    figures['CRL bytes'] = c.bytes;
    figures['CRL streamed (Keyward) s'] = c.streamedSeconds;
    figures['CRL streamed peak RSS delta MB'] = c.streamedRssMb;
    figures['CRL streamed peak heap delta MB'] = c.streamedHeapMb;
    figures['CRL in memory (former) s'] = c.inMemorySeconds;
    figures['CRL in memory peak RSS delta MB'] = c.inMemoryRssMb;
    figures['CRL in memory peak heap delta MB'] = c.inMemoryHeapMb;
    figures['CRL through the service (lock, sign, save) s'] = c.serviceSeconds;
    say(`  [${n} ${which}] CRL ${c.entries} entries: streamed ${c.streamedSeconds} s, in memory ${c.inMemorySeconds} s`);
    const s = await sizes();
    figures['database bytes per certificate (table + TOAST + indexes)'] = s.perCertBytes;
    figures['  of which heap'] = s.heapPerCert;
    figures['  of which indexes'] = s.indexPerCert;
    return { figures, plans };
  }

  // ---------------------------------------------------------------- PAT admin view

  async function loadPats(count: number) {
    await db.query(
      `INSERT INTO personal_access_tokens (id, realm, user_id, username, name, token_hash, expires_in_days, created_at, expires_at,
         last_used_at)
       SELECT substr(md5('pat' || g), 1, 16), $1, 'u-' || (g % 5000), 'user-' || lpad((g % 5000)::text, 4, '0'), 'token ' || g,
              sha256(('t' || g)::bytea), d, c, c + d * interval '1 day',
              CASE WHEN g % 3 = 0 THEN NULL ELSE c + (g % 20) * interval '1 day' END
         FROM (SELECT g, 30 + g % 335 AS d, now() - (g % 365) * interval '1 day' - (g % 86400) * interval '1 second' AS c
                 FROM generate_series(1, $2::int) g) s`,
      [realm, count],
    );
  }
  const patSorts = ['expiresAt', '-createdAt', 'username', '-lastUsedAt'] as const;
  async function measurePats(which: string) {
    const figures: Measured = {};
    const plans: Record<string, string> = {};
    for (const sort of patSorts)
      for (const first of [0, Math.floor(PATS / 2)]) {
        const name = `PAT admin view, sort ${sort}, ${first ? `page at offset ${first.toLocaleString('en')}` : 'first page'}`;
        plans[name] = await plan(() => kw.pats.adminList(realm, operator, { sort, first, max: 100 }));
        const t = await timed(() => kw.pats.adminList(realm, operator, { sort, first, max: 100 }));
        figures[`${name} p50 ms`] = t.p50;
        figures[`${name} p99 ms`] = t.p99;
        say(`  [PAT ${which}] ${name}: p50 ${t.p50} ms, p99 ${t.p99} ms (${t.n} samples)`);
      }
    const left = Number((await db.query('SELECT count(*) AS n FROM personal_access_tokens')).rows[0].n);
    if (left !== PATS) throw new Error(`the PAT admin view was measured over ${left} tokens, not ${PATS}`);
    return { figures, plans };
  }

  // ---------------------------------------------------------------- the ladder

  const rungs: Array<{
    n: number;
    load: { seconds: number; signSeconds: number; perSecond: number };
    indexSeconds: number;
    before: Measured;
    after: Measured;
    plansBefore: Record<string, string>;
    plansAfter: Record<string, string>;
    mix: Record<string, number>;
  }> = [];
  // The PAT admin view first: it does not depend on the certificates, and its figures are in hand early.
  say(`loading ${PATS.toLocaleString('en')} personal access tokens…`);
  await schema('before');
  await loadPats(PATS);
  await db.query('ANALYZE personal_access_tokens');
  const patBefore = await measurePats('before');
  await schema('after');
  const patAfter = await measurePats('after');
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/scale-pats.json`, JSON.stringify({ patBefore, patAfter }, null, 2));

  let loaded = 0;
  await schema('before');
  for (const n of LADDER) {
    say(`loading certificates ${loaded.toLocaleString('en')} → ${n.toLocaleString('en')}…`);
    // Each rung's rows spread over the same year: the rung adds rows in between (as a busier year would).
    const l = await load(loaded, n, n);
    loaded = n;
    say(`  ${n - (rungs.at(-1)?.n ?? 0)} rows in ${round(l.seconds)} s (signing ${round(l.signSeconds)} s)`);
    await db.query('VACUUM ANALYZE certificates');
    const mixRows = (
      await db.query(
        `SELECT count(*) FILTER (WHERE status = 'revoked') AS revoked,
                count(*) FILTER (WHERE status = 'valid' AND not_after <= now()) AS expired,
                count(*) FILTER (WHERE status = 'valid' AND not_after > now()) AS valid,
                avg(length(der))::int AS der_bytes FROM certificates`,
      )
    ).rows[0] as Record<string, string>;
    const mix = Object.fromEntries(Object.entries(mixRows).map(([k, v]) => [k, Number(v)]));
    say(`  mix: ${JSON.stringify(mix)}`);
    const before = await measure(n, 'before');
    const indexSeconds = await schema('after');
    say(`  migration 017 applied in ${round(indexSeconds)} s`);
    const after = await measure(n, 'after');
    rungs.push({
      n,
      load: { seconds: round(l.seconds), signSeconds: round(l.signSeconds), perSecond: round((n - (rungs.at(-1)?.n ?? 0)) / l.seconds) },
      indexSeconds: round(indexSeconds),
      before: before.figures,
      after: after.figures,
      plansBefore: before.plans,
      plansAfter: after.plans,
      mix,
    });
    if (n !== LADDER.at(-1)) await schema('before'); // the next rung loads without them, as issuance before 017 did
  }

  // ---------------------------------------------------------------- report

  const result = {
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    seconds: Math.round((Date.now() - started) / 1000),
    ladder: LADDER,
    samples: { max: MAX_SAMPLES, seconds: SAMPLE_SECONDS, min: MIN_SAMPLES },
    rungs,
    pats: { count: PATS, before: patBefore.figures, after: patAfter.figures, plansBefore: patBefore.plans, plansAfter: patAfter.plans },
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/scale.json`, JSON.stringify(result, null, 2) + '\n');
  const md = renderScale(result);
  writeFileSync(`${ROOT}bench/results/scale.md`, md);
  process.stdout.write(md);
  await kw.close();
} finally {
  await db.end().catch(() => {});
  await cleanup();
}
process.exit(0);
