/**
 * Keyward replicas as real processes (`keyward serve`), for tests of what
 * happens to a process: a signal, a kill, a restart. Each is stopped at the
 * end of the run if the test did not stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/keyward/src/devenv/index.ts';
import { replicaEnv } from './env.ts';

const BIN = fileURLToPath(new URL('../../bin/keyward', import.meta.url));
const running = new Set<ChildProcess>();

export interface Replica {
  readonly url: string;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** What the process wrote to stderr (its JSON log lines). */
  readonly stderr: () => string;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `keyward serve` on a free port; resolves once /healthz answers. */
export async function startReplica(overrides: Record<string, string> = {}): Promise<Replica> {
  const port = await freePort();
  const child = spawn(BIN, ['serve'], {
    env: await replicaEnv({ KEYWARD_PORT: String(port), ...overrides }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, at: Date.now() });
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`keyward serve exited with ${child.exitCode}: ${err.slice(-2000)}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, pid: child.pid!, exited, stderr: () => err, kill: (s) => child.kill(s) };
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`keyward serve did not answer /healthz within 60 s: ${err.slice(-2000)}`);
}

/** Kills the replicas still running (mochaGlobalTeardown). */
export function killReplicas(): void {
  for (const c of running) c.kill('SIGKILL');
}
