import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { policyJsonSchema } from '../../../services/keyward/src/ca/index.ts';
import { buildOpenApi } from '../../../services/keyward/src/http/openapi.ts';
import { openApiPath, routeErrors, type RouteSpec } from '../../../services/keyward/src/http/route.ts';
import { apiClientRoutes } from '../../../services/keyward/src/http/routes/api_clients.ts';
import { auditRoutes } from '../../../services/keyward/src/http/routes/audit.ts';
import { certificateRoutes } from '../../../services/keyward/src/http/routes/certificates.ts';
import { clientCertificateRoutes } from '../../../services/keyward/src/http/routes/client_certificates.ts';
import { deviceRoutes } from '../../../services/keyward/src/http/routes/devices.ts';
import { docsRoutes } from '../../../services/keyward/src/http/routes/docs.ts';
import { personalAccessTokenRoutes } from '../../../services/keyward/src/http/routes/personal_access_tokens.ts';
import { policyRoutes } from '../../../services/keyward/src/http/routes/policies.ts';
import { realmConfigRoutes } from '../../../services/keyward/src/http/routes/realm_config.ts';
import { realmRoutes } from '../../../services/keyward/src/http/routes/realms.ts';
import { settingsRoutes } from '../../../services/keyward/src/http/routes/settings.ts';
import { sklmRoutes } from '../../../services/keyward/src/http/routes/sklm.ts';
import { systemRoutes } from '../../../services/keyward/src/http/routes/system.ts';
import { whoamiRoutes } from '../../../services/keyward/src/http/routes/whoami.ts';
import { acmeEabRoutes } from '../../../services/keyward/src/http/acme/eab_routes.ts';
import { webhookRoutes } from '../../../services/keyward/src/http/routes/webhooks.ts';
import { ERROR_CATALOGUE } from '../../../services/keyward/src/kernel/errors.ts';
import { realmConfigJsonSchema } from '../../../services/keyward/src/provisioning/realm_config.ts';

/**
 * Route declarations are data; their handlers are never called here. Dependencies they would use
 * throw when touched, which proves that building the document reads only the declarations.
 */
const unused = new Proxy({} as never, {
  get: (_t, key) => {
    if (key === 'then') return undefined;
    throw new Error(`a route declaration read its dependency ${String(key)} while being built`);
  },
});

/** Every route compose.ts mounts, collected the same way (the last test keeps the two lists equal). */
function allRoutes(): RouteSpec[] {
  const routes: RouteSpec[] = [];
  routes.push(
    ...systemRoutes({
      metrics: unused,
      version: 'test',
      openapi: () => buildOpenApi(routes, 'test'),
      checks: { store: unused, keycloak: unused },
    }),
    ...docsRoutes(),
    ...whoamiRoutes({ auth: unused, authz: unused, realms: unused }),
    ...realmRoutes({ auth: unused, authz: unused, realms: unused }),
    ...apiClientRoutes({ auth: unused, clients: unused, idempotency: unused }),
    ...policyRoutes({ auth: unused, policies: unused, policySchema: policyJsonSchema }),
    ...realmConfigRoutes({ auth: unused, authz: unused, realmConfig: unused, schema: realmConfigJsonSchema(policyJsonSchema) }),
    ...certificateRoutes({ auth: unused, issuance: unused, idempotency: unused }),
    ...clientCertificateRoutes({ auth: unused, certs: unused, settings: unused, idempotency: unused }),
    ...personalAccessTokenRoutes({ auth: unused, pats: unused, idempotency: unused }),
    ...settingsRoutes({ auth: unused, settings: unused, approvals: unused }),
    ...deviceRoutes({ auth: unused, devices: unused, settings: unused }),
    ...sklmRoutes({ auth: unused, devices: unused, defaultRealm: 'devices' }),
    ...auditRoutes({ auth: unused, events: unused }),
    ...acmeEabRoutes({ auth: unused, acme: unused }),
    ...webhookRoutes({ auth: unused, webhooks: unused }),
  );
  return routes;
}

const FACTORIES = [
  'acmeEabRoutes',
  'systemRoutes',
  'docsRoutes',
  'whoamiRoutes',
  'realmRoutes',
  'apiClientRoutes',
  'policyRoutes',
  'realmConfigRoutes',
  'certificateRoutes',
  'clientCertificateRoutes',
  'personalAccessTokenRoutes',
  'settingsRoutes',
  'deviceRoutes',
  'sklmRoutes',
  'auditRoutes',
  'webhookRoutes',
];

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
