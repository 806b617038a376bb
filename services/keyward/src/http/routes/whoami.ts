/** `GET /v1/whoami`: the caller's principal and effective roles per realm, for every credential kind. */
import type { Authorizer } from '../../authn/roles.ts';
import type { RealmService } from '../../provisioning/realms.ts';
import type { Authenticator } from '../authenticate.ts';
import type { RouteSpec } from '../route.ts';

export function whoamiRoutes(deps: { auth: Authenticator; authz: Authorizer; realms: RealmService }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/whoami',
      tag: 'identity',
      auth: 'bearer',
      summary: 'Who the caller is and which roles it holds where',
      errors: [],
      responses: {
        200: {
          description: 'The principal',
          schema: {
            type: 'object',
            properties: {
              credential: { type: 'string' },
              kind: { type: 'string' },
              realm: { type: 'string' },
              subject: { type: 'string' },
              clientId: { type: 'string' },
              username: { type: 'string' },
              operator: { type: 'boolean' },
              roles: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
            },
          },
        },
      },
      handler: async (req, res) => {
        const p = await deps.auth.principal(req);
        const roles: Record<string, string[]> = {};
        for (const r of await deps.realms.list()) {
          const set = await deps.authz.rolesIn(p, r.name);
          if (set.size) roles[r.name] = [...set].sort();
        }
        if (p.realm === 'master') roles.master = [...p.credentialRoles].sort();
        res.json({
          credential: p.credential,
          kind: p.kind,
          realm: p.realm,
          subject: p.subject,
          clientId: p.clientId,
          username: p.username,
          operator: deps.authz.isOperator(p),
          roles,
        });
      },
    },
  ];
}
