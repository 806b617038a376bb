/**
 * Runs the ACME client harness (test/support/acme_clients.ts: certbot, lego
 * and Caddy from their Debian packages) against Pebble, Let's Encrypt's test
 * server, outside the test suite: `node scripts/acme_clients_pebble.ts`.
 * A check of the clients' flags and of the harness itself on a reference
 * server — certbot certonly (http-01), lego run (http-01 and tls-alpn-01),
 * lego renew, lego revoke, Caddy with the documented Caddyfile — with EAB required, names resolved through
 * pebble-challtestsrv. Exits non-zero at the first step that fails.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../services/keyward/src/devenv/index.ts';
import { caddyObtain, certbotCertonly, lego, type ClientRun } from '../test/support/acme_clients.ts';
import { startChallTestSrv, startPebble } from '../test/support/pebble.ts';

const say = (s: string) => process.stderr.write(`» ${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'keyward-acme-clients-'));
const check = (what: string, r: ClientRun & { log?: string }) => {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n${(r.log ?? '').slice(-3000)}`);
  say(`${what}: ok`);
};
const cert = (file: string) => new X509Certificate(readFileSync(file));

const dns = await startChallTestSrv();
const httpPort = await freePort();
const tlsPort = await freePort();
const pebble = await startPebble({ httpPort, tlsPort, dnsServer: dns.dns, eab: 5 });
try {
  const caBundle = join(dir, 'pebble-tls.pem');
  writeFileSync(caBundle, pebble.tlsCa);
  for (const n of ['certbot', 'lego-http', 'lego-tls', 'caddy']) await dns.addA(`${n}.example.internal`, ['127.0.0.1']);

  const cb = await certbotCertonly({
    server: pebble.directoryUrl,
    dir: join(dir, 'certbot'),
    eab: pebble.eabKeys[0]!,
    domains: ['certbot.example.internal'],
    httpPort,
    caBundle,
  });
  check('certbot certonly --standalone (http-01)', cb);
  say(`  ${cert(join(cb.live, 'cert.pem')).subjectAltName}`);

  const http = {
    server: pebble.directoryUrl,
    path: join(dir, 'lego-http'),
    eab: pebble.eabKeys[1]!,
    domains: ['lego-http.example.internal'],
    challenge: { type: 'http-01', port: httpPort },
    caBundle,
  } as const;
  const run = await lego(http, ['run']);
  check('lego run --http', run);
  const first = cert(run.crt).serialNumber;
  check('lego renew --days 9999 --no-random-sleep', await lego(http, ['renew', '--days', '9999', '--no-random-sleep']));
  const renewed = cert(run.crt).serialNumber;
  if (renewed === first) throw new Error('lego renew left the same certificate');
  say(`  renewed: ${first} → ${renewed}`);
  check('lego revoke', await lego(http, ['revoke', '--keep']));

  const tls = await lego(
    {
      server: pebble.directoryUrl,
      path: join(dir, 'lego-tls'),
      eab: pebble.eabKeys[2]!,
      domains: ['lego-tls.example.internal'],
      challenge: { type: 'tls-alpn-01', port: tlsPort },
      caBundle,
    },
    ['run'],
  );
  check('lego run --tls (tls-alpn-01)', tls);
  const caddy = await caddyObtain({
    server: pebble.directoryUrl,
    dir: join(dir, 'caddy'),
    eab: pebble.eabKeys[3]!,
    domain: 'caddy.example.internal',
    httpPort,
    httpsPort: tlsPort,
    caRoot: caBundle,
  });
  if (!caddy.certificate) throw new Error(`Caddy obtained no certificate:\n${caddy.log.slice(-4000)}`);
  say(`Caddy with the documented Caddyfile: ok (${new X509Certificate(caddy.certificate).subjectAltName})`);
  say('certbot, lego and Caddy work against Pebble with this harness');
} finally {
  await pebble.close();
  await dns.close();
  rmSync(dir, { recursive: true, force: true });
}
