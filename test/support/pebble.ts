/**
 * Pebble, Let's Encrypt's RFC 8555 test server, and pebble-challtestsrv, its
 * mock DNS server (Debian package pebble), as child processes on free
 * loopback ports: the peer of the ACME benchmark, and the DNS server that
 * makes test names resolve to 127.0.0.1 for an ACME validator without
 * touching the machine's resolver.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../services/keyward/src/devenv/index.ts';
import { ensureDebianTool, PEBBLE, PEBBLE_CHALLTESTSRV } from './debian.ts';

export interface ChallTestSrv {
  /** `127.0.0.1:port`, the DNS server (UDP and TCP). */
  readonly dns: string;
  /** The management API (`/add-a`, `/clear-a`, `/set-txt`…). */
  readonly management: string;
  /** Answers A queries for `host` with `addresses`. */
  addA(host: string, addresses: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

async function waitFor(check: () => Promise<unknown>, what: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let t = 0; t < 100; t++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${log()}`);
    try {
      await check();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not start: ${log()}`);
}

const stop = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/**
 * pebble-challtestsrv with only its DNS server and management API. By
 * default A queries for any name answer `defaultIPv4` (none when empty) and
 * AAAA queries nothing, so a validator connects over IPv4 loopback.
 */
export async function startChallTestSrv(o: { defaultIPv4?: string } = {}): Promise<ChallTestSrv> {
  const bin = ensureDebianTool(PEBBLE_CHALLTESTSRV);
  const dnsPort = await freePort();
  const managementPort = await freePort();
  let output = '';
  const child = spawn(
    bin,
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-management',
      `127.0.0.1:${managementPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-defaultIPv4',
      o.defaultIPv4 ?? '',
      '-defaultIPv6',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const management = `http://127.0.0.1:${managementPort}`;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${management}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`pebble-challtestsrv ${path} answered ${res.status}: ${await res.text()}`);
  };
  await waitFor(
    () => post('/clear-a', { host: 'probe.invalid.' }),
    'pebble-challtestsrv',
    child,
    () => output,
  );
  return {
    dns: `127.0.0.1:${dnsPort}`,
    management,
    addA: (host, addresses) => post('/add-a', { host: host.endsWith('.') ? host : `${host}.`, addresses }),
    close: () => stop(child),
  };
}

export interface Pebble {
  /** The ACME directory (`https://127.0.0.1:port/dir`). */
  readonly directoryUrl: string;
  /** PEM of the self-signed certificate of Pebble's HTTPS listener. */
  readonly tlsCa: string;
  /** An HTTPS agent that trusts `tlsCa` (keep-alive). */
  readonly agent: HttpsAgent;
  /** External Account Binding credentials Pebble accepts (RFC 8555 §7.3.4), when started with `eab`. */
  readonly eabKeys: readonly { kid: string; hmacKey: string }[];
  /** PEM of Pebble's current root CA (regenerated at every start). */
  root(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Pebble with its own test configuration: validation of http-01 on
 * `httpPort` and tls-alpn-01 on `tlsPort`, names resolved through `dnsServer`
 * (`host:port`), no random validation sleeps (`PEBBLE_VA_NOSLEEP=1`), no
 * rejected nonces (`PEBBLE_WFE_NONCEREJECT=0`), no authorization reuse
 * (`PEBBLE_AUTHZREUSE=0`, so every order is validated), not `-strict`, and
 * External Account Binding required with `eab` generated keys.
 */
export async function startPebble(o: { httpPort: number; tlsPort: number; dnsServer: string; eab?: number }): Promise<Pebble> {
  const bin = ensureDebianTool(PEBBLE);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-pebble-'));
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
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const managementPort = await freePort();
  const eabKeys = Array.from({ length: o.eab ?? 0 }, (_, i) => ({ kid: `kid-${i}`, hmacKey: randomBytes(32).toString('base64url') }));
  writeFileSync(
    join(dir, 'pebble-config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: o.httpPort,
        tlsPort: o.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: eabKeys.length > 0,
        ...(eabKeys.length ? { externalAccountMACKeys: Object.fromEntries(eabKeys.map((k) => [k.kid, k.hmacKey])) } : {}),
      },
    }),
  );
  let output = '';
  const child = spawn(bin, ['-config', join(dir, 'pebble-config.json'), '-dnsserver', o.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Pebble logs every request: keep only the tail, for the error message.
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const tlsCa = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const agent = new HttpsAgent({ ca: tlsCa, keepAlive: true, maxSockets: 64 });
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const get = (url: string) =>
    new Promise<string>((resolve, reject) => {
      httpsGet(url, { agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
      }).on('error', reject);
    });
  await waitFor(
    () => get(directoryUrl),
    'pebble',
    child,
    () => output,
  );
  return {
    directoryUrl,
    tlsCa,
    agent,
    eabKeys,
    root: () => get(`https://127.0.0.1:${managementPort}/roots/0`),
    close: async () => {
      agent.destroy();
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
