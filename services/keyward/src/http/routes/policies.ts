/** Certificate policy definitions of a realm. */
import type { PolicyService } from '../../provisioning/policies.ts';
import type { Authenticator } from '../authenticate.ts';
import { param, type RouteSpec } from '../route.ts';

/** A stored policy; `policy` is the document, described by the policy schema (that of realm-config files too). */
const policyView = (policySchema: Record<string, unknown>) => {
  const { $id: _id, title: _title, ...policy } = policySchema;
  return {
    type: 'object',
    properties: {
      realm: { type: 'string' },
      name: { type: 'string' },
      policy: { ...policy, description: 'The certificate policy, as PUT takes it' },
      source: { type: 'string' },
      createdAt: { type: 'string' },
      updatedAt: { type: 'string' },
    },
  };
};

export function policyRoutes(deps: { auth: Authenticator; policies: PolicyService; policySchema: Record<string, unknown> }): RouteSpec[] {
  const base = '/v1/realms/:realm/policies';
  const view = policyView(deps.policySchema);
  return [
    {
      method: 'put',
      path: `${base}/:name`,
      tag: 'policies',
      auth: 'bearer',
      summary: 'Create or replace a certificate policy (keyward-admin)',
      // Checked by the policy parser (policy.invalid with the field's JSON Pointer); the document is the `policy` of the answer.
      body: { type: 'object', description: 'The certificate policy: the schema of the `policy` field of the answer' },
      errors: ['realm.not_found', 'auth.forbidden', 'policy.invalid', 'validity.malformed', 'validity.too_short'],
      responses: { 200: { description: 'Replaced', schema: view }, 201: { description: 'Created', schema: view } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        const { policy, created } = await deps.policies.put(param(req, 'realm'), param(req, 'name'), req.body, by);
        res.status(created ? 201 : 200).json(policy);
      },
    },
    {
      method: 'get',
      path: `${base}/:name`,
      tag: 'policies',
      auth: 'bearer',
      summary: 'One certificate policy',
      errors: ['realm.not_found', 'auth.forbidden', 'policy.not_found'],
      responses: { 200: { description: 'The policy', schema: view } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        res.json(await deps.policies.get(param(req, 'realm'), param(req, 'name'), by));
      },
    },
    {
      method: 'get',
      path: base,
      tag: 'policies',
      auth: 'bearer',
      summary: 'The certificate policies of a realm',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: { 200: { description: 'Policies', schema: { type: 'object', properties: { items: { type: 'array', items: view } } } } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        res.json({ items: await deps.policies.list(param(req, 'realm'), by) });
      },
    },
    {
      method: 'delete',
      path: `${base}/:name`,
      tag: 'policies',
      auth: 'bearer',
      summary: 'Delete a certificate policy',
      errors: ['realm.not_found', 'auth.forbidden', 'policy.not_found'],
      responses: { 204: { description: 'Deleted' } },
      handler: async (req, res) => {
        const by = await deps.auth.principal(req);
        await deps.policies.delete(param(req, 'realm'), param(req, 'name'), by);
        res.status(204).end();
      },
    },
  ];
}
