/** Builds the OpenAPI 3.1 document served at /v1/openapi.json from the route declarations. */
import { ERROR_CATALOGUE } from '../kernel/errors.ts';
import { openApiPath, type RouteSpec } from './route.ts';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(ERROR_CATALOGUE) },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
};

export function buildOpenApi(specs: readonly RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const s of specs) {
    const path = openApiPath(s.path);
    const params = [...s.path.matchAll(/:([A-Za-z_]\w*)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams = s.query
      ? Object.entries((s.query.properties ?? {}) as Record<string, Record<string, unknown>>).map(([name, schema]) => ({
          name,
          in: 'query',
          required: ((s.query!.required as string[] | undefined) ?? []).includes(name),
          schema,
        }))
      : [];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(s.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema || r.contentType ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema ?? {} } } } : {}),
      };
    }
    responses.default = {
      description: 'Error (RFC 9457 problem details)',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
    (paths[path] ??= {})[s.method] = {
      summary: s.summary,
      tags: [s.tag],
      operationId: `${s.method}${path
        .replace(/[{}]/g, '')
        .split(/[/-]/)
        .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : ''))
        .join('')}`,
      ...(params.length + queryParams.length ? { parameters: [...params, ...queryParams] } : {}),
      ...(s.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: s.body },
                ...Object.fromEntries((s.rawBodies ?? []).map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
              },
            },
          }
        : {}),
      responses,
      ...(s.auth === 'none' ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Keyward API', version, description: 'Certificate lifecycle and API-client control plane for Keycloak.' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (Keycloak access token) or kwp_… (personal access token)' },
      },
      schemas: { Problem: problemSchema },
    },
  };
}
