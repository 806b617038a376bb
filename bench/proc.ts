/** Processes for the benchmarks: CPU and memory figures (Linux /proc), and `keyward serve` children. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort } from '../services/keyward/src/devenv/index.ts';

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
