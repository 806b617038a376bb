/**
 * Device onboarding (compatible with IBM SKLM's pending client certificates): the device side (hello over TLS,
 * upload), the admin side (pending list, accept, reject, trust store, device
 * clients) and the realm's device settings.
 */
import type { Request, Response } from 'express';
import type { DeviceOnboardingService } from '../../devices/device_onboarding.ts';
import type { ProtectedSettings } from '../../settings/protected_settings.ts';
import type { Authenticator } from '../authenticate.ts';
import type { ErrorCode } from '../../kernel/errors.ts';
import { param, type RouteSpec } from '../route.ts';
import { settingRoutes } from './settings.ts';

const actor = {
  type: 'object',
  properties: { kind: { type: 'string' }, id: { type: 'string' }, realm: { type: 'string' }, name: { type: 'string' } },
};
const dateTime = { type: 'string', format: 'date-time' };
/** The checks of a pushed device certificate (devices/device_certificate.ts). */
const DEVICE_CERTIFICATE_ERRORS: readonly ErrorCode[] = [
  'device.certificate_malformed',
  'device.certificate_expired',
  'device.certificate_is_ca',
  'device.certificate_weak_key',
  'device.chain_too_large',
];

/** Accepting a pending certificate (devices/device_onboarding.ts), or proposing it under dual control. */
export const ACCEPT_ERRORS: readonly ErrorCode[] = [
  'realm.not_found',
  'auth.forbidden',
  'device.pending_not_found',
  'device.alias_invalid',
  'device.alias_in_use',
  'device.already_trusted',
  'approval.already_pending',
  'api_client.exists',
  'store.conflict',
  'keycloak.rejected',
];

export const pendingSchema = {
  type: 'object',
  properties: {
    uuid: { type: 'string', examples: ['CERTIFICATE-4e064e39-5c15-4e29-83ab-ebd4d275e148'] },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    serialNumber: { type: 'string' },
    sha256Fingerprint: { type: 'string', examples: ['AB:CD:…'] },
    notBefore: dateTime,
    notAfter: dateTime,
    firstSeen: dateTime,
    lastSeen: dateTime,
    sourceAddress: { type: 'string' },
    via: { enum: ['tls', 'upload'] },
  },
};
const trustedSchema = {
  type: 'object',
  properties: {
    alias: { type: 'string' },
    uuid: { type: 'string' },
    clientId: { type: 'string' },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    serialNumber: { type: 'string' },
    sha256Fingerprint: { type: 'string' },
    notBefore: dateTime,
    notAfter: dateTime,
    deviceGroup: { type: 'string' },
    deviceRole: { type: 'string' },
    acceptedAt: dateTime,
    acceptedBy: actor,
  },
};
export const acceptBody = {
  type: 'object',
  additionalProperties: false,
  required: ['alias', 'uuid'],
  properties: {
    alias: {
      type: 'string',
      maxLength: 200,
      description: 'Not case-sensitive, stored lower-case; no / or \\; not three letters followed by 18 digits',
    },
    uuid: { type: 'string', maxLength: 200, examples: ['CERTIFICATE-a38e2239-a36b-41ff-97a1-0ca72cfa08e8'] },
    deviceGroup: {
      type: 'string',
      maxLength: 64,
      description: "Keycloak group of the device client's service account (default PEER_TO_PEER when a deviceRole is given)",
    },
    deviceRole: { type: 'string', maxLength: 64, description: 'Sub-group of the device group' },
  },
};
const settingsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', description: 'Off by default' },
    maxPending: { type: 'integer', description: 'Most pending certificates the realm keeps, 1 to 100000 (default 100)' },
    rejectForHours: { type: 'integer', description: 'A rejected certificate is not queued again for this long, 0 to 8760 (default 24)' },
  },
};

/** The address a push came from (the socket's; X-Forwarded-For only from configured proxies, via Express "trust proxy"). */
export const sourceAddress = (req: Request): string => (req.ip ?? req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');

export function deviceRoutes(deps: { auth: Authenticator; devices: DeviceOnboardingService; settings: ProtectedSettings }): RouteSpec[] {
  const { auth, devices, settings } = deps;
  const realmBase = '/v1/realms/:realm';
  const hello = async (req: Request, res: Response) => {
    res.json(await devices.hello(param(req, 'realm'), auth.presentedChain(req), sourceAddress(req)));
  };
  const helloDoc = {
    tag: 'devices',
    auth: 'none' as const,
    summary:
      'A device connecting over HTTPS with its client certificate: 200 when trusted, else recorded as pending and 403 device.pending',
    errors: [
      ...DEVICE_CERTIFICATE_ERRORS,
      'realm.not_found',
      'device.certificate_required',
      'device.pending',
      'device.rejected',
      'device.onboarding_disabled',
      'device.pending_limit',
      'device.rate_limited',
      'device.client_disabled',
      'store.unavailable',
    ] satisfies ErrorCode[],
    responses: {
      200: {
        description: 'The certificate is trusted',
        schema: {
          type: 'object',
          properties: { status: { const: 'trusted' }, realm: { type: 'string' }, alias: { type: 'string' }, clientId: { type: 'string' } },
        },
      },
    },
  };
  return [
    { method: 'get', path: `${realmBase}/devices/hello`, ...helloDoc, handler: hello },
    { method: 'post', path: `${realmBase}/devices/hello`, ...helloDoc, handler: hello },
    {
      method: 'post',
      path: `${realmBase}/devices/certificates`,
      tag: 'devices',
      auth: 'none',
      summary: 'Upload a device certificate (PEM, or DER as application/pkix-cert) for a device that cannot do TLS client authentication',
      rawBodies: ['application/x-pem-file', 'application/pkix-cert'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['certificate'],
        properties: { certificate: { type: 'string', maxLength: 60_000, description: 'PEM, the device certificate first' } },
      },
      errors: [
        ...DEVICE_CERTIFICATE_ERRORS,
        'realm.not_found',
        'device.onboarding_disabled',
        'device.pending_limit',
        'device.rate_limited',
        'device.rejected',
        'device.already_trusted',
        'store.unavailable',
      ],
      responses: { 202: { description: 'Pending (new, or already pending: lastSeen updated)', schema: pendingSchema } },
      handler: async (req, res) => {
        const body = Buffer.isBuffer(req.body) ? new Uint8Array(req.body) : (req.body as { certificate: string }).certificate;
        const { pending } = await devices.upload(param(req, 'realm'), body, sourceAddress(req));
        res
          .status(202)
          .location(`/v1/realms/${encodeURIComponent(param(req, 'realm'))}/pending-client-certificates`)
          .json(pending);
      },
    },
    {
      method: 'get',
      path: `${realmBase}/pending-client-certificates`,
      tag: 'devices',
      auth: 'bearer',
      summary: 'Certificates pushed by devices, waiting for acceptance (keyward-admin)',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: {
          description: 'Pending certificates, oldest first',
          schema: { type: 'object', properties: { items: { type: 'array', items: pendingSchema } } },
        },
      },
      handler: async (req, res) => {
        res.json({ items: await devices.listPending(param(req, 'realm'), await auth.principal(req)) });
      },
    },
    {
      method: 'post',
      path: `${realmBase}/pending-client-certificates`,
      tag: 'devices',
      auth: 'bearer',
      summary:
        'Accept a pending certificate into the trust store with an alias and create its device client (keyward-admin); ' +
        'under dual control a second admin approves',
      body: acceptBody,
      errors: ACCEPT_ERRORS,
      responses: {
        201: { description: 'Trusted; the device client exists in Keycloak', schema: trustedSchema },
        202: {
          description: 'Waiting for a second admin under dual control',
          schema: { type: 'object', properties: { approvalId: { type: 'string' }, status: { const: 'pending' } } },
        },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        const out = await devices.accept(realm, await auth.principal(req), req.body);
        if (out.outcome === 'pending') {
          const a = out.approval;
          res
            .status(202)
            .location(`/v1/realms/${encodeURIComponent(realm)}/approvals/${a.id}`)
            .json({ approvalId: a.id, status: 'pending', expiresAt: a.expiresAt, change: a.change });
          return;
        }
        res
          .status(201)
          .location(`/v1/realms/${encodeURIComponent(realm)}/trusted-client-certificates/${encodeURIComponent(out.device.alias)}`)
          .json(out.device);
      },
    },
    {
      method: 'delete',
      path: `${realmBase}/pending-client-certificates/:uuid`,
      tag: 'devices',
      auth: 'bearer',
      summary: "Reject a pending certificate (keyward-admin); it is not queued again for the realm's rejectForHours",
      errors: ['realm.not_found', 'auth.forbidden', 'device.pending_not_found'],
      responses: { 204: { description: 'Rejected' } },
      handler: async (req, res) => {
        await devices.reject(param(req, 'realm'), await auth.principal(req), param(req, 'uuid'));
        res.status(204).end();
      },
    },
    {
      method: 'get',
      path: `${realmBase}/trusted-client-certificates`,
      tag: 'devices',
      auth: 'bearer',
      summary: "The realm's trust store of device certificates (keyward-admin)",
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: {
          description: 'Trusted certificates by alias',
          schema: { type: 'object', properties: { items: { type: 'array', items: trustedSchema } } },
        },
      },
      handler: async (req, res) => {
        res.json({ items: await devices.listTrusted(param(req, 'realm'), await auth.principal(req)) });
      },
    },
    {
      method: 'get',
      path: `${realmBase}/trusted-client-certificates/:alias`,
      tag: 'devices',
      auth: 'bearer',
      summary: 'One trusted device certificate (keyward-admin)',
      errors: ['realm.not_found', 'auth.forbidden', 'device.trusted_not_found'],
      responses: { 200: { description: 'The trusted certificate', schema: trustedSchema } },
      handler: async (req, res) => {
        res.json(await devices.getTrusted(param(req, 'realm'), await auth.principal(req), param(req, 'alias')));
      },
    },
    {
      method: 'delete',
      path: `${realmBase}/trusted-client-certificates/:alias`,
      tag: 'devices',
      auth: 'bearer',
      summary: 'Remove a certificate from the trust store and delete its device client: the device is refused at once (keyward-admin)',
      errors: ['realm.not_found', 'auth.forbidden', 'device.trusted_not_found', 'keycloak.rejected'],
      responses: { 204: { description: 'Removed' } },
      handler: async (req, res) => {
        await devices.untrust(param(req, 'realm'), await auth.principal(req), param(req, 'alias'));
        res.status(204).end();
      },
    },
    {
      method: 'patch',
      path: `${realmBase}/device-clients/:name`,
      tag: 'devices',
      auth: 'bearer',
      summary: 'Rename a device client (its clientId in Keycloak; keyward-admin)',
      body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', maxLength: 100 } } },
      errors: [
        'realm.not_found',
        'auth.forbidden',
        'device.client_not_found',
        'api_client.invalid_id',
        'api_client.exists',
        'keycloak.rejected',
      ],
      responses: { 200: { description: 'The trusted certificate with the new client name', schema: trustedSchema } },
      handler: async (req, res) => {
        res.json(
          await devices.renameClient(
            param(req, 'realm'),
            await auth.principal(req),
            param(req, 'name'),
            (req.body as { name: unknown }).name,
          ),
        );
      },
    },
    ...settingRoutes(
      { auth, settings },
      {
        path: `${realmBase}/settings/devices`,
        name: 'devices',
        what: 'Device onboarding settings',
        who: 'keyward-admin; absent fields keep their value',
        body: settingsBody,
      },
    ),
  ];
}
