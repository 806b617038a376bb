/** `GET /v1/realms/{realm}/audit-events` (keyward-admin) and `GET /v1/audit-events` (operators): the audit trail, newest first. */
import type { AuditEvents } from '../../audit/audit_events.ts';
import { KeywardError } from '../../kernel/errors.ts';
import type { Authenticator } from '../authenticate.ts';
import { PAGE_QUERY, param, queryNumber, type RouteSpec } from '../route.ts';

const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    action: { type: 'string', maxLength: 100, description: 'An action (certificate.issued), or a noun (certificate) for all its verbs' },
    target: { type: 'string', maxLength: 300 },
    since: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}', description: 'ISO 8601 date or date-time, inclusive' },
    until: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}',
      description: 'ISO 8601 date-time, or a date for the whole day (UTC); inclusive',
    },
    first: PAGE_QUERY.first,
    max: { ...PAGE_QUERY.max, description: 'Page size, at most 500 (default 100)' },
  },
};
const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'string' },
    id: { type: 'string' },
    at: { type: 'string' },
    realm: { type: 'string' },
    actor: { type: 'object' },
    action: { type: 'string' },
    target: { type: 'string' },
    details: { type: 'object' },
    sealed: { type: 'boolean' },
  },
};
const responses = {
  200: {
    description: 'A page of audit events, newest first',
    schema: {
      type: 'object',
      properties: { items: { type: 'array', items: eventSchema }, first: { type: 'integer' }, max: { type: 'integer' } },
    },
  },
};

/** An ISO 8601 bound; a date alone is the whole day (UTC): `until=2026-12-01` includes that day's events. */
function time(v: string | undefined, field: 'since' | 'until'): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new KeywardError('request.malformed', `${field} must be an ISO 8601 date or date-time`, { extras: { field } });
  return field === 'until' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(d.getTime() + 86_399_999) : d;
}

export function auditRoutes(deps: { auth: Authenticator; events: AuditEvents }): RouteSpec[] {
  const list = (inRealm: boolean) => async (req: Parameters<RouteSpec['handler']>[0], res: Parameters<RouteSpec['handler']>[1]) => {
    const p = await deps.auth.principal(req);
    const q = req.query as Record<string, string | undefined>;
    const first = queryNumber(q.first, 0, 1e6);
    const max = queryNumber(q.max, 100, 500);
    if (max < 1) throw new KeywardError('request.malformed', 'max must be between 1 and 500', { extras: { field: 'max' } });
    const items = await deps.events.list(inRealm ? param(req, 'realm') : undefined, p, {
      action: q.action,
      target: q.target,
      since: time(q.since, 'since'),
      until: time(q.until, 'until'),
      first,
      max,
    });
    res.json({ items, first, max });
  };
  return [
    {
      method: 'get',
      path: '/v1/audit-events/verification',
      tag: 'audit',
      auth: 'bearer',
      errors: ['auth.forbidden'],
      responses: {
        200: {
          description: 'Whether the hash chain is whole, with its counts and head (as keyward audit verify prints them)',
          schema: {
            type: 'object',
            properties: {
              intact: { type: 'boolean' },
              brokenAt: { type: 'string' },
              sealed: { type: 'integer' },
              waiting: { type: 'integer' },
              head: { type: 'string' },
            },
          },
        },
      },
      summary: "Operators: recompute the audit trail's hash chain",
      handler: async (req, res) => {
        res.json(await deps.events.verification(await deps.auth.principal(req)));
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/audit-events',
      tag: 'audit',
      auth: 'bearer',
      query,
      errors: ['realm.not_found', 'auth.forbidden'],
      responses,
      summary: "The realm's audit events, newest first (keyward-admin, operators)",
      handler: list(true),
    },
    {
      method: 'get',
      path: '/v1/audit-events',
      tag: 'audit',
      auth: 'bearer',
      query,
      errors: ['auth.forbidden'],
      responses,
      summary: 'Every audit event, with or without a realm, newest first (operators)',
      handler: list(false),
    },
  ];
}
