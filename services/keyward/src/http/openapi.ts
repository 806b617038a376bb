/**
 * Builds the OpenAPI 3.1 document served at /v1/openapi.json from the route declarations: every
 * route's parameters, request body, success answers in each media type, and its errors, one
 * response per HTTP status naming its codes (problem+json, RFC 9457; the catalogue in kernel/errors.ts).
 */
import { ERROR_CATALOGUE, type ErrorCode } from '../kernel/errors.ts';
import { errorStatus, openApiPath, pathParams, routeErrors, type RouteSpec } from './route.ts';

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

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'A retry with the same key and the same request returns the first answer (with Idempotent-Replayed: true); ' +
    'the same key with another request is refused (idempotency.key_reused)',
  schema: { type: 'string', minLength: 1, maxLength: 257 },
};

/** One response per error status, its codes named in the description and as an enum of `code`. */
function addErrors(s: RouteSpec, responses: Record<string, unknown>): void {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrors(s)) {
    const status = errorStatus(s, code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const listed = codes.map((c) => `\`${c}\` (${ERROR_CATALOGUE[c].title})`).join('; ');
    const [type, schema] = s.errorBody
      ? ['application/json', { allOf: [s.errorBody.schema, { properties: { code: { type: 'string' } } }] }]
      : ['application/problem+json', { allOf: [{ $ref: '#/components/schemas/Problem' }, { properties: { code: { enum: codes } } }] }];
    const prior = responses[String(status)] as { description: string; content?: Record<string, unknown> } | undefined;
    const description = s.errorBody ? `${s.errorBody.description}. Codes: ${listed}` : `Problem details (RFC 9457); code: ${listed}`;
    responses[String(status)] = {
      description: prior ? `${prior.description}. ${description}` : description,
      content: { ...prior?.content, [type]: { schema } },
    };
  }
}

export function buildOpenApi(specs: readonly RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const s of specs) {
    const path = openApiPath(s.path);
    const params = pathParams(s.path).map((name) => ({
      name,
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
    // Routes that honour Idempotency-Key (they list its refusals): a retry with the same key gets the first answer.
    const headerParams = routeErrors(s).includes('idempotency.key_invalid') ? [IDEMPOTENCY_KEY] : [];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(s.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema || r.alternatives
          ? {
              content: {
                ...(r.schema ? { [r.contentType ?? 'application/json']: { schema: r.schema } } : {}),
                ...Object.fromEntries(Object.entries(r.alternatives ?? {}).map(([t, schema]) => [t, { schema }])),
              },
            }
          : {}),
      };
    }
    addErrors(s, responses);
    (paths[path] ??= {})[s.method] = {
      summary: s.summary,
      tags: [s.tag],
      operationId: `${s.method}${path
        .replace(/[{}]/g, '')
        .split(/[/-]/)
        .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : ''))
        .join('')}`,
      ...(params.length + queryParams.length + headerParams.length ? { parameters: [...params, ...queryParams, ...headerParams] } : {}),
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
