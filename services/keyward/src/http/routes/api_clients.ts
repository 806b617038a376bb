/** API clients of a realm (as in MTG Certificate Lifecycle Manager). */
import type { ApiClientService } from '../../provisioning/api_clients.ts';
import type { Authenticator } from '../authenticate.ts';
import { idempotencyScope, replayable, type IdempotencyStore } from '../idempotency.ts';
import { IDEMPOTENCY_ERRORS, param, type RouteSpec } from '../route.ts';

const crossRealmRoles = {
  type: 'array',
  maxItems: 200,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['realm', 'role'],
    properties: { realm: { type: 'string', minLength: 1, maxLength: 63 }, role: { type: 'string', minLength: 1, maxLength: 255 } },
  },
};
const policyRef = {
  type: 'object',
  additionalProperties: false,
  required: ['realm', 'name'],
  properties: { realm: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1 } },
};
const roles = { type: 'array', maxItems: 200, items: { type: 'string', minLength: 1, maxLength: 255 } };
/** Secretless clients: how the client authenticates to Keycloak, and where its certificate comes from. */
const authenticationInput = {
  authentication: {
    type: 'string',
    enum: ['secret', 'certificate'],
    description: 'certificate: mutual TLS with a Keyward certificate (RFC 8705 §2), tokens bound to it (§3); no secret',
  },
  certificatePolicy: { type: 'string', minLength: 1, maxLength: 255 },
  csr: { type: 'string', maxLength: 16_384, description: 'PEM CSR; without one Keyward generates the key and returns it once' },
};
const issuedCertificate = {
  type: 'object',
  properties: {
    serialNumber: { type: 'string' },
    certificate: { type: 'string' },
    chain: { type: 'array', items: { type: 'string' } },
    notAfter: { type: 'string' },
    subject: { type: 'string' },
    privateKey: { type: 'string' },
  },
};
const CERTIFICATE_ERRORS = [
  'api_client.certificate_policy_required',
  'api_client.certificate_policy_invalid',
  'csr.malformed',
  'csr.bad_signature',
  'policy.key_not_allowed',
  'policy.subject_not_allowed',
  'policy.validity_exceeded',
] as const;

export const apiClientSchema = {
  type: 'object',
  properties: {
    realm: { type: 'string' },
    clientId: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    enabled: { type: 'boolean' },
    managed: { type: 'boolean' },
    authentication: { type: 'string', enum: ['secret', 'certificate'] },
    roles,
    assignedRoles: roles,
    crossRealmRoles,
    defaultPolicy: {
      type: 'object',
      properties: {
        realm: { type: 'string' },
        name: { type: 'string' },
        status: { type: 'string', enum: ['valid', 'policy.not_found', 'policy.realm_has_no_policies', 'policy.realm_not_granted'] },
      },
    },
  },
};

export function apiClientRoutes(deps: { auth: Authenticator; clients: ApiClientService; idempotency?: IdempotencyStore }): RouteSpec[] {
  const base = '/v1/realms/:realm/api-clients';
  return [
    {
      method: 'post',
      path: base,
      tag: 'api-clients',
      auth: 'bearer',
      summary:
        'Create an API client; the secret is shown only in this answer. With Idempotency-Key, a retry of the same request ' +
        'returns the first answer, with the same secret (Idempotent-Replayed: true)',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['clientId'],
        properties: {
          clientId: { type: 'string' },
          name: { type: 'string', maxLength: 255 },
          description: { type: 'string', maxLength: 1000 },
          roles,
          crossRealmRoles,
          defaultPolicy: policyRef,
          ...authenticationInput,
        },
      },
      errors: [
        'realm.not_found',
        'auth.forbidden',
        'api_client.invalid_id',
        'api_client.exists',
        'role.not_found',
        'role.not_grantable',
        'policy.not_found',
        'policy.realm_has_no_policies',
        'policy.realm_not_granted',
        'keycloak.rejected',
        ...CERTIFICATE_ERRORS,
        ...IDEMPOTENCY_ERRORS,
      ],
      responses: {
        201: {
          description: 'Created',
          schema: {
            ...apiClientSchema,
            properties: { ...apiClientSchema.properties, secret: { type: 'string' }, certificate: issuedCertificate },
          },
        },
      },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const realm = param(req, 'realm');
        const out = await replayable(
          deps.idempotency,
          req,
          idempotencyScope(realm, by),
          async (mark) => {
            const { client, secret, certificate } = await deps.clients.create(realm, { ...req.body, creationMark: mark }, by);
            return { status: 201, body: certificate ? { ...client, certificate } : { ...client, secret } };
          },
          async (mark) => {
            const found = await deps.clients.findCreated(realm, req.body.clientId, mark, by).catch(() => undefined);
            // A certificate client's key was in the lost first answer only: the replay names the client, without it.
            if (found?.client.authentication === 'certificate') return { status: 201, body: { ...found.client } };
            return found && { status: 201, body: { ...found.client, secret: found.secret } };
          },
        );
        const client = out.body as { realm: string; clientId: string };
        if (out.replayed) res.set('Idempotent-Replayed', 'true');
        res
          .status(out.status)
          .setHeader('Cache-Control', 'no-store')
          .location(`${base.replace(':realm', encodeURIComponent(client.realm))}/${encodeURIComponent(client.clientId)}`)
          .json(out.body);
      },
    },
    {
      method: 'get',
      path: base,
      tag: 'api-clients',
      auth: 'bearer',
      summary: 'List API clients (paged; search by client id substring)',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          first: { type: 'string', pattern: '^\\d{1,6}$' },
          max: { type: 'string', pattern: '^\\d{1,3}$' },
          search: { type: 'string', maxLength: 100 },
        },
      },
      errors: ['realm.not_found', 'auth.forbidden', 'keycloak.rejected'],
      responses: {
        200: {
          description: 'A page of clients',
          schema: {
            type: 'object',
            properties: { items: { type: 'array', items: apiClientSchema }, first: { type: 'integer' }, max: { type: 'integer' } },
          },
        },
      },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const first = Number(req.query.first ?? 0);
        const max = Math.min(Number(req.query.max ?? 50), 200);
        const items = await deps.clients.list(param(req, 'realm'), { first, max, search: req.query.search as string | undefined }, by);
        res.json({ items, first, max });
      },
    },
    {
      method: 'get',
      path: `${base}/:clientId`,
      tag: 'api-clients',
      auth: 'bearer',
      summary: 'One API client with its effective roles, cross-realm grants and default policy',
      errors: ['realm.not_found', 'auth.forbidden', 'api_client.not_found', 'keycloak.rejected'],
      responses: { 200: { description: 'The client', schema: apiClientSchema } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        res.json(await deps.clients.get(param(req, 'realm'), param(req, 'clientId'), by));
      },
    },
    {
      method: 'patch',
      path: `${base}/:clientId`,
      tag: 'api-clients',
      auth: 'bearer',
      summary:
        'Change name, description, roles, cross-realm roles or default policy (null clears it); switch authentication ' +
        'between secret and certificate (the new secret or certificate is shown only in this answer)',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'string', maxLength: 255 },
          description: { type: 'string', maxLength: 1000 },
          roles,
          crossRealmRoles,
          defaultPolicy: { anyOf: [policyRef, { type: 'null' }] },
          ...authenticationInput,
        },
      },
      errors: [
        'realm.not_found',
        'auth.forbidden',
        'api_client.not_found',
        'role.not_found',
        'role.not_grantable',
        'policy.not_found',
        'policy.realm_has_no_policies',
        'policy.realm_not_granted',
        'keycloak.rejected',
        ...CERTIFICATE_ERRORS,
      ],
      responses: {
        200: {
          description: 'The updated client',
          schema: {
            ...apiClientSchema,
            properties: { ...apiClientSchema.properties, secret: { type: 'string' }, certificate: issuedCertificate },
          },
        },
      },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        if (req.body?.authentication) res.setHeader('Cache-Control', 'no-store');
        res.json(await deps.clients.update(param(req, 'realm'), param(req, 'clientId'), req.body, by));
      },
    },
    {
      method: 'delete',
      path: `${base}/:clientId`,
      tag: 'api-clients',
      auth: 'bearer',
      summary: 'Delete an API client and its grants in other realms',
      errors: ['realm.not_found', 'auth.forbidden', 'api_client.not_found', 'keycloak.rejected'],
      responses: { 204: { description: 'Deleted' } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        await deps.clients.delete(param(req, 'realm'), param(req, 'clientId'), by);
        res.status(204).end();
      },
    },
    {
      method: 'post',
      path: `${base}/:clientId/secret`,
      tag: 'api-clients',
      auth: 'bearer',
      summary: 'Rotate the client secret; the old one stops working at once',
      errors: ['realm.not_found', 'auth.forbidden', 'api_client.not_found', 'keycloak.rejected'],
      responses: {
        200: {
          description: 'The new secret',
          schema: { type: 'object', properties: { clientId: { type: 'string' }, secret: { type: 'string' } } },
        },
      },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const secret = await deps.clients.rotateSecret(param(req, 'realm'), param(req, 'clientId'), by);
        res.setHeader('Cache-Control', 'no-store').json({ clientId: param(req, 'clientId'), secret });
      },
    },
  ];
}
