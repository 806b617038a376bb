/**
 * Issuance, search, revocation, requests, end entities, CA chain, CRL and OCSP
 * Thin handlers: parse → authenticate → call the issuance action → render.
 */
import type { Request, Response } from 'express';
import { CA_KEY_TYPES, REVOCABLE_REASONS } from '../../ca/index.ts';
import type { Principal } from '../../authn/principal.ts';
import type { Issuance, IssuedView, IssueOutcome } from '../../issuance/issuance.ts';
import type { CertificateFilter } from '../../issuance/ports.ts';
import { KeywardError } from '../../kernel/errors.ts';
import type { Authenticator } from '../authenticate.ts';
import { idempotencyScope, replayable, type IdempotencyStore } from '../idempotency.ts';
import { peerCertificateDer } from '../peer_certificate.ts';
import { IDEMPOTENCY_ERRORS, PAGE_QUERY, param, queryNumber as num, type RouteSpec } from '../route.ts';
import type { ErrorCode } from '../../kernel/errors.ts';
import { DURATION_PATTERN, parseDuration } from '../../kernel/duration.ts';
import { INVENTORY_COLUMNS, INVENTORY_TYPES, sendInventory } from '../inventory.ts';

const pemString = { type: 'string', minLength: 1, maxLength: 60_000 };
/** A validity as an ISO 8601 duration; parsed (and refused with validity.malformed) by the issuance rules. */
const validitySchema = {
  type: 'string',
  maxLength: 40,
  description: 'Validity as an ISO 8601 duration (PT1H, PT2M, P30D, P1DT12H), at least PT1M; not together with validityDays',
};
/** Binary DER: in OpenAPI 3.1 a string of that media type. */
const DER = (description: string) => ({ type: 'string', contentMediaType: 'application/octet-stream', description });
const OCSP_RESPONSE = DER('The DER OCSPResponse (RFC 6960 §4.2.1)');
const PEM_CHAIN = {
  type: 'string',
  description: 'PEM certificates (RFC 7468), the certificate first, then its chain (application/pem-certificate-chain, RFC 8555 §9.1)',
};
/** One of a realm's issuing CAs (`GET …/ca` with Accept: application/json). */
const CA_VIEW = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: {
      enum: ['active', 'retiring'],
      description: 'retiring: rotated out, still signs its CRL and answers OCSP for its certificates',
    },
    subject: { type: 'string' },
    keyType: { type: 'string' },
    keyStore: { enum: ['sealed', 'pkcs11'], description: 'Where its key is: sealed in the database, or inside the PKCS#11 token' },
    notAfter: { type: 'string', format: 'date-time' },
    chain: { type: 'array', items: { type: 'string' }, description: 'The CA first, its root last' },
    crlUrl: { type: 'string', description: 'Its CRL (the CRL distribution point of the certificates it issues)' },
  },
};
const certificateSchema = {
  type: 'object',
  required: ['serialNumber', 'certificate', 'chain', 'notBefore', 'notAfter', 'policy', 'subject', 'sans', 'status'],
  properties: {
    serialNumber: { type: 'string', pattern: '^[0-9a-f]+$' },
    certificate: { type: 'string' },
    chain: { type: 'array', items: { type: 'string' } },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    policy: { type: 'string' },
    subject: { type: 'string' },
    sans: { type: 'array', items: { type: 'string' } },
    status: { enum: ['valid', 'revoked', 'expired'] },
    revokedAt: { type: 'string' },
    revocationReason: { type: 'string' },
    acme: {
      type: 'object',
      description: 'The ACME account and order (their URLs) the certificate was ordered through (RFC 8555), if it was',
      properties: { account: { type: 'string' }, order: { type: 'string' } },
    },
  },
};
const requestSchema = {
  type: 'object',
  required: ['requestId', 'status', 'policy', 'subject'],
  properties: {
    requestId: { type: 'string' },
    status: { enum: ['pending', 'issued', 'rejected'] },
    policy: { type: 'string' },
    subject: { type: 'string' },
    certificate: certificateSchema,
  },
};
const dn = {
  type: 'array',
  minItems: 1,
  maxItems: 20,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'value'],
    properties: { type: { type: 'string' }, value: { type: 'string', minLength: 1, maxLength: 256 } },
  },
};
const sanInput = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    ['dns', 'ip', 'uri', 'email'].map((k) => [
      k,
      { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 1000 } },
    ]),
  ),
};

/** CSR from a JSON body `{csr}` or a raw application/pkcs10 body (PEM or DER). */
function csrInput(req: Request): {
  csr: string | Uint8Array;
  policy?: string;
  validityDays?: number;
  validity?: string;
  endEntity?: string;
} {
  if (Buffer.isBuffer(req.body)) {
    const q = req.query as Record<string, string | undefined>;
    const days = q.validityDays === undefined ? undefined : Number(q.validityDays);
    return { csr: new Uint8Array(req.body), policy: q.policy, validityDays: days, validity: q.validity, endEntity: q.endEntity };
  }
  return req.body;
}

function sendCertificate(req: Request, res: Response, status: number, view: IssuedView): void {
  if (req.accepts(['application/json', 'application/pem-certificate-chain']) === 'application/pem-certificate-chain') {
    res
      .status(status)
      .type('application/pem-certificate-chain')
      .send(view.certificate + view.chain.join(''));
    return;
  }
  res.status(status).json(view);
}

/** The refusals of issuance (issuance/actions/issue.ts, its rules and the CA's CSR and policy checks). */
const ISSUE_ERRORS: readonly ErrorCode[] = [
  'realm.not_found',
  'auth.forbidden',
  'csr.malformed',
  'csr.bad_signature',
  'policy.required',
  'policy.not_found',
  'policy.key_not_allowed',
  'policy.subject_not_allowed',
  'policy.san_not_allowed',
  'policy.validity_exceeded',
  'validity.malformed',
  'validity.too_short',
  'validity.conflict',
];
/** Approving or rejecting a request (issuance/actions/decide.ts). */
const DECIDE_ERRORS: readonly ErrorCode[] = [
  'realm.not_found',
  'auth.forbidden',
  'certificate_request.not_found',
  'certificate_request.not_pending',
  'certificate_request.self_approval',
];
/** Renewal by the presented certificate (issuance/actions/renew.ts). */
const RENEW_ERRORS: readonly ErrorCode[] = [
  'realm.not_found',
  'renewal.certificate_missing',
  'renewal.certificate_unknown',
  'renewal.certificate_revoked',
  'renewal.certificate_expired',
  'renewal.requester_inactive',
  'renewal.policy_not_found',
  'renewal.not_allowed',
  'csr.malformed',
  'csr.bad_signature',
  'policy.key_not_allowed',
  'store.unavailable',
];

const CERTIFICATE_STATUSES = ['valid', 'revoked', 'expired'] as const;

/** The status filter, validated by the query schema above. */
const certificateStatus = (s: string | undefined): CertificateFilter['status'] => CERTIFICATE_STATUSES.find((x) => x === s);

/** What a first attempt committed under its reserved serial without recording its answer (http/idempotency.ts). */
function issuedUnder(realm: string, p: Principal, issuance: Issuance) {
  return async (serial: string) => {
    const view = await issuance.get(realm, p, serial).catch(() => undefined);
    return view && { status: 201, body: { kind: 'issued', certificate: view } satisfies IssueOutcome };
  };
}

export function certificateRoutes(deps: { auth: Authenticator; issuance: Issuance; idempotency?: IdempotencyStore }): RouteSpec[] {
  const { auth, issuance, idempotency } = deps;
  const base = '/v1/realms/:realm';
  return [
    {
      method: 'get',
      path: `${base}/ca`,
      tag: 'certificates',
      auth: 'none',
      summary: "The realm's CA chain, issuing CA first: PEM (application/pem-certificate-chain, RFC 8555 §9.1) unless JSON is asked for",
      errors: ['realm.not_found', 'ca.malformed'],
      responses: {
        200: {
          description:
            'The chain of the active issuing CA: PEM by default (what curl gets); with Accept: application/json `{chain, cas}`, ' +
            'where `cas` lists the active CA and the retiring ones (rotated out, still answering for their certificates) with their chains',
          schema: {
            type: 'object',
            properties: { chain: { type: 'array', items: { type: 'string' } }, cas: { type: 'array', items: CA_VIEW } },
          },
          alternatives: { 'application/pem-certificate-chain': PEM_CHAIN },
        },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        const chain = await issuance.chain(realm);
        // As Vault's /pki/ca/pem and step-ca's /roots.pem: `curl -o ca.pem` (Accept: */*) gets PEM; JSON only when named.
        if (req.accepts(['application/pem-certificate-chain', 'application/json']) === 'application/json')
          res.json({ chain, cas: await issuance.cas(realm) });
        else res.type('application/pem-certificate-chain').send(chain.join(''));
      },
    },
    {
      method: 'post',
      path: `${base}/ca/rotate`,
      tag: 'certificates',
      auth: 'bearer',
      summary:
        "keyward-admin: rotate the realm's issuing CA — a new one under the same parent issues from now on; the previous one is " +
        'retiring: it signs its CRL and answers OCSP until its last certificate expires',
      body: { type: 'object', additionalProperties: false, properties: { keyType: { enum: [...CA_KEY_TYPES] } } },
      errors: ['realm.not_found', 'auth.forbidden', 'ca.exists', 'ca.key_unavailable', 'request.malformed'],
      responses: {
        201: {
          description: "The realm's CAs after the rotation, the new active one first",
          schema: {
            type: 'object',
            properties: { chain: { type: 'array', items: { type: 'string' } }, cas: { type: 'array', items: CA_VIEW } },
          },
        },
      },
      handler: async (req, res) => {
        const cas = await issuance.rotate(param(req, 'realm'), await auth.principal(req), { keyType: req.body?.keyType });
        res.status(201).json({ chain: cas[0]!.chain, cas });
      },
    },
    {
      method: 'put',
      path: `${base}/ca/parent`,
      tag: 'certificates',
      auth: 'bearer',
      summary: "Operators: import a CA (PEM certificate and key) as the parent of the realm's issuing CA, before its first issuance",
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['certificate', 'privateKey'],
        properties: { certificate: pemString, privateKey: pemString, chain: { type: 'string', maxLength: 60_000 } },
      },
      errors: ['realm.not_found', 'auth.forbidden', 'ca.malformed', 'ca.invalid', 'ca.exists'],
      responses: {
        201: {
          description: 'The new chain',
          schema: { type: 'object', properties: { chain: { type: 'array', items: { type: 'string' } } } },
        },
      },
      handler: async (req, res) => {
        res.status(201).json({ chain: await issuance.importParent(param(req, 'realm'), await auth.principal(req), req.body) });
      },
    },
    {
      method: 'post',
      path: `${base}/certificates`,
      tag: 'certificates',
      auth: 'bearer',
      summary:
        'Issue a certificate for a CSR (201), or open a request when the policy needs approval (202); with Idempotency-Key, ' +
        'a retry of the same request returns the first answer (Idempotent-Replayed: true)',
      rawBodies: ['application/pkcs10', 'application/x-pem-file'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['csr'],
        properties: {
          csr: pemString,
          policy: { type: 'string', maxLength: 100 },
          validityDays: { type: 'integer', minimum: 1, maximum: 3650 },
          validity: validitySchema,
          endEntity: { type: 'string', maxLength: 100 },
        },
      },
      errors: [...ISSUE_ERRORS, 'end_entity.not_found', ...IDEMPOTENCY_ERRORS],
      responses: {
        201: { description: 'Issued', schema: certificateSchema, alternatives: { 'application/pem-certificate-chain': PEM_CHAIN } },
        202: { description: 'Waiting for approval', schema: requestSchema },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const realm = param(req, 'realm');
        const answer = (out: IssueOutcome) => ({ status: out.kind === 'pending' ? 202 : 201, body: out });
        const send = (status: number, out: IssueOutcome) => {
          if (out.kind === 'pending') {
            res
              .status(status)
              .location(`/v1/realms/${encodeURIComponent(realm)}/certificate-requests/${out.request.requestId}`)
              .json(out.request);
            return;
          }
          res.location(`/v1/realms/${encodeURIComponent(realm)}/certificates/${out.certificate.serialNumber}`);
          sendCertificate(req, res, status, out.certificate);
        };
        const result = await replayable(
          idempotency,
          req,
          idempotencyScope(realm, p),
          async (serial) => answer(await issuance.issue(realm, p, { ...csrInput(req), ...(serial ? { serial } : {}) })),
          issuedUnder(realm, p, issuance),
        );
        if (result.replayed) res.set('Idempotent-Replayed', 'true');
        send(result.status, result.body as IssueOutcome);
      },
    },
    {
      method: 'get',
      path: `${base}/certificates`,
      tag: 'certificates',
      auth: 'bearer',
      summary:
        'Search certificates (requesters see their own; revokers, approvers and admins all); with Accept: text/csv or ' +
        'application/x-ndjson, every match as an inventory export, streamed (paging ignored)',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...PAGE_QUERY,
          status: { enum: ['valid', 'revoked', 'expired'] },
          subject: { type: 'string', maxLength: 200 },
          san: { type: 'string', maxLength: 300 },
          requester: { type: 'string', maxLength: 200 },
          policy: { type: 'string', maxLength: 100 },
          endEntity: { type: 'string', maxLength: 100 },
          expiringBefore: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}', description: 'ISO 8601 date or date-time' },
          after: {
            type: 'string',
            pattern: '^[0-9a-fA-F:]{1,60}$',
            description:
              'Keyset paging: the serialNumber of the last certificate of the previous page (instead of first), in the order of sort',
          },
          expiringWithin: {
            type: 'string',
            maxLength: 40,
            pattern: `^(\\d{1,5}|${DURATION_PATTERN.slice(1, -1)})$`,
            description: 'Valid certificates expiring within this time from now: days (30) or an ISO 8601 duration (P30D, PT12H)',
          },
          sort: {
            enum: ['createdAt', 'notAfter'],
            description: 'createdAt: newest first (default); notAfter: soonest expiry first, then serial',
          },
        },
      },
      errors: ['realm.not_found', 'auth.forbidden', 'validity.malformed'],
      responses: {
        200: {
          description: 'A page of certificates; or, asked for by Accept, every match as CSV (RFC 4180, with a header line) or JSON Lines',
          schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: certificateSchema } } },
          alternatives: {
            'text/csv': { type: 'string', description: `CSV with the columns ${INVENTORY_COLUMNS.join(', ')}` },
            'application/x-ndjson': { type: 'string', description: 'One JSON object per line, with the members of the CSV columns' },
          },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const q = req.query as Record<string, string | undefined>;
        const expiringBefore = q.expiringBefore ? new Date(q.expiringBefore) : undefined;
        if (expiringBefore && Number.isNaN(expiringBefore.getTime()))
          throw new KeywardError('request.malformed', 'expiringBefore must be an ISO 8601 date', { extras: { field: 'expiringBefore' } });
        const first = num(q.first, 0, 1e6);
        const max = num(q.max, 50, 500);
        const within = q.expiringWithin;
        const filter: CertificateFilter = {
          status: certificateStatus(q.status),
          subject: q.subject,
          san: q.san,
          requester: q.requester,
          policy: q.policy,
          endEntity: q.endEntity,
          expiringBefore,
          expiringWithinSeconds: within === undefined ? undefined : /^\d+$/.test(within) ? Number(within) * 86_400 : parseDuration(within),
          sort: q.sort === 'notAfter' ? 'notAfter' : undefined,
          after: q.after,
          first,
          max,
        };
        const exported = req.accepts(['application/json', ...INVENTORY_TYPES]);
        if (exported === 'text/csv' || exported === 'application/x-ndjson') {
          await sendInventory(res, exported, await issuance.export(param(req, 'realm'), p, filter), new Date());
          return;
        }
        const items = await issuance.search(param(req, 'realm'), p, filter);
        res.json({ items, first, max });
      },
    },
    {
      method: 'get',
      path: `${base}/certificates/:serial`,
      tag: 'certificates',
      auth: 'bearer',
      summary: 'One certificate: PEM and metadata (Accept: application/pem-certificate-chain for PEM only)',
      errors: ['realm.not_found', 'auth.forbidden', 'certificate.not_found'],
      responses: {
        200: {
          description: 'The certificate',
          schema: certificateSchema,
          alternatives: { 'application/pem-certificate-chain': PEM_CHAIN },
        },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        sendCertificate(req, res, 200, await issuance.get(param(req, 'realm'), p, param(req, 'serial')));
      },
    },
    {
      method: 'post',
      path: `${base}/certificates/:serial/revoke`,
      tag: 'certificates',
      auth: 'bearer',
      summary: 'Revoke (own certificates as requester, any as keyward-revoker); certificateHold puts on hold; idempotent',
      body: { type: 'object', additionalProperties: false, properties: { reason: { enum: [...REVOCABLE_REASONS] } } },
      errors: ['realm.not_found', 'auth.forbidden', 'certificate.not_found', 'certificate.invalid_reason'],
      responses: { 200: { description: 'The certificate, now revoked', schema: certificateSchema } },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        res.json(await issuance.revoke(param(req, 'realm'), p, param(req, 'serial'), req.body?.reason ?? 'unspecified'));
      },
    },
    {
      method: 'get',
      path: `${base}/crl`,
      tag: 'revocation',
      auth: 'none',
      summary: 'The current CRL (DER); its number only grows',
      errors: ['realm.not_found', 'ca.not_found', 'store.unavailable'],
      responses: { 200: { description: 'CRL', contentType: 'application/pkix-crl', schema: DER('The X.509 CRL (RFC 5280 §5)') } },
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          issuer: {
            type: 'string',
            pattern: '^[0-9a-f-]{36}$',
            description: 'The CRL of this issuing CA of the realm (active or retiring)',
          },
        },
      },
      handler: async (req, res) => {
        const der = await issuance.crl(param(req, 'realm'), (req.query as Record<string, string | undefined>).issuer);
        res.type('application/pkix-crl').setHeader('Cache-Control', 'max-age=60').send(Buffer.from(der));
      },
    },
    // Before /crl/:caId, which would take 'delta' for a CA id.
    {
      method: 'get',
      path: `${base}/crl/delta`,
      tag: 'revocation',
      auth: 'none',
      summary: 'The delta CRL (DER, RFC 5280 §5.2.4): changes since its base CRL, removeFromCRL for certificates released from hold',
      errors: ['realm.not_found', 'store.unavailable'],
      responses: {
        200: { description: 'Delta CRL', contentType: 'application/pkix-crl', schema: DER('The X.509 delta CRL (RFC 5280 §5.2.4)') },
      },
      handler: async (req, res) => {
        const der = await issuance.deltaCrl(param(req, 'realm'));
        res.type('application/pkix-crl').setHeader('Cache-Control', 'max-age=60').send(Buffer.from(der));
      },
    },
    {
      method: 'get',
      path: `${base}/crl/:caId`,
      tag: 'revocation',
      auth: 'none',
      summary: "The CRL (DER) of one of the realm's issuing CAs, active or retiring: the CRL distribution point of its certificates",
      errors: ['realm.not_found', 'ca.not_found', 'store.unavailable'],
      responses: { 200: { description: 'CRL', contentType: 'application/pkix-crl', schema: DER('The X.509 CRL (RFC 5280 §5)') } },
      handler: async (req, res) => {
        const der = await issuance.crl(param(req, 'realm'), param(req, 'caId'));
        res.type('application/pkix-crl').setHeader('Cache-Control', 'max-age=60').send(Buffer.from(der));
      },
    },
    {
      method: 'post',
      path: `${base}/certificates/:serial/release`,
      tag: 'certificates',
      auth: 'bearer',
      summary: 'Release a certificate from hold (revoked with certificateHold): valid again (own as requester, any as keyward-revoker)',
      errors: ['realm.not_found', 'auth.forbidden', 'certificate.not_found', 'certificate.not_held'],
      responses: { 200: { description: 'The certificate, valid again', schema: certificateSchema } },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        res.json(await issuance.release(param(req, 'realm'), p, param(req, 'serial')));
      },
    },
    ...ocspRoutes(`${base}/ocsp`, (req) => param(req, 'realm'), issuance),
    ...ocspRoutes('/v1/ocsp', () => undefined, issuance),
    ...renewRoutes(base, issuance),
    // ------------------------------------------------------------ certificate requests
    {
      method: 'get',
      path: `${base}/certificate-requests`,
      tag: 'certificate-requests',
      auth: 'bearer',
      summary: 'Certificate requests (approvers see all, requesters their own)',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: { ...PAGE_QUERY, status: { enum: ['pending', 'issued', 'rejected'] } },
      },
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: {
        200: { description: 'Requests', schema: { type: 'object', properties: { items: { type: 'array', items: requestSchema } } } },
      },
      handler: async (req, res) => {
        const p = await auth.principal(req);
        const q = req.query as Record<string, string | undefined>;
        res.json({ items: await issuance.listRequests(param(req, 'realm'), p, q.status, num(q.first, 0, 1e6), num(q.max, 50, 500)) });
      },
    },
    {
      method: 'get',
      path: `${base}/certificate-requests/:id`,
      tag: 'certificate-requests',
      auth: 'bearer',
      summary: 'One request; includes the certificate once issued',
      errors: ['realm.not_found', 'auth.forbidden', 'certificate_request.not_found'],
      responses: { 200: { description: 'The request', schema: requestSchema } },
      handler: async (req, res) => {
        res.json(await issuance.getRequest(param(req, 'realm'), await auth.principal(req), param(req, 'id')));
      },
    },
    {
      method: 'post',
      path: `${base}/certificate-requests/:id/approve`,
      tag: 'certificate-requests',
      auth: 'bearer',
      summary: 'Approve and issue (keyward-approver, not the requester)',
      errors: [...DECIDE_ERRORS, ...ISSUE_ERRORS],
      responses: { 200: { description: 'Issued', schema: requestSchema } },
      handler: async (req, res) => {
        res.json(await issuance.approve(param(req, 'realm'), await auth.principal(req), param(req, 'id')));
      },
    },
    {
      method: 'post',
      path: `${base}/certificate-requests/:id/reject`,
      tag: 'certificate-requests',
      auth: 'bearer',
      summary: 'Reject with a reason (keyward-approver, not the requester)',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['reason'],
        properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 } },
      },
      errors: DECIDE_ERRORS,
      responses: { 200: { description: 'Rejected', schema: requestSchema } },
      handler: async (req, res) => {
        res.json(await issuance.reject(param(req, 'realm'), await auth.principal(req), param(req, 'id'), req.body.reason));
      },
    },
    // ------------------------------------------------------------ end entities
    {
      method: 'post',
      path: `${base}/end-entities`,
      tag: 'end-entities',
      auth: 'bearer',
      summary: 'Create an end entity: a named subject and SANs bound to a policy (keyward-entity-admin)',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'subject', 'policy'],
        properties: { name: { type: 'string', maxLength: 100 }, subject: dn, sans: sanInput, policy: { type: 'string', maxLength: 100 } },
      },
      errors: [
        'realm.not_found',
        'auth.forbidden',
        'policy.not_found',
        'policy.subject_not_allowed',
        'policy.san_not_allowed',
        'end_entity.exists',
      ],
      responses: { 201: { description: 'Created', schema: { type: 'object' } } },
      handler: async (req, res) => {
        const e = await issuance.createEndEntity(param(req, 'realm'), await auth.principal(req), req.body);
        res.status(201).json(entityView(e));
      },
    },
    {
      method: 'get',
      path: `${base}/end-entities`,
      tag: 'end-entities',
      auth: 'bearer',
      summary: 'End entities of the realm',
      errors: ['realm.not_found', 'auth.forbidden'],
      responses: { 200: { description: 'End entities', schema: { type: 'object' } } },
      handler: async (req, res) => {
        res.json({ items: (await issuance.listEndEntities(param(req, 'realm'), await auth.principal(req))).map(entityView) });
      },
    },
    {
      method: 'get',
      path: `${base}/end-entities/:name`,
      tag: 'end-entities',
      auth: 'bearer',
      summary: 'One end entity',
      errors: ['realm.not_found', 'auth.forbidden', 'end_entity.not_found'],
      responses: { 200: { description: 'The end entity', schema: { type: 'object' } } },
      handler: async (req, res) => {
        res.json(entityView(await issuance.getEndEntity(param(req, 'realm'), await auth.principal(req), param(req, 'name'))));
      },
    },
    {
      method: 'delete',
      path: `${base}/end-entities/:name`,
      tag: 'end-entities',
      auth: 'bearer',
      summary: 'Delete an end entity (its certificates stay)',
      errors: ['realm.not_found', 'auth.forbidden', 'end_entity.not_found'],
      responses: { 204: { description: 'Deleted' } },
      handler: async (req, res) => {
        await issuance.deleteEndEntity(param(req, 'realm'), await auth.principal(req), param(req, 'name'));
        res.status(204).end();
      },
    },
    {
      method: 'post',
      path: `${base}/end-entities/:name/certificates`,
      tag: 'end-entities',
      auth: 'bearer',
      summary:
        'Issue (or renew) for the entity: subject and SANs from the entity, only the key from the CSR; with Idempotency-Key, ' +
        'a retry of the same request returns the first answer (Idempotent-Replayed: true)',
      rawBodies: ['application/pkcs10', 'application/x-pem-file'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['csr'],
        properties: { csr: pemString, validityDays: { type: 'integer', minimum: 1, maximum: 3650 }, validity: validitySchema },
      },
      errors: [...ISSUE_ERRORS, 'end_entity.not_found', ...IDEMPOTENCY_ERRORS],
      responses: {
        201: { description: 'Issued', schema: certificateSchema, alternatives: { 'application/pem-certificate-chain': PEM_CHAIN } },
        202: { description: 'Waiting for approval', schema: requestSchema },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        const p = await auth.principal(req);
        const input = csrInput(req);
        const result = await replayable(
          idempotency,
          req,
          idempotencyScope(realm, p),
          async (serial) => {
            const out = await issuance.issue(realm, p, {
              csr: input.csr,
              validityDays: input.validityDays,
              validity: input.validity,
              endEntity: param(req, 'name'),
              ...(serial ? { serial } : {}),
            });
            return { status: out.kind === 'pending' ? 202 : 201, body: out };
          },
          issuedUnder(realm, p, issuance),
        );
        if (result.replayed) res.set('Idempotent-Replayed', 'true');
        const out = result.body as IssueOutcome;
        if (out.kind === 'pending') res.status(result.status).json(out.request);
        else sendCertificate(req, res, result.status, out.certificate);
      },
    },
    {
      method: 'get',
      path: `${base}/end-entities/:name/certificates`,
      tag: 'end-entities',
      auth: 'bearer',
      summary: "The entity's certificates",
      errors: ['realm.not_found', 'auth.forbidden', 'end_entity.not_found'],
      responses: {
        200: {
          description: 'Certificates',
          schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: certificateSchema } } },
        },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        const p = await auth.principal(req);
        await issuance.getEndEntity(realm, p, param(req, 'name'));
        res.json({ items: await issuance.search(realm, p, { endEntity: param(req, 'name'), first: 0, max: 500 }) });
      },
    },
  ];
}

function entityView(e: { realm: string; name: string; subject: unknown; sans: unknown; policy: string; createdAt: Date }) {
  return { realm: e.realm, name: e.name, subject: e.subject, sans: e.sans, policy: e.policy, createdAt: e.createdAt.toISOString() };
}

/** RFC 6960 §A.1: POST with the DER request, or GET with it base64 (URL-encoded) in the path. */
function ocspRoutes(path: string, realmOf: (req: Request) => string | undefined, issuance: Issuance): RouteSpec[] {
  const answer = async (realm: string | undefined, der: Uint8Array, res: Response) => {
    let out: Uint8Array | undefined;
    if (realm) out = await issuance.ocsp(realm, der);
    else {
      // The generic responder: the first realm CA that recognises the CertID answers.
      for (const { realm: r } of await issuance.issuingCas()) {
        const candidate = await issuance.ocsp(r, der);
        out ??= candidate;
        if (!isUnauthorized(candidate)) {
          out = candidate;
          break;
        }
      }
      out ??= UNAUTHORIZED;
    }
    res.type('application/ocsp-response').setHeader('Cache-Control', 'no-cache').send(Buffer.from(out));
  };
  return [
    {
      method: 'post',
      path,
      tag: 'revocation',
      auth: 'none',
      summary: 'OCSP responder (RFC 6960), POST form',
      rawBodies: ['application/ocsp-request'],
      errors: ['ocsp.malformed', 'request.unsupported_media_type', 'request.too_large', 'store.unavailable'],
      responses: { 200: { description: 'OCSP response', contentType: 'application/ocsp-response', schema: OCSP_RESPONSE } },
      handler: async (req, res) => {
        if (!Buffer.isBuffer(req.body))
          throw new KeywardError('ocsp.malformed', 'Send the DER OCSP request with Content-Type: application/ocsp-request');
        await answer(realmOf(req), new Uint8Array(req.body), res);
      },
    },
    {
      method: 'get',
      path: `${path}/*request`,
      tag: 'revocation',
      auth: 'none',
      summary: 'OCSP responder (RFC 6960), GET form with the base64 request in the path',
      errors: ['store.unavailable'],
      responses: { 200: { description: 'OCSP response', contentType: 'application/ocsp-response', schema: OCSP_RESPONSE } },
      handler: async (req, res) => {
        const raw = decodeURIComponent(param(req, 'request'));
        await answer(realmOf(req), new Uint8Array(Buffer.from(raw, 'base64')), res);
      },
    },
  ];
}

/** OCSPResponse { responseStatus unauthorized(6) }. */
const UNAUTHORIZED = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x06]);
function isUnauthorized(der: Uint8Array): boolean {
  return der.length === 5 && der[4] === 0x06;
}

// ------------------------------------------------------------ renewal authenticated by the certificate itself

/**
 * `POST /v1/realms/{realm}/certificates/renew` on the HTTPS listener: the
 * certificate to renew is the TLS client certificate (as step-ca's
 * `step ca renew`); no other credential is needed or looked at.
 */
function renewRoutes(base: string, issuance: Issuance): RouteSpec[] {
  return [
    {
      method: 'post',
      path: `${base}/certificates/renew`,
      tag: 'certificates',
      auth: 'none',
      summary:
        'Renew the certificate presented as the TLS client certificate (HTTPS listener; the certificate is the credential): ' +
        "same subject and SANs under the requester's current policy; a new CSR re-keys",
      body: { type: 'object', additionalProperties: false, properties: { csr: pemString } },
      errors: RENEW_ERRORS,
      responses: {
        201: {
          description: 'The new certificate',
          schema: certificateSchema,
          alternatives: { 'application/pem-certificate-chain': PEM_CHAIN },
        },
      },
      handler: async (req, res) => {
        const realm = param(req, 'realm');
        const presented = peerCertificateDer(req);
        if (!presented)
          throw new KeywardError(
            'renewal.certificate_missing',
            "Present the certificate to renew as the TLS client certificate on Keyward's HTTPS listener",
          );
        const view = await issuance.renew(realm, presented, { csr: req.body?.csr });
        res.location(`/v1/realms/${encodeURIComponent(realm)}/certificates/${view.serialNumber}`);
        sendCertificate(req, res, 201, view);
      },
    },
  ];
}
