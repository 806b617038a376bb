/**
 * certbot and lego as an operator runs them against a private ACME server:
 * Debian's packages (installed when missing, see debian.ts), every file under
 * one working directory, External Account Binding (RFC 8555 §7.3.4), the
 * standalone challenge servers on unprivileged ports, and the server's TLS
 * certificate trusted through the clients' own variables (certbot:
 * `REQUESTS_CA_BUNDLE`; lego: `LEGO_CA_CERTIFICATES`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTBOT, ensureDebianTool, LEGO } from './debian.ts';

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
    '--eab-kid',
    o.eab.kid,
    '--eab-hmac-key',
    o.eab.hmacKey,
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
    '--kid',
    o.eab.kid,
    '--hmac',
    o.eab.hmacKey,
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
