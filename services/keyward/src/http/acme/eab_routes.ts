/**
 * External account binding keys for ACME (RFC 8555 §7.3.4), under /v1: an
 * API client with keyward-requester creates keys for itself (the HMAC key is
 * shown once), lists and revokes its own.
 */
import type { Acme } from '../../acme/acme.ts';
import type { Authenticator } from '../authenticate.ts';
import { param, type RouteSpec } from '../route.ts';

const eabKey = {
  type: 'object',
  properties: {
    kid: { type: 'string' },
    realm: { type: 'string', description: 'The realm whose ACME directory the key is for' },
    clientId: { type: 'string' },
    clientRealm: { type: 'string', description: "The API client's home realm" },
    createdAt: { type: 'string', format: 'date-time' },
    status: { enum: ['unused', 'used', 'revoked'] },
    account: { type: 'string', description: 'The URL of the ACME account the key bound' },
    usedAt: { type: 'string', format: 'date-time' },
    revokedAt: { type: 'string', format: 'date-time' },
  },
};
const EAB_ERRORS = ['realm.not_found', 'auth.forbidden', 'acme.eab_clients_only'] as const;

export function acmeEabRoutes(deps: { auth: Authenticator; acme: Acme }): RouteSpec[] {
  const { auth, acme } = deps;
  return [
    {
      method: 'post',
      path: '/v1/realms/:realm/acme/eab-keys',
      tag: 'acme',
      auth: 'bearer',
      summary:
        'Create an ACME external account binding key for the calling API client (keyward-requester in the realm); ' +
        'hmacKey is shown only in this answer',
      errors: [...EAB_ERRORS],
      responses: {
        201: {
          description: 'Created: give kid and hmacKey (base64url) to the ACME client, e.g. certbot --eab-kid --eab-hmac-key',
          schema: {
            ...eabKey,
            properties: { ...eabKey.properties, hmacKey: { type: 'string' }, directory: { type: 'string' } },
          },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const created = await acme.createEabKey(param(req, 'realm'), p);
        res
          .status(201)
          .setHeader('Cache-Control', 'no-store')
          .location(`/v1/realms/${encodeURIComponent(param(req, 'realm'))}/acme/eab-keys/${created.kid}`)
          .json(created);
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/acme/eab-keys',
      tag: 'acme',
      auth: 'bearer',
      summary: "The calling API client's ACME external account binding keys in the realm (never their HMAC keys)",
      errors: [...EAB_ERRORS],
      responses: { 200: { description: 'Own keys', schema: { type: 'object', properties: { items: { type: 'array', items: eabKey } } } } },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        res.json({ items: await acme.listEabKeys(param(req, 'realm'), p) });
      },
    },
    {
      method: 'delete',
      path: '/v1/realms/:realm/acme/eab-keys/:kid',
      tag: 'acme',
      auth: 'bearer',
      summary: 'Revoke an ACME external account binding key of the calling API client (an unused key can no longer bind an account)',
      errors: [...EAB_ERRORS, 'acme.eab_key_not_found'],
      responses: { 204: { description: 'Revoked' } },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        await acme.revokeEabKey(param(req, 'realm'), p, param(req, 'kid'));
        res.status(204).end();
      },
    },
  ];
}
