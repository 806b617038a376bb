/**
 * The expiry and inventory benchmark: `npm run bench -- --expiry [--rows N]` (default 1,000,000; `--quick` 100,000).
 *
 * Fills a fresh database with N certificates of one realm and eight policies
 * (expiries spread from 30 days ago to 400 days ahead, 2 % revoked) by
 * INSERT … SELECT FROM generate_series in batches of 100,000 — the rows go
 * through the store's own triggers, so the counts of migration 021 are
 * maintained as issuance maintains them; every row carries the same DER (the
 * realm's issuing CA certificate), which no figure here reads. Then, against
 * a `keyward serve` process:
 *
 * - the store's expiry figures (PgCertificateStats.expiry, what a scrape
 *   reads when its 5-second cache has lapsed), timed directly, and the
 *   `/metrics` scrape over HTTP with the cache lapsed before each one;
 * - the inventory export of all N certificates as CSV and as JSON Lines:
 *   time, rows per second, and the server's resident memory, sampled every
 *   50 ms (its peak beside its level before the export).
 *
 * Writes bench/results/expiry.json and bench/results/expiry.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { fromPem } from '../services/keyward/src/ca/pem.ts';
import { EXPIRY_WINDOWS_DAYS } from '../services/keyward/src/http/expiry_metrics.ts';
import { PgCertificateStats } from '../services/keyward/src/storage/certificate_stats.ts';
import { openDatabase } from '../services/keyward/src/storage/database.ts';
import { benchEnvironment, rssMb, startServe } from './proc.ts';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const rowsArg = argv.indexOf('--rows');
const ROWS = Number(rowsArg >= 0 ? argv[rowsArg + 1] : QUICK ? 100_000 : 1_000_000);
if (!Number.isInteger(ROWS) || ROWS < 1000) throw new Error('--rows takes a whole number of at least 1000');
const BATCH = 100_000;
const POLICIES = ['web', 'mesh', 'db', 'batch', 'edge', 'iot', 'vpn', 'internal'];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_NODE_OPTIONS = process.env.KEYWARD_BENCH_NODE_OPTIONS ?? '--max-semi-space-size=4 --max-old-space-size=192';

const say = (s: string) => process.stderr.write(`» ${s}\n`);
const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);
const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

const started = Date.now();
say(`Keyward expiry benchmark: ${ROWS} certificates, ${cpus().length} cores, Node ${process.version}`);
const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
const children: ChildProcess[] = [];
const cleanup = async () => {
  for (const c of children) c.kill('SIGTERM');
  await database.drop().catch(() => {});
  await keycloak.stop();
};
process.once('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

try {
  const { boot, env: common } = await benchEnvironment({
    keycloak,
    databaseUrl: database.url,
    name: 'expiry',
    operatorClientId: 'keyward-operator-test',
  });
  const env = {
    ...common,
    KEYWARD_PAT_SWEEP_SECONDS: '0',
    KEYWARD_EXPIRY_SWEEP_SECONDS: '0',
    KEYWARD_WEBHOOK_POLL_SECONDS: '0',
  };
  const realm = `expiry-${randomBytes(3).toString('hex')}`;
  const kw = await compose(loadConfig({ HOME: process.env.HOME }, { ...env, KEYWARD_PORT: '0' }), { log: silentLogger });
  await kw.realms.put(realm, { defaultRoles: ['keyward-requester'] }, 'system');
  const { issuing } = await kw.issuance.issuingCa(realm);
  await kw.close();

  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  say(`filling ${ROWS} certificates…`);
  const fillStart = performance.now();
  for (let from = 0; from < ROWS; from += BATCH) {
    const to = Math.min(ROWS, from + BATCH);
    await db.query(
      `INSERT INTO certificates (serial, realm, ca_id, subject, sans, policy, requester, requester_key, key_type, not_before, not_after,
                                 status, revoked_at, revocation_reason, der, created_at)
       SELECT to_hex(g) || md5(g::text), $1, $2, 'CN=host-' || g || '.bench.internal',
              jsonb_build_array('dns:host-' || g || '.bench.internal'),
              ($4::text[])[1 + g % 8], '{"kind":"client:bearer","realm":"r","id":"svc","name":"svc"}', $1 || '/svc', 'EC-P256',
              now() - interval '1 day' * (g % 397), now() - interval '30 days' + interval '1 minute' * ((g::bigint * 7919) % (430 * 1440)),
              CASE WHEN g % 50 = 0 THEN 'revoked' ELSE 'valid' END, CASE WHEN g % 50 = 0 THEN now() END,
              CASE WHEN g % 50 = 0 THEN 'superseded' END, $3, now() - interval '1 second' * g
         FROM generate_series($5::int, $6::int) g`,
      [realm, issuing.id, Buffer.from(fromPem(issuing.certificatePem, /CERTIFICATE/)!), POLICIES, from + 1, to],
    );
    say(`  ${to}`);
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  await db.query('VACUUM ANALYZE certificates');
  const store = openDatabase(database.url, { max: 2 });
  const stats = new PgCertificateStats(store);
  const foldStart = performance.now();
  await stats.fold();
  const foldMs = performance.now() - foldStart;
  const countRows = Number((await db.query('SELECT count(*) AS n FROM certificate_counts')).rows[0].n);

  // The store's figures, uncached.
  const queryMs: number[] = [];
  let figures = await stats.expiry(new Date(), EXPIRY_WINDOWS_DAYS);
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    figures = await stats.expiry(new Date(), EXPIRY_WINDOWS_DAYS);
    queryMs.push(performance.now() - t);
  }
  const truth = (
    await db.query(
      `SELECT count(*) FILTER (WHERE status = 'valid' AND not_after > now()) AS valid,
              count(*) FILTER (WHERE status = 'valid' AND not_after > now() AND not_after <= now() + interval '30 days') AS within30
         FROM certificates`,
    )
  ).rows[0];
  const sum = (f: (x: (typeof figures)[number]) => number) => figures.reduce((a, x) => a + f(x), 0);
  const check = { valid: sum((f) => f.valid), within30: sum((f) => f.expiringWithin[30] ?? 0) };
  const matches = Math.abs(check.valid - Number(truth.valid)) <= 5 && Math.abs(check.within30 - Number(truth.within30)) <= 5;
  say(`figures: valid ${check.valid} (table ${truth.valid}), within 30 d ${check.within30} (table ${truth.within30})`);

  // Over HTTP, against a keyward serve process.
  const serve = await startServe({
    bin: `${ROOT}bin/keyward`,
    env: { ...process.env, ...env, NODE_OPTIONS: SERVER_NODE_OPTIONS },
    children,
  });
  const scrapeMs: number[] = [];
  let metricsBytes = 0;
  for (let i = 0; i < (QUICK ? 3 : 6); i++) {
    if (i) await new Promise((r) => setTimeout(r, 5200)); // past the 5-second cache: every scrape reads the store
    const t = performance.now();
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    scrapeMs.push(performance.now() - t);
    metricsBytes = text.length;
  }
  const cachedMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await (await fetch(`${serve.url}/metrics`)).text();
    cachedMs.push(performance.now() - t);
  }

  const tokenRes = await fetch(`${keycloak.url}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: boot.operator!.clientId,
      client_secret: boot.operator!.clientSecret,
    }),
  });
  const token = ((await tokenRes.json()) as { access_token: string }).access_token;
  const exported: Record<
    string,
    { seconds: number; rows: number; rowsPerSecond: number; mb: number; rssBeforeMb: number; rssPeakMb: number }
  > = {};
  for (const accept of ['text/csv', 'application/x-ndjson']) {
    const before = rssMb(serve.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(serve.pid))), 50);
    const t = performance.now();
    const res = await fetch(`${serve.url}/v1/realms/${realm}/certificates`, { headers: { authorization: `Bearer ${token}`, accept } });
    if (!res.ok) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    clearInterval(sampler);
    const seconds = (performance.now() - t) / 1000;
    const rows = accept === 'text/csv' ? lines - 1 : lines;
    if (rows !== ROWS) throw new Error(`the ${accept} export has ${rows} rows, not ${ROWS}`);
    exported[accept] = {
      seconds: round(seconds),
      rows,
      rowsPerSecond: Math.round(rows / seconds),
      mb: round(bytes / 1e6),
      rssBeforeMb: round(before),
      rssPeakMb: round(peak),
    };
    say(`${accept}: ${rows} rows in ${round(seconds)} s, RSS ${round(before)} → peak ${round(peak)} MB`);
  }

  const results = {
    rows: ROWS,
    cores: cpus().length,
    node: process.version,
    fillSeconds: round(fillSeconds),
    countRows,
    foldMs: round(foldMs),
    expiryQueryMs: { p50: round(pct(queryMs, 50)), p95: round(pct(queryMs, 95)), max: round(Math.max(...queryMs)), n: queryMs.length },
    scrapeMs: { first: round(scrapeMs[0]!), p50: round(pct(scrapeMs, 50)), max: round(Math.max(...scrapeMs)), n: scrapeMs.length },
    cachedScrapeMs: { p50: round(pct(cachedMs, 50)), max: round(Math.max(...cachedMs)) },
    metricsBytes,
    figuresMatchTable: matches,
    exported,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/expiry.json`, JSON.stringify(results, null, 2) + '\n');
  const e = (t: string) => exported[t]!;
  const ms = (...xs: number[]) => `${xs.join(' / ')} ms`;
  const rowsOf = (rows: [string, string][]) => rows.map(([k, v]) => `| ${k} | ${v} |`);
  writeFileSync(
    `${ROOT}bench/results/expiry.md`,
    [
      `# Expiry metrics and inventory export at ${ROWS.toLocaleString('en')} certificates`,
      '',
      `${cpus().length} cores, Node ${process.version}; one realm, eight policies, fill ${round(fillSeconds)} s; ` +
        `${countRows} count rows (realm × policy × status × expiry day).`,
      '',
      '| Figure | Value |',
      '| --- | ---: |',
      ...rowsOf([
        [
          `Store expiry figures, uncached (p50 / p95 / max of ${queryMs.length})`,
          ms(results.expiryQueryMs.p50, results.expiryQueryMs.p95, results.expiryQueryMs.max),
        ],
        [
          `/metrics scrape, cache lapsed (first / p50 / max of ${scrapeMs.length})`,
          ms(results.scrapeMs.first, results.scrapeMs.p50, results.scrapeMs.max),
        ],
        ['/metrics scrape within the 5 s cache (p50 / max)', ms(results.cachedScrapeMs.p50, results.cachedScrapeMs.max)],
        ["Folding the fill's count deltas", ms(results.foldMs)],
        ['Figures equal a count of the table', matches ? 'yes' : 'NO'],
        ...(['text/csv', 'application/x-ndjson'] as const).flatMap((t): [string, string][] => [
          [`${t} export: time, rows/s, size`, `${e(t).seconds} s, ${e(t).rowsPerSecond}/s, ${e(t).mb} MB`],
          [`${t} export: server RSS before → peak`, `${e(t).rssBeforeMb} → ${e(t).rssPeakMb} MB`],
        ]),
      ]),
      '',
    ].join('\n'),
  );
  say(JSON.stringify(results));
  await db.end();
  await store.close();
} finally {
  await cleanup();
}
