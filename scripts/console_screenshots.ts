/**
 * `npm run console:screenshots`: runs the console's browser tests (which write
 * a screenshot of every page to test/results/screenshots/) and copies the ones
 * the README shows into docs/console/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The pages the README's Console section shows. */
export const README_SCREENSHOTS = [
  'my-access',
  'pat-administration',
  'approvals',
  'devices',
  'api-clients',
  'certificates',
  'certificate-detail',
];

const tests = readdirSync(join(ROOT, 'test', 'browser'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', 'browser', f));
const run = spawnSync(
  'npx',
  ['--no-install', 'mocha', '--no-config', '--require', 'test/support/hooks.ts', '--timeout', '600000', ...tests],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
if (run.status !== 0) process.exit(run.status ?? 1);
const from = join(ROOT, 'test', 'results', 'screenshots');
const to = join(ROOT, 'docs', 'console');
mkdirSync(to, { recursive: true });
for (const name of README_SCREENSHOTS) {
  const file = join(from, `${name}.png`);
  if (!existsSync(file)) {
    process.stderr.write(`keyward: the browser tests wrote no ${name}.png\n`);
    process.exit(1);
  }
  copyFileSync(file, join(to, `${name}.png`));
  process.stderr.write(`» docs/console/${name}.png\n`);
}
