/**
 * Renders the scale benchmark's figures (bench/results/scale.json) as
 * Markdown tables: `node bench/scale_report.ts` rewrites bench/results/scale.md
 * (bench/scale.ts calls it at the end of a run).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Figures = Record<string, number | string>;
export interface ScaleResult {
  date: string;
  quick: boolean;
  machine: { cores: number; cpu?: string; node: string };
  seconds: number;
  samples: { max: number; seconds: number; min: number };
  rungs: Array<{
    n: number;
    load: { seconds: number; signSeconds: number; perSecond: number };
    indexSeconds: number;
    before: Figures;
    after: Figures;
    plansBefore: Record<string, string>;
    plansAfter: Record<string, string>;
    mix: Record<string, number>;
  }>;
  pats: { count: number; before: Figures; after: Figures; plansBefore: Record<string, string>; plansAfter: Record<string, string> };
}

const short = (n: number) => (n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : `${Math.round(n / 1000)}k`);
const fmt = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en') : String(v ?? '–'));
const ratio = (a: number, b: number) => (a > 0 && Number.isFinite(b) ? `${Math.round((b / a) * 10) / 10}×` : '–');

/** Figures keyed as this report reads them (earlier runs named the deep page by its offset). */
const normalised = (f: Figures): Figures =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k.replace(/offset [\d,]+/, 'offset n/2'), v]));

export function renderScale(input: ScaleResult): string {
  const r: ScaleResult = {
    ...input,
    rungs: input.rungs.map((x) => ({ ...x, before: normalised(x.before), after: normalised(x.after) })),
  };
  const heads = r.rungs.map((x) => x.n.toLocaleString('en'));
  const steps = r.rungs.length > 1 ? r.rungs.slice(1).map((x, k) => `${short(r.rungs[k]!.n)}→${short(x.n)}`) : [];
  const growth = (vals: number[]) => vals.slice(1).map((v, k) => ratio(vals[k]!, v));
  const queries = Object.keys(r.rungs[0]!.before)
    .filter((k) => k.startsWith('search: ') && k.endsWith(' p50 ms'))
    .map((k) => k.slice('search: '.length, -' p50 ms'.length));
  const label = (q: string) => q.replace(/offset [\d,]+/, 'offset n/2');
  const searchTable = (which: 'before' | 'after') => [
    `| Search (${which} 017), p50 / p99 ms | ${heads.join(' | ')} | p50 growth ${steps.join(', ')} |`,
    `| --- | ${heads.map(() => '---:').join(' | ')} | --- |`,
    ...queries.map((q) => {
      const p50 = r.rungs.map((x) => Number(x[which][`search: ${q} p50 ms`]));
      const p99 = r.rungs.map((x) => Number(x[which][`search: ${q} p99 ms`]));
      return `| ${label(q)} | ${p50.map((v, k) => `${fmt(v)} / ${fmt(p99[k])}`).join(' | ')} | ${growth(p50).join(', ')} |`;
    }),
  ];
  const other: Array<[string, string]> = [
    ['OCSP over HTTP, random serials, 16 in flight: p50 / p99 ms', 'OCSP over HTTP p50 ms|OCSP over HTTP p99 ms'],
    ['OCSP responses/s', 'OCSP over HTTP resp/s (16 in flight)'],
    ['CRL: revoked entries / bytes', 'CRL entries|CRL bytes'],
    ['CRL streamed (Keyward): s', 'CRL streamed (Keyward) s'],
    ['CRL streamed: peak RSS / heap delta MB', 'CRL streamed peak RSS delta MB|CRL streamed peak heap delta MB'],
    ['CRL whole list in memory (former): s', 'CRL in memory (former) s'],
    ['CRL in memory: peak RSS / heap delta MB', 'CRL in memory peak RSS delta MB|CRL in memory peak heap delta MB'],
    ['CRL through the service (lock, number, sign, save): s', 'CRL through the service (lock, sign, save) s'],
    [
      'database bytes per certificate: total (heap / indexes)',
      'database bytes per certificate (table + TOAST + indexes)|  of which heap|  of which indexes',
    ],
  ];
  const otherTable = (which: 'before' | 'after') => [
    `| Revocation status and size (${which} 017) | ${heads.join(' | ')} | growth ${steps.join(', ')} |`,
    `| --- | ${heads.map(() => '---:').join(' | ')} | --- |`,
    ...other.map(([name, keys]) => {
      const ks = keys.split('|');
      const cell = (x: ScaleResult['rungs'][number]) => {
        const v = ks.map((k) => fmt(x[which][k]));
        return ks.length === 3 ? `${v[0]} (${v[1]} / ${v[2]})` : v.join(' / ');
      };
      const first = r.rungs.map((x) => Number(x[which][ks[0]!]));
      return `| ${name} | ${r.rungs.map(cell).join(' | ')} | ${growth(first).join(', ')} |`;
    }),
  ];
  const last = r.rungs.at(-1)!;
  const patQueries = Object.keys(r.pats.before)
    .filter((k) => k.endsWith(' p50 ms'))
    .map((k) => k.slice(0, -' p50 ms'.length));
  return [
    `# Keyward scale benchmark (${r.date}, ${r.quick ? 'quick' : 'full'}, ${r.machine.cores} cores, ` +
      `Node ${r.machine.node}, ${r.seconds} s)`,
    '',
    `Samples: up to ${r.samples.max} a figure or ${r.samples.seconds} s, at least ${r.samples.min}; ` +
      'p99 of fewer than 100 samples is their maximum.',
    '',
    '| Rung | Loaded at | Signing | Valid / expired / revoked | DER bytes (mean) | Migration 017 applied in |',
    '| ---: | ---: | ---: | --- | ---: | ---: |',
    ...r.rungs.map(
      (x) =>
        `| ${fmt(x.n)} | ${fmt(x.load.perSecond)}/s | ${x.load.signSeconds} s | ${fmt(x.mix.valid)} / ${fmt(x.mix.expired)} / ` +
        `${fmt(x.mix.revoked)} | ${fmt(x.mix.der_bytes)} | ${x.indexSeconds} s |`,
    ),
    '',
    ...searchTable('before'),
    '',
    ...searchTable('after'),
    '',
    ...otherTable('before'),
    '',
    ...otherTable('after'),
    '',
    `| PAT admin view, ${fmt(r.pats.count)} tokens, page of 100: p50 / p99 ms | before 017 | after 017 |`,
    '| --- | ---: | ---: |',
    ...patQueries.map(
      (q) =>
        `| ${q.replace(/^PAT admin view, /, '')} | ${fmt(r.pats.before[`${q} p50 ms`])} / ${fmt(r.pats.before[`${q} p99 ms`])} | ` +
        `${fmt(r.pats.after[`${q} p50 ms`])} / ${fmt(r.pats.after[`${q} p99 ms`])} |`,
    ),
    '',
    `| Plan at ${fmt(last.n)} (EXPLAIN of the store's statement) | before 017 | after 017 |`,
    '| --- | --- | --- |',
    ...Object.keys(last.plansBefore).map((k) => `| ${label(k)} | ${last.plansBefore[k]} | ${last.plansAfter[k]} |`),
    ...Object.keys(r.pats.plansBefore).map((k) => `| ${k} | ${r.pats.plansBefore[k]} | ${r.pats.plansAfter[k]} |`),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const md = renderScale(JSON.parse(readFileSync(`${root}bench/results/scale.json`, 'utf8')) as ScaleResult);
  writeFileSync(`${root}bench/results/scale.md`, md);
  process.stdout.write(md);
}
