/**
 * The load generator's HTTP client: node:http with keep-alive sockets. It
 * shares the two cores with the servers it measures, so it must be cheap:
 * measured here at about 100–140 µs of client CPU per request at 64 in
 * flight, against 400–480 µs for fetch (undici). Every HTTP scenario —
 * Keyward's and cfssl's alike — goes through it.
 */
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';

const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Runs `fn` from `concurrency` loops for `seconds`: completed calls per second, each call's latency in ms, and
 * how many threw (not counted as completed).
 * @example const { perSecond } = await asyncRate(() => issue(), 16, 6);
 */
export async function asyncRate(
  fn: () => Promise<unknown>,
  concurrency: number,
  seconds: number,
): Promise<{ perSecond: number; latencies: number[]; errors: number }> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await fn();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { perSecond: latencies.length / ((performance.now() - start) / 1000), latencies, errors };
}
