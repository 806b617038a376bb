/** Personal access tokens (as in IBM CSM): a user's own tokens, the admin view and bulk revocation. */
import { PAT_SORTS, type PersonalAccessTokenService } from '../../pat/personal_access_tokens.ts';
import type { PatSort } from '../../pat/ports.ts';
import type { Authenticator } from '../authenticate.ts';
import { idempotencyScope, replayable, type IdempotencyStore } from '../idempotency.ts';
import { IDEMPOTENCY_ERRORS, param, type RouteSpec } from '../route.ts';

const own = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresInDays: { type: 'integer' },
    expiresAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
    status: { enum: ['active', 'expired'] },
  },
};
const adminRow = {
  type: 'object',
  properties: {
    ...own.properties,
    username: { type: 'string' },
    exceedsMaximum: { type: 'boolean', description: 'The token outlives the current maximum (it was created under a higher one)' },
  },
};

export function personalAccessTokenRoutes(deps: {
  auth: Authenticator;
  pats: PersonalAccessTokenService;
  idempotency?: IdempotencyStore;
}): RouteSpec[] {
  const { auth, pats } = deps;
  return [
    {
      method: 'post',
      path: '/v1/personal-access-tokens',
      tag: 'personal-access-tokens',
      auth: 'bearer',
      summary:
        "Create a personal access token carrying the calling user's authority; the token is shown only in this answer. " +
        'With Idempotency-Key, a retry of the same request returns the first answer, with the same token (Idempotent-Replayed: true)',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['expiresInDays'],
        properties: { name: { type: 'string', maxLength: 100 }, expiresInDays: { type: 'integer', minimum: 1 } },
      },
      errors: ['pat.disabled', 'pat.users_only', 'pat.expiry_exceeded', 'realm.not_found', ...IDEMPOTENCY_ERRORS],
      responses: {
        201: {
          description: 'Created: `token` (kwp_…) is never shown again',
          schema: { ...own, properties: { ...own.properties, token: { type: 'string' } } },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const out = await replayable(deps.idempotency, req, idempotencyScope(p.realm, p), async () => ({
          status: 201,
          body: await pats.create(p, req.body),
        }));
        if (out.replayed) res.set('Idempotent-Replayed', 'true');
        const id = (out.body as { id: string }).id;
        res.status(out.status).setHeader('Cache-Control', 'no-store').location(`/v1/personal-access-tokens/${id}`).json(out.body);
      },
    },
    {
      method: 'get',
      path: '/v1/personal-access-tokens',
      tag: 'personal-access-tokens',
      auth: 'bearer',
      summary: "The caller's tokens (never their secrets), whether PATs are enabled, and the maximum expiry",
      errors: ['pat.users_only', 'realm.not_found'],
      responses: {
        200: {
          description: 'Own tokens',
          schema: {
            type: 'object',
            properties: { items: { type: 'array', items: own }, enabled: { type: 'boolean' }, maximumExpirationDays: { type: 'integer' } },
          },
        },
      },
      handler: async (req, res) => {
        res.json(await pats.listOwn(await auth.principal(req)));
      },
    },
    {
      method: 'delete',
      path: '/v1/personal-access-tokens/:id',
      tag: 'personal-access-tokens',
      auth: 'bearer',
      summary: 'Revoke one of your own tokens (it stops working at once)',
      errors: ['pat.users_only', 'pat.not_found'],
      responses: { 204: { description: 'Revoked' } },
      handler: async (req, res) => {
        await pats.revokeOwn(await auth.principal(req), param(req, 'id'));
        res.status(204).end();
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/personal-access-tokens',
      tag: 'personal-access-tokens',
      auth: 'bearer',
      summary:
        'Admin view (keyward-admin or keyward-user-admin):' +
        " every user's tokens with username, creation, days, expiry and last use; paged, sortable",
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          first: { type: 'string', pattern: '^\\d{1,6}$' },
          max: { type: 'string', pattern: '^\\d{1,4}$' },
          sort: { enum: [...PAT_SORTS] },
          username: { type: 'string', maxLength: 255 },
        },
      },
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: {
          description: 'A page of tokens',
          schema: {
            type: 'object',
            properties: {
              items: { type: 'array', items: adminRow },
              total: { type: 'integer' },
              first: { type: 'integer' },
              max: { type: 'integer' },
              maximumExpirationDays: { type: 'integer' },
            },
          },
        },
      },
      handler: async (req, res) => {
        const q = req.query as Record<string, string | undefined>;
        res.json(
          await pats.adminList(param(req, 'realm'), await auth.principal(req), {
            first: q.first === undefined ? undefined : Number(q.first),
            max: q.max === undefined ? undefined : Number(q.max),
            sort: q.sort as PatSort | undefined,
            username: q.username,
          }),
        );
      },
    },
    {
      method: 'post',
      path: '/v1/realms/:realm/personal-access-tokens/revoke',
      tag: 'personal-access-tokens',
      auth: 'bearer',
      summary: 'Revoke tokens of one or more users at once (all their tokens), and/or tokens by id (keyward-admin or keyward-user-admin)',
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          usernames: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 255 } },
          ids: { type: 'array', maxItems: 1000, items: { type: 'string', maxLength: 64 } },
        },
      },
      errors: ['realm.not_found', 'auth.forbidden', 'pat.not_found'],
      responses: {
        200: {
          description: 'What was revoked',
          schema: { type: 'object', properties: { revoked: { type: 'integer' }, items: { type: 'array', items: adminRow } } },
        },
      },
      handler: async (req, res) => {
        const items = await pats.adminRevoke(param(req, 'realm'), await auth.principal(req), req.body);
        res.json({ revoked: items.length, items });
      },
    },
  ];
}
