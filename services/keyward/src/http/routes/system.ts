/** Health, readiness, metrics and the OpenAPI document. */
import type { GaugeFamily, Metrics } from '../metrics.ts';
import type { RouteSpec } from '../route.ts';

export interface SystemDeps {
  readonly metrics: Metrics;
  /** Each dependency's state; ready when all are up. */
  readonly checks: Readonly<Record<string, () => Promise<void>>>;
  /** More about a dependency's state, shown beside its check (e.g. the grace period while Keycloak is down). */
  readonly notes?: Readonly<Record<string, () => Record<string, unknown>>>;
  readonly openapi: () => Record<string, unknown>;
  readonly version: string;
  readonly gauges?: () => Record<string, { help: string; value: number }>;
  /** Labelled gauges read from the store (the expiry metrics), cached by their provider. */
  readonly families?: () => Promise<readonly GaugeFamily[]>;
}

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'down'] }, checks: { type: 'object', additionalProperties: { type: 'object' } } },
};

export function systemRoutes(deps: SystemDeps): RouteSpec[] {
  const checkNames = Object.keys(deps.checks).join('|');
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
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ignore: {
            description:
              'Checks (comma-separated) still reported but not making the answer 503: a Kubernetes readiness probe with ' +
              '`?ignore=keycloak` keeps every replica in service during an outage of the Keycloak they share, while last ' +
              'known roles are served (KEYWARD_ROLE_GRACE_SECONDS).',
            type: 'string',
            pattern: `^(${checkNames})(,(${checkNames}))*$`,
          },
        },
      },
      responses: { 200: { description: 'Ready', schema: statusSchema }, 503: { description: 'Not ready', schema: statusSchema } },
      handler: async (req, res) => {
        const ignored = new Set(typeof req.query.ignore === 'string' ? req.query.ignore.split(',') : []);
        const checks: Record<string, { status: 'up' | 'down'; error?: string; ms: number } & Record<string, unknown>> = {};
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
        for (const [name, note] of Object.entries(deps.notes ?? {})) if (checks[name]) Object.assign(checks[name], note());
        const up = Object.entries(checks).every(([name, c]) => c.status === 'up' || ignored.has(name));
        res.status(up ? 200 : 503).json({ status: up ? 'up' : 'down', checks });
      },
    },
    {
      method: 'get',
      path: '/metrics',
      tag: 'system',
      auth: 'none',
      summary: 'Prometheus metrics',
      responses: {
        200: {
          description: 'Metrics in the Prometheus text format',
          contentType: 'text/plain',
          schema: { type: 'string', description: 'Prometheus text exposition format 0.0.4' },
        },
      },
      handler: async (_req, res) => {
        const families = (await deps.families?.()) ?? [];
        const mem = process.memoryUsage();
        res.type('text/plain; version=0.0.4').send(
          deps.metrics.render(
            {
              process_resident_memory_bytes: { help: 'Resident set size', value: mem.rss },
              nodejs_heap_used_bytes: { help: 'V8 heap in use', value: mem.heapUsed },
              ...deps.gauges?.(),
            },
            families,
          ),
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
