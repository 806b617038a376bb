/** Processes for the benchmarks: CPU and memory figures (Linux /proc), and `keyward serve` children. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../services/keyward/src/devenv/index.ts';
import { bootstrap } from '../services/keyward/src/keycloak/bootstrap.ts';

/** CPU seconds used so far by the PostgreSQL server processes on this machine (Linux /proc; 0 elsewhere). */
export function postgresCpuSeconds(): number {
  let ticks = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
        const f = stat.slice(close + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]);
      } catch {
        /* gone */
      }
    }
  } catch {
    return 0;
  }
  return ticks / 100;
}

/** Resident memory of a process in MB (Linux /proc). */
export const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/**
 * Starts `keyward serve` as a child process on a free port with `env` and
 * waits for /healthz (up to `seconds`); the child is added to `children` so
 * the benchmark stops it at the end.
 */
export async function startServe(o: {
  bin: string;
  env: NodeJS.ProcessEnv;
  children: ChildProcess[];
  seconds?: number;
}): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const child = spawn(o.bin, ['serve'], { env: { ...o.env, KEYWARD_PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  o.children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let t = 0; t < (o.seconds ?? 30) * 10; t++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, pid: child.pid! };
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('keyward serve did not start');
}

/**
 * Keyward's bootstrap on the benchmark's Keycloak, and the environment of a
 * Keyward on it and `databaseUrl`: a fresh key-encryption key, a data folder
 * of its own (`keyward-bench-<name>-<pid>` in the temporary folder), errors
 * only in the log, a 10-second role cache.
 *
 * @example const { env } = await benchEnvironment({ keycloak, databaseUrl: database.url, name: 'soak' });
 */
export async function benchEnvironment(o: {
  keycloak: { url: string; adminUser: string; adminPassword: string };
  databaseUrl: string;
  name: string;
  /** The operator client bootstrap makes in the master realm (default keyward-bench-operator). */
  operatorClientId?: string;
}): Promise<{ boot: Awaited<ReturnType<typeof bootstrap>>; env: Record<string, string> }> {
  const boot = await bootstrap({
    url: o.keycloak.url,
    adminUser: o.keycloak.adminUser,
    adminPassword: o.keycloak.adminPassword,
    clientId: 'keyward-control-plane',
    audience: 'keyward',
    operatorClientId: o.operatorClientId ?? 'keyward-bench-operator',
  });
  return {
    boot,
    env: {
      KEYWARD_DATABASE_URL: o.databaseUrl,
      KEYWARD_KEYCLOAK_URL: o.keycloak.url,
      KEYWARD_KEYCLOAK_CLIENT_SECRET: boot.clientSecret,
      KEYWARD_KEK: randomBytes(32).toString('base64'),
      KEYWARD_LOG_LEVEL: 'error',
      KEYWARD_DATA_DIR: join(tmpdir(), `keyward-bench-${o.name}-${process.pid}`),
      KEYWARD_ROLE_CACHE_SECONDS: '10',
    },
  };
}
