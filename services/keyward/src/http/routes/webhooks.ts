/** Lifecycle webhooks of a realm (keyward-admin): thin handlers over events/webhooks.ts. */
import { EVENT_DESCRIPTIONS, EVENT_TYPES } from '../../events/catalogue.ts';
import type { WebhookService } from '../../events/webhooks.ts';
import type { ErrorCode } from '../../kernel/errors.ts';
import type { Authenticator } from '../authenticate.ts';
import { param, queryNumber, type RouteSpec } from '../route.ts';

const webhookSchema = {
  type: 'object',
  properties: {
    realm: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { enum: [...EVENT_TYPES] } },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};
const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'The webhook-id header, the same on every attempt' },
    webhook: { type: 'string' },
    eventId: { type: 'string', description: 'The CloudEvents id' },
    eventType: { enum: [...EVENT_TYPES] },
    status: { enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    nextAttemptAt: { type: 'string', format: 'date-time' },
    lastStatusCode: { type: 'integer' },
    lastError: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    deliveredAt: { type: 'string', format: 'date-time' },
    attemptLog: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          attempt: { type: 'integer' },
          at: { type: 'string', format: 'date-time' },
          statusCode: { type: 'integer' },
          error: { type: 'string' },
          durationMs: { type: 'integer' },
        },
      },
    },
  },
};
const ACCESS: readonly ErrorCode[] = ['realm.not_found', 'auth.forbidden'];
const eventList = EVENT_TYPES.map((t) => `\`${t}\`: ${EVENT_DESCRIPTIONS[t]}`).join(' ');

export function webhookRoutes(deps: { auth: Authenticator; webhooks: WebhookService }): RouteSpec[] {
  const { auth, webhooks } = deps;
  const base = '/v1/realms/:realm/webhooks';
  return [
    {
      method: 'get',
      path: base,
      tag: 'webhooks',
      auth: 'bearer',
      summary: "The realm's webhooks (keyward-admin)",
      errors: [...ACCESS],
      responses: {
        200: { description: 'Webhooks', schema: { type: 'object', properties: { items: { type: 'array', items: webhookSchema } } } },
      },
      handler: async (req, res) => {
        res.json({ items: await webhooks.list(param(req, 'realm'), await auth.principal(req)) });
      },
    },
    {
      method: 'put',
      path: `${base}/:name`,
      tag: 'webhooks',
      auth: 'bearer',
      summary:
        'Create or replace a webhook (keyward-admin): CloudEvents 1.0 JSON bodies signed per Standard Webhooks. When a new ' +
        'webhook names no secret, one is generated (whsec_…) and answered this once; a given secret is not sent back; ' +
        `a replacement without a secret keeps the stored one. Events: ${eventList}`,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'events'],
        properties: {
          url: { type: 'string', minLength: 1, maxLength: 2000 },
          events: { type: 'array', minItems: 1, maxItems: EVENT_TYPES.length, items: { type: 'string', maxLength: 100 } },
          secret: { type: 'string', maxLength: 200, description: 'whsec_ and the base64 of 24 to 64 random bytes' },
        },
      },
      errors: [
        ...ACCESS,
        'webhook.invalid_name',
        'webhook.url_invalid',
        'webhook.destination_not_allowed',
        'webhook.secret_invalid',
        'webhook.unknown_event',
      ],
      responses: {
        201: {
          description: 'Created, with its secret',
          schema: { ...webhookSchema, properties: { ...webhookSchema.properties, secret: { type: 'string' } } },
        },
        200: { description: 'Replaced (never with the secret)', schema: webhookSchema },
      },
      handler: async (req, res) => {
        const r = await webhooks.put(param(req, 'realm'), await auth.principal(req), param(req, 'name'), req.body);
        res.status(r.created ? 201 : 200).json(r.secret === undefined ? r.webhook : { ...r.webhook, secret: r.secret });
      },
    },
    {
      method: 'get',
      path: `${base}/:name`,
      tag: 'webhooks',
      auth: 'bearer',
      summary: 'One webhook (never its secret)',
      errors: [...ACCESS, 'webhook.not_found'],
      responses: { 200: { description: 'The webhook', schema: webhookSchema } },
      handler: async (req, res) => {
        res.json(await webhooks.get(param(req, 'realm'), await auth.principal(req), param(req, 'name')));
      },
    },
    {
      method: 'delete',
      path: `${base}/:name`,
      tag: 'webhooks',
      auth: 'bearer',
      summary: 'Delete a webhook and its delivery log',
      errors: [...ACCESS, 'webhook.not_found'],
      responses: { 204: { description: 'Deleted' } },
      handler: async (req, res) => {
        await webhooks.delete(param(req, 'realm'), await auth.principal(req), param(req, 'name'));
        res.status(204).end();
      },
    },
    {
      method: 'get',
      path: `${base}/:name/deliveries`,
      tag: 'webhooks',
      auth: 'bearer',
      summary: "A webhook's delivery log, newest first: attempts, last status code and error, next attempt",
      query: {
        type: 'object',
        additionalProperties: false,
        properties: { max: { type: 'string', pattern: '^\\d{1,3}$' }, status: { enum: ['pending', 'delivered', 'failed'] } },
      },
      errors: [...ACCESS, 'webhook.not_found'],
      responses: {
        200: { description: 'Deliveries', schema: { type: 'object', properties: { items: { type: 'array', items: deliverySchema } } } },
      },
      handler: async (req, res) => {
        const q = req.query as Record<string, string | undefined>;
        const status = q.status as 'pending' | 'delivered' | 'failed' | undefined;
        const items = await webhooks.deliveries(param(req, 'realm'), await auth.principal(req), param(req, 'name'), {
          max: queryNumber(q.max, 50, 500),
          ...(status ? { status } : {}),
        });
        res.json({ items });
      },
    },
    {
      method: 'get',
      path: `${base}/:name/deliveries/:id`,
      tag: 'webhooks',
      auth: 'bearer',
      summary: 'One delivery with each of its attempts',
      errors: [...ACCESS, 'webhook.delivery_not_found'],
      responses: { 200: { description: 'The delivery', schema: deliverySchema } },
      handler: async (req, res) => {
        res.json(await webhooks.delivery(param(req, 'realm'), await auth.principal(req), param(req, 'name'), param(req, 'id')));
      },
    },
    {
      method: 'post',
      path: `${base}/:name/deliveries/:id/redeliver`,
      tag: 'webhooks',
      auth: 'bearer',
      summary: 'Send a delivery again now, with the same webhook-id and body (then retried per back-off while the attempt cap allows)',
      errors: [...ACCESS, 'webhook.delivery_not_found'],
      responses: { 202: { description: 'Scheduled', schema: deliverySchema } },
      handler: async (req, res) => {
        res
          .status(202)
          .json(await webhooks.redeliver(param(req, 'realm'), await auth.principal(req), param(req, 'name'), param(req, 'id')));
      },
    },
  ];
}
