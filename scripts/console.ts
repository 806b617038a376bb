/**
 * `node scripts/console.ts [--if-stale]`: builds the web console into
 * services/console/dist (`npm run console:build`). With --if-stale, only when
 * its sources changed since the last build.
 */
import { buildConsole, ensureConsoleBuilt } from '../services/keyward/src/devenv/console_build.ts';

const say = (line: string) => process.stderr.write(`» ${line}\n`);
try {
  if (process.argv.includes('--if-stale')) await ensureConsoleBuilt({ say });
  else await buildConsole({ say });
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
