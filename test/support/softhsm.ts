/**
 * A throwaway SoftHSM2 token for the PKCS#11 tests: Debian's softhsm2
 * (the module and softhsm2-util) and opensc (pkcs11-tool), installed through
 * apt-get when missing and the tests run as root — otherwise the tests fail
 * with how to provide them, never a silent skip.
 *
 * Each token lives under its own temporary directory with its own
 * SOFTHSM2_CONF (directories.tokendir there), so nothing touches the
 * machine's tokens. The variable is set in this process too: the module
 * reads it when it is initialised.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
];
const TOOLS = { softhsm2Util: '/usr/bin/softhsm2-util', pkcs11Tool: '/usr/bin/pkcs11-tool' };
const PACKAGES = ['softhsm2', 'opensc'];

function installed(): string | undefined {
  if (!existsSync(TOOLS.softhsm2Util) || !existsSync(TOOLS.pkcs11Tool)) return undefined;
  return MODULES.find((m) => existsSync(m));
}

let resolved: string | undefined;

/** The SoftHSM2 module path, installing Debian's softhsm2 and opensc when possible. */
export function softhsmModule(): string {
  if (resolved) return resolved;
  let module = installed();
  if (!module) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find((p) => existsSync(p));
    if (!root || !aptGet) {
      throw new Error(
        "The PKCS#11 tests need SoftHSM2 and pkcs11-tool. Install Debian's softhsm2 and opensc packages — " +
          '`sudo apt-get install --no-install-recommends softhsm2 opensc`.',
      );
    }
    process.stderr.write(`» installing ${PACKAGES.join(' and ')} for the PKCS#11 tests (apt-get)…\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => execFileSync(aptGet, ['install', '-y', '-q', '--no-install-recommends', ...PACKAGES], { stdio: 'ignore', env });
    try {
      install();
    } catch {
      execFileSync(aptGet, ['update', '-q'], { stdio: 'ignore', env });
      install();
    }
    module = installed();
    if (!module) throw new Error(`apt-get installed ${PACKAGES.join(', ')}, but no SoftHSM2 module was found at ${MODULES.join(', ')}`);
  }
  resolved = module;
  return module;
}

export interface SoftHsmToken {
  readonly module: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** The SOFTHSM2_CONF of this token: give it to every process that opens the module. */
  readonly conf: string;
  readonly dir: string;
  /** Environment for a child process (Keyward, pkcs11-tool) that uses this token. */
  readonly env: Readonly<Record<string, string>>;
  /** Runs pkcs11-tool on this token (logged in with the user PIN when `login`). */
  pkcs11Tool(args: readonly string[], login?: boolean): string;
  remove(): void;
}

/**
 * Initialises a token in a fresh temporary directory.
 * @example const token = softHsmToken('keyward-test'); process.env.SOFTHSM2_CONF === token.conf
 */
export function softHsmToken(label: string, o: { pin?: string; soPin?: string } = {}): SoftHsmToken {
  const module = softhsmModule();
  const dir = mkdtempSync(join(tmpdir(), 'keyward-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const pin = o.pin ?? '1234';
  const soPin = o.soPin ?? '12345678';
  const env = { ...process.env, SOFTHSM2_CONF: conf } as Record<string, string>;
  execFileSync(TOOLS.softhsm2Util, ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], { env, stdio: 'pipe' });
  return {
    module,
    label,
    pin,
    soPin,
    conf,
    dir,
    env: { SOFTHSM2_CONF: conf },
    pkcs11Tool: (args, login = false) =>
      execFileSync(TOOLS.pkcs11Tool, ['--module', module, '--token-label', label, ...(login ? ['--login', '--pin', pin] : []), ...args], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
