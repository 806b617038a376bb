/**
 * Every route compose.ts mounts, built from its declaration alone, and the
 * OpenAPI document made from them without a running server: what
 * `npm run sdk:generate` turns into the TypeScript client's types.
 *
 * Route declarations are data; their handlers are never called here. The
 * dependencies they would use throw when touched, which proves that building
 * the document reads only the declarations.
 */
import { policyJsonSchema } from '../ca/index.ts';
import { realmConfigJsonSchema } from '../provisioning/realm_config.ts';
import { buildOpenApi } from './openapi.ts';
import type { RouteSpec } from './route.ts';
import { acmeEabRoutes } from './acme/eab_routes.ts';
import { apiClientRoutes } from './routes/api_clients.ts';
import { auditRoutes } from './routes/audit.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { clientCertificateRoutes } from './routes/client_certificates.ts';
import { deviceRoutes } from './routes/devices.ts';
import { docsRoutes } from './routes/docs.ts';
import { personalAccessTokenRoutes } from './routes/personal_access_tokens.ts';
import { policyRoutes } from './routes/policies.ts';
import { realmConfigRoutes } from './routes/realm_config.ts';
import { realmRoutes } from './routes/realms.ts';
import { settingsRoutes } from './routes/settings.ts';
import { sklmRoutes } from './routes/sklm.ts';
import { systemRoutes } from './routes/system.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { whoamiRoutes } from './routes/whoami.ts';

const unused = new Proxy({} as never, {
  get: (_t, key) => {
    if (key === 'then') return undefined;
    throw new Error(`a route declaration read its dependency ${String(key)} while being built`);
  },
});

/** The route factories called below, by name (a test keeps the list equal to what compose.ts mounts). */
export const DECLARED_ROUTE_FACTORIES: readonly string[] = [
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
  'acmeEabRoutes',
  'webhookRoutes',
];

/**
 * The routes of a Keyward server, in the order compose.ts mounts them.
 *
 * @example
 * declaredRoutes('0.1.0').map((r) => `${r.method} ${r.path}`) // ['get /healthz', …]
 */
export function declaredRoutes(version: string): RouteSpec[] {
  const routes: RouteSpec[] = [];
  routes.push(
    ...systemRoutes({
      metrics: unused,
      version,
      openapi: () => buildOpenApi(routes, version),
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

/**
 * The document a server of this version serves at /v1/openapi.json, built in this process.
 *
 * @example
 * openApiDocument('0.1.0').openapi // '3.1.0'
 */
export function openApiDocument(version: string): Record<string, unknown> {
  return buildOpenApi(declaredRoutes(version), version);
}
