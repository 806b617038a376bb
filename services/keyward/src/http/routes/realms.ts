/** Managed realms: `PUT/GET/DELETE /v1/realms/{realm}`, `GET /v1/realms`. */
import type { Authorizer } from '../../authn/roles.ts';
import type { RealmService } from '../../provisioning/realms.ts';
import type { Authenticator } from '../authenticate.ts';
import { param, type RouteSpec } from '../route.ts';

export const realmViewSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    status: { type: 'string', enum: ['ok', 'missing in Keycloak'], description: 'Whether the realm still exists in Keycloak' },
    displayName: { type: 'string' },
    defaultRoles: { type: 'array', items: { type: 'string' } },
    managedDefaultRoles: { type: 'array', items: { type: 'string' } },
    roles: { type: 'array', items: { type: 'string' } },
    missingRoles: {
      type: 'array',
      items: { type: 'string' },
      description: "Keyward's roles the realm lacks (deleted or renamed in Keycloak's console); PUT restores them",
    },
    source: { type: 'string', enum: ['api', 'config'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

export function realmRoutes(deps: { auth: Authenticator; authz: Authorizer; realms: RealmService }): RouteSpec[] {
  return [
    {
      method: 'put',
      path: '/v1/realms/:realm',
      tag: 'realms',
      auth: 'bearer',
      summary: 'Create or update a managed realm (operators)',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          displayName: { type: 'string', maxLength: 200 },
          defaultRoles: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 255 } },
        },
      },
      errors: ['auth.forbidden', 'realm.invalid_name', 'realm.not_found', 'keycloak.rejected'],
      responses: { 200: { description: 'Updated', schema: realmViewSchema }, 201: { description: 'Now managed', schema: realmViewSchema } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const { realm, created } = await deps.realms.put(param(req, 'realm'), req.body, by);
        res.status(created ? 201 : 200).json(realm);
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm',
      tag: 'realms',
      auth: 'bearer',
      summary: 'A managed realm with its roles and default role',
      errors: ['realm.not_found', 'auth.forbidden', 'realm.missing_in_keycloak'],
      responses: { 200: { description: 'The realm', schema: realmViewSchema } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const name = param(req, 'realm');
        await deps.realms.getManaged(name);
        if (!deps.authz.isOperator(by)) await deps.authz.require(by, name, 'keyward-admin');
        res.json(await deps.realms.view(name));
      },
    },
    {
      method: 'delete',
      path: '/v1/realms/:realm',
      tag: 'realms',
      auth: 'bearer',
      summary: 'Stop managing a realm (operators); its CA, certificates, policies and audit history are kept, Keycloak is left as it is',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: { 204: { description: 'No longer managed' } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        await deps.realms.unmanage(param(req, 'realm'), by);
        res.status(204).end();
      },
    },
    {
      method: 'get',
      path: '/v1/realms',
      tag: 'realms',
      auth: 'bearer',
      summary: 'Managed realms the caller administers (all, for operators)',
      errors: [],
      responses: {
        200: { description: 'Realms', schema: { type: 'object', properties: { realms: { type: 'array', items: { type: 'object' } } } } },
      },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const all = await deps.realms.list();
        const visible = deps.authz.isOperator(by)
          ? all
          : (await Promise.all(all.map(async (r) => ((await deps.authz.hasRole(by, r.name, 'keyward-admin')) ? r : undefined)))).filter(
              (r) => r !== undefined,
            );
        const statuses = await Promise.all(visible.map((r) => deps.realms.status(r.name)));
        res.json({
          realms: visible.map((r, i) => ({
            name: r.name,
            status: statuses[i],
            displayName: r.displayName,
            source: r.source,
            managedDefaultRoles: r.defaultRoles,
            createdAt: r.createdAt.toISOString(),
          })),
        });
      },
    },
  ];
}
