/**
 * certbot, lego and Caddy as an operator runs them against a private ACME server:
 * Debian's packages (installed when missing, see debian.ts), every file under
 * one working directory, External Account Binding (RFC 8555 §7.3.4), the
 * standalone challenge servers on unprivileged ports, and the server's TLS
 * certificate trusted through the clients' own variables (certbot:
 * `REQUESTS_CA_BUNDLE`; lego: `LEGO_CA_CERTIFICATES`).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CADDY, CERTBOT, ensureDebianTool, LEGO } from './debian.ts';

export interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface Eab {
  readonly kid: string;
  readonly hmacKey: string;
}

export interface CertbotOptions {
  /** The ACME directory URL. */
  readonly server: string;
  /** certbot's config, work and logs directories go under it. */
  readonly dir: string;
  readonly eab: Eab;
  readonly domains: readonly string[];
  /** The port of certbot's standalone http-01 server: where the ACME server's validator connects. */
  readonly httpPort: number;
  readonly email?: string;
  /** A CA bundle (PEM file) that trusts the directory's HTTPS certificate. */
  readonly caBundle?: string;
  readonly extra?: readonly string[];
}

/** `certbot certonly --standalone` with EAB; the result, plus certbot's log (letsencrypt.log) for failures. */
export async function certbotCertonly(o: CertbotOptions): Promise<ClientRun & { log: string; live: string }> {
  const bin = ensureDebianTool(CERTBOT);
  for (const d of ['config', 'work', 'logs']) mkdirSync(join(o.dir, d), { recursive: true });
  const args = [
    'certonly',
    '--non-interactive',
    '--standalone',
    '--http-01-port',
    String(o.httpPort),
    '--http-01-address',
    '127.0.0.1',
    '--server',
    o.server,
    // `=`: a base64url key may start with '-', which argparse would take for an option.
    `--eab-kid=${o.eab.kid}`,
    `--eab-hmac-key=${o.eab.hmacKey}`,
    ...o.domains.flatMap((d) => ['-d', d]),
    '--agree-tos',
    '-m',
    o.email ?? 'ops@example.com',
    '--no-eff-email',
    '--key-type',
    'ecdsa',
    '--config-dir',
    join(o.dir, 'config'),
    '--work-dir',
    join(o.dir, 'work'),
    '--logs-dir',
    join(o.dir, 'logs'),
    ...(o.extra ?? []),
  ];
  const env = { PATH: process.env.PATH ?? '', HOME: o.dir, ...(o.caBundle ? { REQUESTS_CA_BUNDLE: o.caBundle } : {}) };
  const r = await exec(bin, args, env);
  const logFile = join(o.dir, 'logs', 'letsencrypt.log');
  return {
    ...r,
    log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '',
    live: join(o.dir, 'config', 'live', o.domains[0]!),
  };
}

export interface LegoOptions {
  readonly server: string;
  /** lego's --path: accounts and certificates. */
  readonly path: string;
  readonly eab: Eab;
  readonly domains: readonly string[];
  readonly email?: string;
  /** `--http --http.port 127.0.0.1:P` (http-01) or `--tls --tls.port 127.0.0.1:P` (tls-alpn-01). */
  readonly challenge: { readonly type: 'http-01' | 'tls-alpn-01'; readonly port: number };
  /** A CA bundle (PEM file) that trusts the directory's HTTPS certificate. */
  readonly caBundle?: string;
}

/**
 * lego with the global options, then `command` (`run`, `renew --days 9999
 * --no-random-sleep`, `revoke`). lego 4.9 sleeps up to 8 minutes before a
 * renewal when not on a terminal unless given `--no-random-sleep`.
 */
export async function lego(o: LegoOptions, command: readonly string[]): Promise<ClientRun & { crt: string }> {
  const bin = ensureDebianTool(LEGO);
  const challenge =
    o.challenge.type === 'http-01'
      ? ['--http', '--http.port', `127.0.0.1:${o.challenge.port}`]
      : ['--tls', '--tls.port', `127.0.0.1:${o.challenge.port}`];
  const args = [
    '--server',
    o.server,
    '--path',
    o.path,
    '--accept-tos',
    '--email',
    o.email ?? 'ops@example.com',
    '--eab',
    `--kid=${o.eab.kid}`,
    `--hmac=${o.eab.hmacKey}`,
    '--key-type',
    'ec256',
    ...o.domains.flatMap((d) => ['--domains', d]),
    ...challenge,
    ...command,
  ];
  const env = { PATH: process.env.PATH ?? '', HOME: o.path, ...(o.caBundle ? { LEGO_CA_CERTIFICATES: o.caBundle } : {}) };
  const r = await exec(bin, args, env);
  return { ...r, crt: join(o.path, 'certificates', `${o.domains[0]!.replace(/^\*/, '_')}.crt`) };
}

export interface CaddyOptions {
  /** The ACME directory URL (replaces the one of the documented Caddyfile). */
  readonly server: string;
  /** Caddy's storage, configuration and logs. */
  readonly dir: string;
  readonly eab: Eab;
  /** The site name (replaces the documented one). */
  readonly domain: string;
  /** Caddy's HTTP port (http-01) and HTTPS port (tls-alpn-01): where the ACME server's validator connects. */
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PEM file that trusts the directory's HTTPS certificate (replaces the documented acme_ca_root). */
  readonly caRoot?: string;
}

/** The Caddyfile the README documents (docs/acme/Caddyfile). */
export const DOCUMENTED_CADDYFILE = fileURLToPath(new URL('../../docs/acme/Caddyfile', import.meta.url));

/**
 * Runs Caddy (Debian's package) with the documented Caddyfile — its
 * directory, CA root and site name replaced, unprivileged ports, storage under
 * `dir`, no admin endpoint — until it has obtained the site's certificate;
 * returns the certificate (PEM) and Caddy's log.
 */
export async function caddyObtain(o: CaddyOptions, timeoutMs = 120_000): Promise<{ certificate: string | undefined; log: string }> {
  const bin = ensureDebianTool(CADDY);
  const documented = readFileSync(DOCUMENTED_CADDYFILE, 'utf8');
  const directory = /^\s*acme_ca\s+(\S+)$/m.exec(documented)![1]!;
  const root = /^\s*acme_ca_root\s+(\S+)$/m.exec(documented)![1]!;
  const site = /^([a-z0-9.-]+) \{$/m.exec(documented)![1]!;
  const storage = join(o.dir, 'storage');
  mkdirSync(storage, { recursive: true });
  let caddyfile = documented.replace(directory, o.server).replace(site, o.domain);
  caddyfile = o.caRoot ? caddyfile.replace(root, o.caRoot) : caddyfile.replace(/^\s*acme_ca_root\s+\S+\n/m, '');
  caddyfile = caddyfile.replace(
    /^\{\n/m,
    `{\n\tadmin off\n\thttp_port ${o.httpPort}\n\thttps_port ${o.httpsPort}\n\tstorage file_system ${storage}\n\tskip_install_trust\n`,
  );
  const config = join(o.dir, 'Caddyfile');
  writeFileSync(config, caddyfile);
  const env = { PATH: process.env.PATH ?? '', HOME: o.dir, KEYWARD_EAB_KID: o.eab.kid, KEYWARD_EAB_HMAC: o.eab.hmacKey };
  const child = spawn(bin, ['run', '--config', config, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const find = (d: string): string | undefined => {
    if (!existsSync(d)) return undefined;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        const f = find(p);
        if (f) return f;
      } else if (e.name === `${o.domain}.crt`) return p;
    }
    return undefined;
  };
  try {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && child.exitCode === null) {
      const file = find(join(storage, 'certificates'));
      if (file && readFileSync(file, 'utf8').includes('-----END CERTIFICATE-----')) return { certificate: readFileSync(file, 'utf8'), log };
      await new Promise((r) => setTimeout(r, 250));
    }
    return { certificate: undefined, log };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
