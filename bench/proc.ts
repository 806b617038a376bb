/** Process CPU figures for the benchmarks (Linux /proc). */
import { readdirSync, readFileSync } from 'node:fs';

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
