/**
 * Builds the web console (services/console, Vite) into services/console/dist
 * when it is missing or older than its sources. `keyward dev`, scripts/test
 * and the browser tests call it; `npm run console:build` builds
 * unconditionally.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CONSOLE_SOURCE_DIR = join(REPOSITORY_ROOT, 'services', 'console');
export const CONSOLE_DIST_DIR = join(CONSOLE_SOURCE_DIR, 'dist');

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    m = Math.max(m, newest(join(path, name)));
  }
  return m;
}

/** True when dist/index.html is missing or older than a source file, the Vite config or the lock file. */
export function consoleStale(): boolean {
  const built = join(CONSOLE_DIST_DIR, 'index.html');
  if (!existsSync(built)) return true;
  const lock = join(REPOSITORY_ROOT, 'package-lock.json');
  const sources = Math.max(newest(CONSOLE_SOURCE_DIR), existsSync(lock) ? statSync(lock).mtimeMs : 0);
  return sources > statSync(built).mtimeMs;
}

/** Runs `vite build`; rejects with Vite's own output when the build fails. */
export function buildConsole(options: { say?: (line: string) => void } = {}): Promise<void> {
  const vite = join(REPOSITORY_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    return Promise.reject(new Error('keyward: Vite is not installed; run `npm ci` in the repository (scripts/up and scripts/test do)'));
  }
  options.say?.('building the web console (vite build)…');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', join(CONSOLE_SOURCE_DIR, 'vite.config.ts')], {
      cwd: REPOSITORY_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`keyward: the web console did not build (vite exit ${code}):\n${output.trim()}`)),
    );
  });
}

/** Builds the console when it is stale; a no-op otherwise. */
export async function ensureConsoleBuilt(options: { say?: (line: string) => void } = {}): Promise<void> {
  if (consoleStale()) await buildConsole(options);
}
