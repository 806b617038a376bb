/**
 * The web console's figures: `node bench/console.ts [--certificates N]`.
 *
 * Loads N certificates (default 10,000) into a fresh realm through Keyward's
 * own issuance (in process, 64 in flight: the same sign-and-store path as
 * POST …/certificates), serves the console, logs a realm admin in on
 * Keycloak's real login page in Chromium, and measures the time from
 * navigation to the certificates table rendered (median of 5 loads). Prints
 * that and the console's JavaScript and CSS sizes, gzipped (README budget:
 * at most 400 KB). A real Keycloak and PostgreSQL, as for the tests
 * (KEYWARD_KEYCLOAK_URL reuses a running Keycloak).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Principal } from '../services/keyward/src/authn/principal.ts';
import { compose } from '../services/keyward/src/compose.ts';
import { freePort, startKeycloak, testDatabase } from '../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../services/keyward/src/keycloak/bootstrap.ts';
import { loadConfig } from '../services/keyward/src/kernel/config.ts';
import { silentLogger } from '../services/keyward/src/kernel/log.ts';
import { closeServer, listen } from '../services/keyward/src/server.ts';
import { chromiumPath, consolePage, launchChromium, logIn } from '../test/support/chromium.ts';

x509.cryptoProvider.set(webcrypto as never);
const argIndex = process.argv.indexOf('--certificates');
const COUNT = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 10_000;
const LOADS = 5;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const say = (s: string) => process.stderr.write(`» ${s}\n`);

/** The console's JavaScript and CSS, each file gzipped (level 9) as a server or CDN would send it. */
function bundleSizes(): { js: number; css: number; eagerJs: number; files: { name: string; gzip: number }[] } {
  const dir = join(ROOT, 'services', 'console', 'dist', 'assets');
  const html = readFileSync(join(ROOT, 'services', 'console', 'dist', 'index.html'), 'utf8');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
    .map((name) => ({ name, gzip: gzipSync(readFileSync(join(dir, name)), { level: 9 }).length }));
  const sum = (xs: { gzip: number }[]) => xs.reduce((a, b) => a + b.gzip, 0);
  return {
    js: sum(files.filter((f) => f.name.endsWith('.js'))),
    css: sum(files.filter((f) => f.name.endsWith('.css'))),
    // What the first page load fetches: the files index.html names (the decoder is loaded on demand).
    eagerJs: sum(files.filter((f) => f.name.endsWith('.js') && html.includes(f.name))),
    files,
  };
}

async function makeCsr(cn: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: cn }])],
  });
  return req.toString('pem');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const keycloak = await startKeycloak({ log: say });
const database = await testDatabase({ log: say });
const dataDir = mkdtempSync(join(tmpdir(), 'keyward-console-bench-'));
try {
  const port = await freePort();
  const boot = await bootstrap({
    url: keycloak.url,
    adminUser: keycloak.adminUser,
    adminPassword: keycloak.adminPassword,
    clientId: 'keyward-control-plane',
    audience: 'keyward',
  });
  const config = loadConfig(
    { HOME: process.env.HOME },
    {
      KEYWARD_DATABASE_URL: database.url,
      KEYWARD_KEYCLOAK_URL: keycloak.url,
      KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
      KEYWARD_KEK: randomBytes(32).toString('base64'),
      KEYWARD_LOG_LEVEL: 'error',
      KEYWARD_DATA_DIR: dataDir,
      KEYWARD_PORT: String(port),
      KEYWARD_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
  );
  const kw = await compose(config, { log: silentLogger });
  const server = await listen(kw, '127.0.0.1', port);
  const base = `http://127.0.0.1:${port}`;
  const realm = `consolebench-${randomBytes(3).toString('hex')}`;
  await kw.realms.put(realm, {}, 'system');
  await kw.policies.put(
    realm,
    'svc',
    {
      keyTypes: ['EC-P256'],
      maxValidityDays: 90,
      subject: { required: ['CN'], allowed: ['CN'] },
      san: { dns: ['*.bench.internal'], ip: [], uri: [], email: [] },
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth'],
      approval: 'none',
    },
    'system',
  );
  await kw.apiClients.create(realm, { clientId: 'loader', roles: ['keyward-requester'] }, 'system');
  const loader = await kw.identity.findClient(realm, 'loader');
  const principal: Principal = {
    credential: 'bearer',
    kind: 'client',
    realm,
    subject: await kw.identity.serviceAccountId(realm, loader!),
    clientId: 'loader',
    username: 'service-account-loader',
    credentialRoles: [],
  };

  say(`issuing ${COUNT.toLocaleString('en')} certificates through Keyward's issuance…`);
  const csrs = await Promise.all(Array.from({ length: 100 }, (_, i) => makeCsr(`host-${i}.bench.internal`)));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < COUNT) {
        const i = next++;
        await kw.issuance.issue(realm, principal, { csr: csrs[i % csrs.length]!, policy: 'svc', validityDays: 1 + (i % 90) });
      }
    }),
  );
  const loadSeconds = (performance.now() - t0) / 1000;
  say(`  ${COUNT.toLocaleString('en')} in ${loadSeconds.toFixed(1)} s`);

  // A realm admin (Keycloak user) who logs in on Keycloak's own page.
  const password = `Bench-${randomBytes(6).toString('hex')}`;
  const username = 'bench-admin';
  const adminToken = await (async () => {
    const r = await fetch(`${keycloak.url}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'admin-cli',
        username: keycloak.adminUser,
        password: keycloak.adminPassword,
      }),
    });
    return ((await r.json()) as { access_token: string }).access_token;
  })();
  const kc = (path: string, init: RequestInit = {}) =>
    fetch(`${keycloak.url}/admin/realms/${realm}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    });
  const created = await kc('/users', {
    method: 'POST',
    body: JSON.stringify({
      username,
      enabled: true,
      email: 'bench-admin@example.test',
      emailVerified: true,
      firstName: 'Bench',
      lastName: 'Admin',
      credentials: [{ type: 'password', value: password, temporary: false }],
    }),
  });
  const userId = created.headers.get('location')!.split('/').pop()!;
  const role = await (await kc('/roles/keyward-admin')).json();
  await kc(`/users/${userId}/role-mappings/realm`, { method: 'POST', body: JSON.stringify([role]) });

  const browser = await launchChromium();
  const cp = await consolePage(browser, { baseURL: base });
  await logIn(cp.page, { realm, username, password });
  const rows = cp.page.locator('table[aria-label="Certificates"] tbody tr');
  const times: number[] = [];
  const apiTimes: number[] = [];
  const inApp: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    // A full load: the address typed or reloaded (HTML, scripts, session, whoami, then the first page of certificates).
    const t = performance.now();
    await cp.page.goto(`/console/${realm}/certificates`);
    await rows.nth(Math.min(19, COUNT - 1)).waitFor();
    times.push(performance.now() - t);
    apiTimes.push(
      await cp.page.evaluate(`Math.max(...performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/certificates?')).map((e) => e.duration))`),
    );
    // Inside the console: from the realm's home page through the navigation link.
    await cp.page.goto(`/console/${realm}/`);
    await cp.page.getByRole('heading', { name: `Realm ${realm}` }).waitFor();
    const u = performance.now();
    await cp.page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Certificates', exact: true }).click();
    await rows.nth(Math.min(19, COUNT - 1)).waitFor();
    inApp.push(performance.now() - u);
  }
  cp.expectClean();
  await browser.close();
  const sizes = bundleSizes();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const out = {
    certificates: COUNT,
    loadSeconds: Number(loadSeconds.toFixed(1)),
    tableRenderedMs: { median: Math.round(median(times)), min: Math.round(Math.min(...times)), max: Math.round(Math.max(...times)) },
    certificatesCallMs: Math.round(median(apiTimes)),
    inAppNavigationMs: { median: Math.round(median(inApp)), min: Math.round(Math.min(...inApp)), max: Math.round(Math.max(...inApp)) },
    gzip: { js: sizes.js, css: sizes.css, total: sizes.js + sizes.css, firstLoad: sizes.eagerJs + sizes.css },
    chromium: execFileSync(chromiumPath(), ['--version']).toString().trim(),
  };
  process.stdout.write(
    `certificates in the store: ${COUNT.toLocaleString('en')} (loaded in ${out.loadSeconds} s)\n` +
      `navigation → certificates table rendered (20 rows): median ${out.tableRenderedMs.median} ms ` +
      `(min ${out.tableRenderedMs.min}, max ${out.tableRenderedMs.max}, ${LOADS} full loads; ` +
      `of which the certificates call ${out.certificatesCallMs} ms)\n` +
      `navigation link Home → Certificates, table rendered: median ${out.inAppNavigationMs.median} ms ` +
      `(min ${out.inAppNavigationMs.min}, max ${out.inAppNavigationMs.max})\n` +
      `console JS + CSS gzipped: ${kb(out.gzip.total)} (JS ${kb(sizes.js)}, CSS ${kb(sizes.css)}; ` +
      `first load ${kb(out.gzip.firstLoad)}, the certificate decoder loads on demand); budget 400 KB\n` +
      `${JSON.stringify(out)}\n`,
  );
  await closeServer(server, 500);
  await kw.close();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  await database.drop().catch(() => {});
  await keycloak.stop();
}
