/** Health, readiness, metrics and the OpenAPI document. */
import type { Metrics } from '../metrics.ts';
import type { RouteSpec } from '../route.ts';

export interface SystemDeps {
  readonly metrics: Metrics;
  /** Each dependency's state; ready when all are up. */
  readonly checks: Readonly<Record<string, () => Promise<void>>>;
  readonly openapi: () => Record<string, unknown>;
  readonly version: string;
  readonly gauges?: () => Record<string, { help: string; value: number }>;
}

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'down'] }, checks: { type: 'object', additionalProperties: { type: 'object' } } },
};

export function systemRoutes(deps: SystemDeps): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/healthz',
      tag: 'system',
      auth: 'none',
      summary: 'Liveness: the process serves requests',
      responses: { 200: { description: 'Alive', schema: statusSchema } },
      handler: (_req, res) => {
        res.json({ status: 'up', version: deps.version });
      },
    },
    {
      method: 'get',
      path: '/readyz',
      tag: 'system',
      auth: 'none',
      summary: 'Readiness: Keycloak and the store are reachable',
      responses: { 200: { description: 'Ready', schema: statusSchema }, 503: { description: 'Not ready', schema: statusSchema } },
      handler: async (_req, res) => {
        const checks: Record<string, { status: 'up' | 'down'; error?: string; ms: number }> = {};
        await Promise.all(
          Object.entries(deps.checks).map(async ([name, check]) => {
            const t = Date.now();
            try {
              await withTimeout(check(), 3000);
              checks[name] = { status: 'up', ms: Date.now() - t };
            } catch (err) {
              checks[name] = { status: 'down', error: (err as Error).message, ms: Date.now() - t };
            }
          }),
        );
        const up = Object.values(checks).every((c) => c.status === 'up');
        res.status(up ? 200 : 503).json({ status: up ? 'up' : 'down', checks });
      },
    },
    {
      method: 'get',
      path: '/metrics',
      tag: 'system',
      auth: 'none',
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'Metrics in the Prometheus text format', contentType: 'text/plain' } },
      handler: (_req, res) => {
        const mem = process.memoryUsage();
        res.type('text/plain; version=0.0.4').send(
          deps.metrics.render({
            process_resident_memory_bytes: { help: 'Resident set size', value: mem.rss },
            nodejs_heap_used_bytes: { help: 'V8 heap in use', value: mem.heapUsed },
            ...deps.gauges?.(),
          }),
        );
      },
    },
    {
      method: 'get',
      path: '/v1/openapi.json',
      tag: 'system',
      auth: 'none',
      summary: 'This API as an OpenAPI 3.1 document',
      responses: { 200: { description: 'The OpenAPI document', schema: { type: 'object' } } },
      handler: (_req, res) => {
        res.json(deps.openapi());
      },
    },
  ];
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
