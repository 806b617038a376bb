/**
 * A small Prometheus registry: counters and a latency histogram, rendered in
 * the text exposition format at /metrics. No dependency needed for this much.
 */
type Labels = Record<string, string>;

/** A gauge with labelled samples (e.g. per realm and policy). */
export interface GaugeFamily {
  readonly name: string;
  readonly help: string;
  readonly samples: readonly { readonly labels: Labels; readonly value: number }[];
}

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');

export class Metrics {
  readonly #counters = new Map<string, { help: string; values: Map<string, number> }>();
  readonly #histograms = new Map<
    string,
    { help: string; buckets: number[]; series: Map<string, { counts: number[]; sum: number; count: number }> }
  >();

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.#counters.get(name);
    if (!c) this.#counters.set(name, (c = { help, values: new Map() }));
    const k = key(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + by);
  }

  observe(
    name: string,
    help: string,
    labels: Labels,
    value: number,
    buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  ): void {
    let h = this.#histograms.get(name);
    if (!h) this.#histograms.set(name, (h = { help, buckets, series: new Map() }));
    const k = key(labels);
    let s = h.series.get(k);
    if (!s) h.series.set(k, (s = { counts: h.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < h.buckets.length; i++) if (value <= h.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(gauges: Record<string, { help: string; value: number }> = {}, families: readonly GaugeFamily[] = []): string {
    const out: string[] = [];
    for (const [name, c] of this.#counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k ? `{${k}}` : ''} ${v}`);
    }
    for (const [name, h] of this.#histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [k, s] of h.series) {
        const sep = k ? ',' : '';
        h.buckets.forEach((b, i) => out.push(`${name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
        out.push(
          `${name}_bucket{${k}${sep}le="+Inf"} ${s.count}`,
          `${name}_sum${k ? `{${k}}` : ''} ${s.sum}`,
          `${name}_count${k ? `{${k}}` : ''} ${s.count}`,
        );
      }
    }
    for (const [name, g] of Object.entries(gauges)) out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    for (const f of families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
      for (const s of f.samples) out.push(`${f.name}{${key(s.labels)}} ${s.value}`);
    }
    return out.join('\n') + '\n';
  }
}

/**
 * A value computed at most once per `ms` (a scrape every second reads the store at most once per `ms`); concurrent
 * callers share one computation, and a failed one is not kept.
 */
export function cached<T>(ms: number, compute: () => Promise<T>, now = () => performance.now()): () => Promise<T> {
  let value: { at: number; p: Promise<T> } | undefined;
  return () => {
    if (value && now() - value.at < ms) return value.p;
    const p = compute();
    const entry = { at: now(), p };
    value = entry;
    p.catch(() => {
      if (value === entry) value = undefined;
    });
    return p;
  };
}
