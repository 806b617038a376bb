import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { declaredRoutes, DECLARED_ROUTE_FACTORIES } from '../../../services/keyward/src/http/declared_routes.ts';
import { buildOpenApi } from '../../../services/keyward/src/http/openapi.ts';
import { openApiPath, routeErrors, type RouteSpec } from '../../../services/keyward/src/http/route.ts';
import { ERROR_CATALOGUE } from '../../../services/keyward/src/kernel/errors.ts';

/** Every route compose.ts mounts, from the one list http/declared_routes.ts keeps (the last test keeps it equal to compose.ts). */
const allRoutes = (): RouteSpec[] => declaredRoutes('test');
const FACTORIES = DECLARED_ROUTE_FACTORIES;

type Operation = { responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }> };

describe('OpenAPI document', () => {
  const routes = allRoutes();
  const doc = buildOpenApi(routes, 'test');
  const operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })),
  );

  it('validates against the OpenAPI 3.1 schema with no errors', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(validator.version).to.equal('3.1');
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
  });

  it('has one operation per route, and a unique operationId for each', () => {
    expect(operations).to.have.length(routes.length);
    const ids = operations.map(({ op }) => (op as unknown as { operationId: string }).operationId);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('gives every success answer a schema for each of its media types (a 204 has no body)', () => {
    const lacking: string[] = [];
    for (const r of routes) {
      const successes = Object.entries(r.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (successes.length === 0) lacking.push(`${r.method.toUpperCase()} ${r.path}: no success response`);
      for (const [status, response] of successes) {
        if (status === '204') continue;
        if (!response.schema) lacking.push(`${r.method.toUpperCase()} ${r.path} ${status}: no schema`);
        for (const [type, schema] of Object.entries(response.alternatives ?? {})) {
          if (Object.keys(schema).length === 0) lacking.push(`${r.method.toUpperCase()} ${r.path} ${status} ${type}: empty schema`);
        }
      }
    }
    expect(lacking).to.deep.equal([]);
  });

  it('lists only catalogued error codes, each under its status with the codes as an enum', () => {
    const unknown = routes.flatMap((r) => (r.errors ?? []).filter((c) => !(c in ERROR_CATALOGUE)).map((c) => `${r.path}: ${c}`));
    expect(unknown).to.deep.equal([]);
    for (const r of routes.filter((x) => !x.errorBody)) {
      const op = (doc.paths as Record<string, Record<string, Operation>>)[openApiPath(r.path)]![r.method]!;
      for (const code of routeErrors(r)) {
        const answer = op.responses[String(ERROR_CATALOGUE[code].status)];
        expect(answer, `${r.method} ${r.path} ${code}`).to.not.equal(undefined);
        expect(answer!.description).to.contain(`\`${code}\``);
        const schema = answer!.content!['application/problem+json']!.schema as {
          allOf: [unknown, { properties: { code: { enum: string[] } } }];
        };
        expect(schema.allOf[1].properties.code.enum).to.include(code);
      }
    }
  });

  it('has every authenticated route declare its own errors (an empty list when it has none beyond authentication)', () => {
    const bare = routes.filter((r) => r.auth === 'bearer' && r.errors === undefined).map((r) => `${r.method} ${r.path}`);
    expect(bare).to.deep.equal([]);
  });

  it('documents the non-JSON answers: PEM chains, CRLs, OCSP, and the SKLM-compatible path', () => {
    const types = (at: string) =>
      Object.values(operations.find((o) => o.at === at)!.op.responses)
        .flatMap((r) => Object.keys(r.content ?? {}))
        .sort();
    expect(types('GET /v1/realms/{realm}/ca')).to.include('application/pem-certificate-chain');
    expect(types('GET /v1/realms/{realm}/crl')).to.include('application/pkix-crl');
    expect(
      operations.some(
        (o) => o.at.startsWith('POST /v1/realms/{realm}/ocsp') && 'application/ocsp-response' in (o.op.responses['200']?.content ?? {}),
      ),
    ).to.equal(true);
    expect(types('POST /SKLM/rest/v1/pendingClientCertificates')).to.include('application/json');
    expect(types('POST /SKLM/rest/v1/pendingClientCertificates')).to.not.include('application/problem+json');
  });

  it('documents the Idempotency-Key header where a route honours it', () => {
    const withKey = operations
      .filter(({ op }) => ((op as { parameters?: { name: string }[] }).parameters ?? []).some((p) => p.name === 'Idempotency-Key'))
      .map((o) => o.at);
    expect(withKey).to.include.members(['POST /v1/realms/{realm}/certificates', 'POST /v1/realms/{realm}/api-clients']);
    expect(withKey).to.not.include('GET /v1/realms/{realm}/certificates');
    // Every handler that answers through http/idempotency.ts's replayable() lists its refusals, hence the header.
    const replaying = routes
      .filter((r) => r.handler.toString().includes('replayable('))
      .map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
    expect(replaying).to.have.length.greaterThan(3);
    expect(withKey.sort()).to.deep.equal(replaying.sort());
  });

  it('covers every route list compose.ts mounts', () => {
    const compose = readFileSync(new URL('../../../services/keyward/src/compose.ts', import.meta.url), 'utf8');
    const mounted = [...compose.matchAll(/\.\.\.(\w+Routes)\(/g)].map((m) => m[1]);
    expect(mounted.sort()).to.deep.equal([...FACTORIES].sort());
  });
});
