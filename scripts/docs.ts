/**
 * Regenerates the generated sections of README.md (settings, error codes):
 *   node scripts/docs.ts          rewrite README.md
 *   node scripts/docs.ts --check  exit 1 when README.md is stale (run by the tests)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settingsMarkdown } from '../services/keyward/src/kernel/config.ts';
import { ERROR_CATALOGUE } from '../services/keyward/src/kernel/errors.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

export function generated(): Record<string, string> {
  const codes = Object.entries(ERROR_CATALOGUE).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.title} |`);
  return {
    settings: settingsMarkdown(),
    'error-codes': ['| Code | HTTP | Meaning |', '| --- | --- | --- |', ...codes].join('\n'),
  };
}

export function render(text: string): string {
  let out = text;
  for (const [name, body] of Object.entries(generated())) {
    const re = new RegExp(`(<!-- generated:${name} -->\\n)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    if (!re.test(out)) throw new Error(`README.md lacks the markers of ${name}`);
    out = out.replace(re, `$1${body.replace(/\$/g, '$$$$')}\n$2`);
  }
  return out;
}

if (import.meta.main) {
  const text = readFileSync(README, 'utf8');
  const next = render(text);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      process.stderr.write('README.md is stale: run node scripts/docs.ts\n');
      process.exit(1);
    }
  } else {
    writeFileSync(README, next);
  }
}
