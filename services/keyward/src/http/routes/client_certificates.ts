/**
 * Client certificates of users (as in IBM CSM), their settings, and trusted client CAs
 * (such as the cluster CA of `keyward ca`, like Flocker's `flocker-ca`).
 */
import type { ClientCertificateService } from '../../client_cert/client_certificates.ts';
import type { ProtectedSettings } from '../../settings/protected_settings.ts';
import type { Authenticator } from '../authenticate.ts';
import { idempotencyScope, replayable, type IdempotencyStore } from '../idempotency.ts';
import { IDEMPOTENCY_ERRORS, param, type RouteSpec } from '../route.ts';
import { sendChange, SETTING_CHANGE_ERRORS } from './settings.ts';

const view = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    realm: { type: 'string' },
    username: { type: 'string' },
    name: { type: 'string' },
    serialNumber: { type: 'string' },
    mode: { enum: ['generated', 'csr'] },
    createdAt: { type: 'string' },
    expiresInDays: { type: 'integer' },
    expiresAt: { type: 'string' },
    status: { enum: ['valid', 'revoked', 'expired'] },
  },
};
const settings = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'maxExpirationDays'],
  properties: { enabled: { type: 'boolean' }, maxExpirationDays: { type: 'integer', minimum: 1, maximum: 3650 } },
};

export function clientCertificateRoutes(deps: {
  auth: Authenticator;
  certs: ClientCertificateService;
  /** The one writer of the realm's client-certificate settings, under dual control when it is on. */
  settings: ProtectedSettings;
  idempotency?: IdempotencyStore;
}): RouteSpec[] {
  const { auth, certs } = deps;
  return [
    {
      method: 'post',
      path: '/v1/client-certificates',
      tag: 'client-certificates',
      auth: 'bearer',
      summary:
        "Create a client certificate carrying the calling user's authority; Keyward generates the key unless a CSR is sent. " +
        'With Idempotency-Key, a retry of the same request returns the first answer, with the same certificate and key ' +
        '(Idempotent-Replayed: true)',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['expiresInDays'],
        properties: {
          name: { type: 'string', maxLength: 100 },
          expiresInDays: { type: 'integer', minimum: 1 },
          csr: { type: 'string', maxLength: 60_000 },
        },
      },
      errors: [
        'client_certificate.users_only',
        'client_certificate.disabled',
        'client_certificate.expiry_exceeded',
        'realm.not_found',
        'csr.malformed',
        'csr.bad_signature',
        'policy.key_not_allowed',
        ...IDEMPOTENCY_ERRORS,
      ],
      responses: {
        201: {
          description: 'Created: the .pem (certificate, and the private key when generated) is in `pem`',
          schema: { ...view, properties: { ...view.properties, pem: { type: 'string' }, maximumExpirationDays: { type: 'integer' } } },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const answer = (c: { view: object; pem: string; maximum: number }) => ({
          status: 201,
          body: { ...c.view, pem: c.pem, maximumExpirationDays: c.maximum },
        });
        const out = await replayable(
          deps.idempotency,
          req,
          idempotencyScope(p.realm, p),
          async (serial) => answer(await certs.create(p, req.body, { serial })),
          async (serial) => {
            const found = await certs.findCreated(p, serial).catch(() => undefined);
            return found && answer(found);
          },
        );
        if (out.replayed) res.set('Idempotent-Replayed', 'true');
        res
          .status(out.status)
          .setHeader('Cache-Control', 'no-store')
          .location(`/v1/client-certificates/${(out.body as { id: string }).id}`)
          .json(out.body);
      },
    },
    {
      method: 'get',
      path: '/v1/client-certificates',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: "The caller's client certificates, and the realm's maximum expiry",
      errors: ['client_certificate.users_only', 'realm.not_found'],
      responses: {
        200: {
          description: 'Own certificates',
          schema: {
            type: 'object',
            properties: { items: { type: 'array', items: view }, enabled: { type: 'boolean' }, maximumExpirationDays: { type: 'integer' } },
          },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const s = await certs.settings(p.realm);
        res.json({ items: await certs.list(p), enabled: s.enabled, maximumExpirationDays: s.maxExpirationDays });
      },
    },
    {
      method: 'get',
      path: '/v1/client-certificates/:id/pem',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: 'Download the .pem again (certificate, and the private key when Keyward generated it)',
      errors: ['client_certificate.users_only', 'client_certificate.not_found'],
      responses: {
        200: {
          description: 'PEM',
          contentType: 'application/x-pem-file',
          schema: {
            type: 'string',
            description: 'The certificate and its chain, and the private key when Keyward generated it (RFC 7468)',
          },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        res
          .type('application/x-pem-file')
          .setHeader('Cache-Control', 'no-store')
          .setHeader('Content-Disposition', `attachment; filename="${param(req, 'id')}.pem"`)
          .send(await certs.pem(p, param(req, 'id')));
      },
    },
    {
      method: 'delete',
      path: '/v1/client-certificates/:id',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: 'Revoke a client certificate (its owner, or an admin of its realm)',
      errors: ['client_certificate.not_found'], // not its owner nor an admin of its realm: not found too
      responses: { 200: { description: 'Revoked', schema: view } },
      handler: async (req, res) => {
        res.json(await certs.revoke(await auth.principal(req), param(req, 'id')));
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/settings/client-certificates',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: 'Client-certificate settings of the realm',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: { 200: { description: 'Settings', schema: settings } },
      handler: async (req, res) => {
        res.json(await certs.getSettings(param(req, 'realm'), await auth.principal(req)));
      },
    },
    {
      method: 'put',
      path: '/v1/realms/:realm/settings/client-certificates',
      tag: 'client-certificates',
      auth: 'bearer',
      summary:
        'Enable client certificates and set the maximum expiry (keyward-admin or keyward-user-admin);' +
        ' under dual control the change waits for a second admin',
      body: settings,
      errors: [...SETTING_CHANGE_ERRORS],
      responses: {
        200: { description: 'Settings', schema: settings },
        202: {
          description: 'Waiting for approval under dual control',
          schema: { type: 'object', properties: { approvalId: { type: 'string' }, status: { const: 'pending' } } },
        },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        sendChange(res, realm, await deps.settings.change(realm, 'client_certificates', req.body, await auth.principal(req)));
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/client-certificates',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: "Admin view: every user's client certificates (username, name, created, expiry)",
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: { description: 'All certificates', schema: { type: 'object', properties: { items: { type: 'array', items: view } } } },
      },
      handler: async (req, res) => {
        res.json({ items: await certs.adminList(param(req, 'realm'), await auth.principal(req)) });
      },
    },
    {
      method: 'put',
      path: '/v1/realms/:realm/trusted-client-cas/:name',
      tag: 'client-certificates',
      auth: 'bearer',
      summary:
        'Trust a client CA (e.g. a `keyward ca` cluster.crt) for the realm:' +
        ' certificates it issues with CN user-<client> act as that API client',
      rawBodies: ['application/x-pem-file'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['certificate'],
        properties: { certificate: { type: 'string', maxLength: 60_000 } },
      },
      errors: ['realm.not_found', 'auth.forbidden', 'trusted_ca.invalid'],
      responses: {
        200: { description: 'Replaced', schema: { type: 'object' } },
        201: { description: 'Trusted', schema: { type: 'object' } },
      },
      handler: async (req, res) => {
        const pem = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : (req.body.certificate as string);
        const { ca, created } = await certs.putTrustedCa(param(req, 'realm'), param(req, 'name'), await auth.principal(req), pem);
        res.status(created ? 201 : 200).json({
          realm: ca.realm,
          name: ca.name,
          subject: ca.subject,
          sha256Fingerprint: ca.fingerprint,
          createdAt: ca.createdAt.toISOString(),
        });
      },
    },
    {
      method: 'get',
      path: '/v1/realms/:realm/trusted-client-cas',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: 'Trusted client CAs of the realm',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: { 200: { description: 'CAs', schema: { type: 'object' } } },
      handler: async (req, res) => {
        const list = await certs.listTrustedCas(param(req, 'realm'), await auth.principal(req));
        res.json({
          items: list.map((ca) => ({
            name: ca.name,
            subject: ca.subject,
            sha256Fingerprint: ca.fingerprint,
            certificate: ca.certificatePem,
            createdAt: ca.createdAt.toISOString(),
          })),
        });
      },
    },
    {
      method: 'delete',
      path: '/v1/realms/:realm/trusted-client-cas/:name',
      tag: 'client-certificates',
      auth: 'bearer',
      summary: 'Stop trusting a client CA (its certificates stop working at once)',
      errors: ['realm.not_found', 'auth.forbidden', 'trusted_ca.not_found'],
      responses: { 204: { description: 'Removed' } },
      handler: async (req, res) => {
        await certs.deleteTrustedCa(param(req, 'realm'), param(req, 'name'), await auth.principal(req));
        res.status(204).end();
      },
    },
  ];
}
