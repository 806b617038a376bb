/** Realm configuration as code over the API: plan and apply (operators). */
import type { Authorizer } from '../../authn/roles.ts';
import type { RealmConfigService } from '../../provisioning/realm_config.ts';
import type { Authenticator } from '../authenticate.ts';
import type { RouteSpec } from '../route.ts';

const body = {
  type: 'object',
  additionalProperties: false,
  required: ['files'],
  properties: {
    files: {
      type: 'array',
      maxItems: 500,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'content'],
        properties: { name: { type: 'string', maxLength: 500 }, content: { type: 'object' } },
      },
    },
    prune: { type: 'boolean' },
    secrets: {
      type: 'object',
      additionalProperties: { type: 'string', minLength: 8, maxLength: 512 },
      description: 'realm/clientId → secret, for clients whose file names secretFromEnv',
    },
  },
};
const change = {
  type: 'object',
  properties: {
    action: { enum: ['create', 'update', 'delete'] },
    kind: { enum: ['realm', 'policy', 'api_client'] },
    realm: { type: 'string' },
    id: { type: 'string' },
    fields: { type: 'object' },
  },
};
const planSchema = {
  type: 'object',
  properties: { changes: { type: 'array', items: change }, unmanaged: { type: 'array', items: { type: 'object' } } },
};

export function realmConfigRoutes(deps: {
  auth: Authenticator;
  authz: Authorizer;
  realmConfig: RealmConfigService;
  schema: Record<string, unknown>;
}): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/realm-config/schema.json',
      tag: 'realm-config',
      auth: 'none',
      summary: 'The JSON Schema of realm-config files',
      responses: { 200: { description: 'JSON Schema', schema: { type: 'object' } } },
      handler: (_req, res) => {
        res.json(deps.schema);
      },
    },
    {
      method: 'post',
      path: '/v1/realm-config/plan',
      tag: 'realm-config',
      auth: 'bearer',
      summary: 'Diff realm-config files against the live state (operators)',
      body,
      errors: ['auth.forbidden', 'realm_config.invalid', 'policy.invalid', 'keycloak.rejected'],
      responses: { 200: { description: 'The plan; empty changes means nothing to do', schema: planSchema } },
      handler: async (req, res) => {
        deps.authz.requireOperator(await deps.auth.principal(req));
        const files = deps.realmConfig.parse(req.body.files);
        res.json(await deps.realmConfig.plan(files, { prune: req.body.prune ?? false }));
      },
    },
    {
      method: 'post',
      path: '/v1/realm-config/apply',
      tag: 'realm-config',
      auth: 'bearer',
      summary: 'Apply realm-config files (operators); generated client secrets are shown once',
      body,
      errors: [
        'auth.forbidden',
        'realm_config.invalid',
        'policy.invalid',
        'realm.invalid_name',
        'api_client.invalid_id',
        'role.not_found',
        'role.not_grantable',
        'keycloak.rejected',
      ],
      responses: {
        200: {
          description: 'What was changed',
          schema: {
            ...planSchema,
            properties: {
              ...planSchema.properties,
              generatedSecrets: { type: 'array', items: { type: 'object' } },
              issuedCertificates: { type: 'array', items: { type: 'object' } },
            },
          },
        },
      },
      handler: async (req, res) => {
        deps.authz.requireOperator(await deps.auth.principal(req));
        const files = deps.realmConfig.parse(req.body.files);
        res
          .setHeader('Cache-Control', 'no-store')
          .json(await deps.realmConfig.apply(files, { prune: req.body.prune ?? false, secrets: req.body.secrets }));
      },
    },
  ];
}
