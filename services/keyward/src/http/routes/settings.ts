/**
 * Protected realm settings and dual control (like IBM CSM's): PAT settings, the
 * dual-control switch, and the approvals that changes wait in while dual
 * control is on. (Client-certificate settings keep their path under
 * http/routes/client_certificates.ts and go through the same service.)
 */
import type { Request, Response } from 'express';
import type { Approvals } from '../../approvals/approvals.ts';
import type { ApprovalStatus } from '../../approvals/ports.ts';
import type { SettingName } from '../../settings/ports.ts';
import type { ChangeOutcome, ProtectedSettings } from '../../settings/protected_settings.ts';
import type { Authenticator } from '../authenticate.ts';
import type { ErrorCode } from '../../kernel/errors.ts';
import { param, validator, type JsonSchema, type RouteSpec } from '../route.ts';

/** Changing a protected setting (settings/protected_settings.ts; under dual control, approvals/approvals.ts). */
export const SETTING_CHANGE_ERRORS: readonly ErrorCode[] = [
  'realm.not_found',
  'auth.forbidden',
  'settings.invalid',
  'approval.already_pending',
];

/** What applying an approved change may refuse: a setting, or a device acceptance (devices/device_onboarding.ts). */
const APPLY_ERRORS: readonly ErrorCode[] = [
  'settings.invalid',
  'device.pending_not_found',
  'device.alias_in_use',
  'device.already_trusted',
  'api_client.exists',
  'store.conflict',
  'keycloak.rejected',
];

const actor = {
  type: 'object',
  properties: { kind: { type: 'string' }, id: { type: 'string' }, realm: { type: 'string' }, name: { type: 'string' } },
};
export const approvalSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    realm: { type: 'string' },
    kind: { type: 'string', examples: ['settings.personal_access_tokens'] },
    status: { enum: ['pending', 'approved', 'rejected', 'expired'] },
    change: { type: 'object', description: 'For settings: {setting, from, to}' },
    proposedBy: actor,
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    decidedBy: actor,
    decidedAt: { type: 'string', format: 'date-time' },
    reason: { type: 'string' },
  },
};
const pendingSchema = {
  type: 'object',
  properties: {
    approvalId: { type: 'string', format: 'uuid' },
    status: { const: 'pending' },
    expiresAt: { type: 'string', format: 'date-time' },
    change: { type: 'object' },
  },
};

const checkReject = validator(
  { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
  'The request body',
);

/** 200 with the value when applied, 202 `{approvalId}` when it waits for a second admin. */
export function sendChange(res: Response, realm: string, outcome: ChangeOutcome<SettingName>): void {
  if (outcome.outcome === 'applied') {
    res.json(outcome.value);
    return;
  }
  const a = outcome.approval;
  res
    .status(202)
    .location(`/v1/realms/${encodeURIComponent(realm)}/approvals/${a.id}`)
    .json({ approvalId: a.id, status: 'pending', expiresAt: a.expiresAt, change: a.change });
}

/** GET and PUT of one protected setting (its value, the pending change, 202 under dual control). */
export function settingRoutes(
  deps: { auth: Authenticator; settings: ProtectedSettings },
  o: { path: string; name: SettingName; what: string; body: JsonSchema; who: string },
): RouteSpec[] {
  const get = async (req: Request, res: Response) => {
    const { value, pending } = await deps.settings.read(param(req, 'realm'), o.name, await deps.auth.principal(req));
    res.json({ ...value, ...(pending ? { pendingApprovalId: pending.id } : {}) });
  };
  return [
    {
      method: 'get',
      path: o.path,
      tag: 'settings',
      auth: 'bearer',
      summary: `${o.what} of the realm (and the pending change, if any)`,
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: {
          description: 'Settings',
          schema: {
            ...o.body,
            required: undefined,
            additionalProperties: undefined,
            properties: { ...(o.body.properties as object), pendingApprovalId: { type: 'string' } },
          },
        },
      },
      handler: get,
    },
    {
      method: 'put',
      path: o.path,
      tag: 'settings',
      auth: 'bearer',
      summary: `Change the ${o.what.toLowerCase()} (${o.who}); under dual control the change waits for a second admin's approval`,
      body: o.body,
      errors: SETTING_CHANGE_ERRORS,
      responses: {
        200: { description: 'Applied', schema: o.body },
        202: { description: 'Waiting for approval under dual control', schema: pendingSchema },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        sendChange(res, realm, await deps.settings.change(realm, o.name, req.body, await deps.auth.principal(req)));
      },
    },
  ];
}

export function settingsRoutes(deps: { auth: Authenticator; settings: ProtectedSettings; approvals: Approvals }): RouteSpec[] {
  const { auth, approvals } = deps;
  const base = '/v1/realms/:realm/approvals';
  return [
    ...settingRoutes(deps, {
      path: '/v1/realms/:realm/settings/personal-access-tokens',
      name: 'personal_access_tokens',
      what: 'Personal-access-token settings',
      who: 'keyward-admin or keyward-user-admin',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['enabled'],
        properties: {
          enabled: { type: 'boolean' },
          maxExpirationDays: { type: 'integer', description: '1 to 3650; absent keeps the current value (default 366)' },
        },
      },
    }),
    ...settingRoutes(deps, {
      path: '/v1/realms/:realm/settings/dual-control',
      name: 'dual_control',
      what: 'Dual-control setting',
      who: 'keyward-admin',
      body: { type: 'object', additionalProperties: false, required: ['enabled'], properties: { enabled: { type: 'boolean' } } },
    }),
    {
      method: 'get',
      path: base,
      tag: 'approvals',
      auth: 'bearer',
      summary: 'Changes waiting for (or decided by) a second admin, newest first',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: { status: { enum: ['pending', 'approved', 'rejected', 'expired'] }, max: { type: 'string', pattern: '^\\d{1,3}$' } },
      },
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: { description: 'Approvals', schema: { type: 'object', properties: { items: { type: 'array', items: approvalSchema } } } },
      },
      handler: async (req, res) => {
        const q = req.query as Record<string, string | undefined>;
        res.json({
          items: await approvals.list(param(req, 'realm'), await auth.principal(req), {
            status: q.status as ApprovalStatus | undefined,
            max: q.max === undefined ? undefined : Number(q.max),
          }),
        });
      },
    },
    {
      method: 'get',
      path: `${base}/:id`,
      tag: 'approvals',
      auth: 'bearer',
      summary: 'One approval',
      errors: ['realm.not_found', 'auth.forbidden', 'approval.not_found'],
      responses: { 200: { description: 'The approval', schema: approvalSchema } },
      handler: async (req, res) => {
        res.json(await approvals.get(param(req, 'realm'), param(req, 'id'), await auth.principal(req)));
      },
    },
    {
      method: 'post',
      path: `${base}/:id/approve`,
      tag: 'approvals',
      auth: 'bearer',
      summary: 'Approve a pending change and apply it (never by its proposer)',
      errors: [
        'realm.not_found',
        'auth.forbidden',
        'approval.not_found',
        'approval.self_approval',
        'approval.expired',
        'approval.not_pending',
        'approval.stale',
        ...APPLY_ERRORS,
      ],
      responses: { 200: { description: 'Approved and applied', schema: approvalSchema } },
      handler: async (req, res) => {
        res.json(await approvals.approve(param(req, 'realm'), param(req, 'id'), await auth.principal(req)));
      },
    },
    {
      method: 'post',
      path: `${base}/:id/reject`,
      tag: 'approvals',
      auth: 'bearer',
      summary: 'Reject a pending change (its proposer may reject it to withdraw it)',
      // The body is optional (`curl -X POST …/reject` works), so it is checked here rather than declared as required.
      errors: ['realm.not_found', 'auth.forbidden', 'approval.not_found', 'approval.expired', 'approval.not_pending'],
      responses: {
        200: { description: 'Rejected; an optional JSON body {reason} (at most 500 characters) is recorded', schema: approvalSchema },
      },
      handler: async (req, res) => {
        if (req.body !== undefined) checkReject(req.body);
        res.json(
          await approvals.reject(
            param(req, 'realm'),
            param(req, 'id'),
            await auth.principal(req),
            (req.body as { reason?: string } | undefined)?.reason,
          ),
        );
      },
    },
  ];
}
