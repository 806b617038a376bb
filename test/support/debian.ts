/**
 * Real clients from Debian packages (certbot, lego, pebble, Chromium…): a
 * test or benchmark asks for a binary by name; it is taken from the
 * environment variable that names it, else from the usual places and PATH,
 * else — when running as root on a machine with apt-get — installed from the
 * Debian package (`--no-install-recommends`, `apt-get update` once when the
 * package lists are stale). Otherwise the caller fails with one sentence
 * naming the package and the variable: never a silent skip.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface DebianTool {
  /** The executable's name, looked up on PATH (`certbot`). */
  readonly binary: string;
  /** The Debian package that ships it (`certbot`). */
  readonly package: string;
  /** The environment variable that may name the binary instead (`KEYWARD_CERTBOT`). */
  readonly variable: string;
  /** Absolute paths tried before PATH (`/usr/bin/chromium-headless-shell`, …). */
  readonly candidates?: readonly string[];
  /** What uses it, plural, for the failure message ("The ACME client tests"). */
  readonly purpose?: string;
}

const resolved = new Map<string, string>();
let listsUpdated = false;

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

function find(tool: DebianTool): string | undefined {
  for (const c of tool.candidates ?? []) if (executable(c)) return c;
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    if (!dir) continue;
    const p = join(dir, tool.binary);
    if (executable(p)) return p;
  }
  return undefined;
}

/**
 * The path of `tool.binary`, installing its Debian package when possible.
 *
 * `host` overrides what is detected (running as root, where apt-get is), for tests of this function.
 *
 * @example
 * const certbot = ensureDebianTool({ binary: 'certbot', package: 'certbot', variable: 'KEYWARD_CERTBOT' });
 */
export function ensureDebianTool(tool: DebianTool, host: { readonly root?: boolean; readonly aptGet?: string | undefined } = {}): string {
  const named = process.env[tool.variable];
  if (named) {
    if (!existsSync(named)) throw new Error(`${tool.variable} names ${named}, which does not exist`);
    return named;
  }
  const cached = resolved.get(tool.binary);
  if (cached) return cached;
  let path = find(tool);
  if (!path) {
    const root = host.root ?? (typeof process.getuid === 'function' && process.getuid() === 0);
    const aptGet = 'aptGet' in host ? host.aptGet : ['/usr/bin/apt-get', '/bin/apt-get'].find((p) => existsSync(p));
    if (!root || !aptGet) {
      throw new Error(
        `${tool.purpose ?? 'These tests'} use ${tool.binary}, which is not installed: install Debian's ${tool.package} package ` +
          `(\`sudo apt-get install --no-install-recommends ${tool.package}\`) or set ${tool.variable} to a ${tool.binary} binary.`,
      );
    }
    process.stderr.write(`» installing ${tool.package} (apt-get) for ${tool.binary}…\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Other processes on the machine may hold dpkg's lock for a while: wait for it rather than fail.
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    const install = () =>
      execFileSync(aptGet, [...lock, 'install', '-y', '-q', '--no-install-recommends', tool.package], { stdio: 'ignore', env });
    try {
      install();
    } catch {
      if (listsUpdated) throw new Error(`apt-get could not install ${tool.package}; set ${tool.variable} to a ${tool.binary} binary`);
      execFileSync(aptGet, [...lock, 'update', '-q'], { stdio: 'ignore', env });
      listsUpdated = true;
      install();
    }
    path = find(tool);
    if (!path) throw new Error(`apt-get installed ${tool.package}, but no ${tool.binary} was found on PATH or in /usr/bin`);
  }
  resolved.set(tool.binary, path);
  return path;
}

/** certbot (Debian 12 ships 2.1.0). */
export const CERTBOT: DebianTool = { binary: 'certbot', package: 'certbot', variable: 'KEYWARD_CERTBOT', purpose: 'The ACME client tests' };
/** lego (Debian 12 ships 4.9.1). */
export const LEGO: DebianTool = { binary: 'lego', package: 'lego', variable: 'KEYWARD_LEGO', purpose: 'The ACME client tests' };
/** Caddy, whose automatic HTTPS is an ACME client (Debian 12 ships 2.6.2). */
export const CADDY: DebianTool = { binary: 'caddy', package: 'caddy', variable: 'KEYWARD_CADDY', purpose: 'The ACME client tests' };
/** Pebble, Let's Encrypt's RFC 8555 test server (Debian 12 ships 2.4.0). */
export const PEBBLE: DebianTool = {
  binary: 'pebble',
  package: 'pebble',
  variable: 'KEYWARD_PEBBLE',
  purpose: 'The ACME benchmark and client tests',
};
/** Pebble's mock DNS / challenge server, from the same package. */
export const PEBBLE_CHALLTESTSRV: DebianTool = {
  binary: 'pebble-challtestsrv',
  package: 'pebble',
  variable: 'KEYWARD_PEBBLE_CHALLTESTSRV',
  purpose: 'The ACME client tests',
};
