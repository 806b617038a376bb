/**
 * The SKLM-compatible device onboarding path: IBM Security
 * Guardium Key Lifecycle Manager's Pending Client Certificate Accept REST
 * Service, with its request and response bodies and status codes, so
 * automation written for it only changes host and credential.
 *
 * - `POST …/pendingClientCertificates {alias, uuid, deviceGroup?, deviceRole?}`
 *   → 200 `{"code": "0", "status": "Succeeded"}`; alias in use → 500
 *   CTGKM2306E; unknown uuid → 500 CTGKM2307E (SKLM's codes and status);
 * - `GET …/pendingClientCertificates` lists them; `DELETE …/{uuid}` rejects one;
 * - every error is `{code, message}`; messages follow Accept-Language (en, de)
 *   and the answer says which in Content-Language;
 * - credentials as everywhere (Bearer token or PAT of a keyward-admin), and
 *   SKLM's own header form `Authorization: SKLMAuth userAuthId=<token>`.
 *
 * The realm is KEYWARD_DEVICE_DEFAULT_REALM. Served under `/SKLM/rest/v1/`
 * (SKLM's own URL) and `/rest/v1/`.
 */
import type { Request, Response } from 'express';
import type { DeviceOnboardingService } from '../../devices/device_onboarding.ts';
import { KeywardError } from '../../kernel/errors.ts';
import type { Authenticator } from '../authenticate.ts';
import type { ErrorRenderer } from '../problem.ts';
import { param, type RouteSpec } from '../route.ts';
import { ACCEPT_ERRORS, acceptBody, pendingSchema } from './devices.ts';

export const SKLM_PREFIXES = ['/SKLM/rest/v1/', '/rest/v1/'] as const;
export type Language = 'en' | 'de';
export const LANGUAGES: readonly Language[] = ['en', 'de'];

/** The best supported language for an Accept-Language header (RFC 9110 §12.5.4); English by default. */
export function negotiateLanguage(header: string | undefined): Language {
  let best: Language = 'en';
  let bestQ = -1;
  for (const part of (header ?? '').split(',')) {
    const [range = '', ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const primary = range.trim().toLowerCase().split('-')[0]!;
    const lang = primary === '*' ? 'en' : (LANGUAGES as readonly string[]).includes(primary) ? (primary as Language) : undefined;
    if (lang && q > bestQ) {
      // ties go to the earlier range

      best = lang;
      bestQ = q;
    }
  }
  return best;
}

/** SKLM's two error messages (note the trailing space, as SKLM writes them). */
const SKLM_MESSAGES: Record<'CTGKM2306E' | 'CTGKM2307E', Record<Language, (v: string) => string>> = {
  CTGKM2306E: {
    en: (alias) => `CTGKM2306E Client certificate alias already in use: ${alias} `,
    de: (alias) => `CTGKM2306E Der Aliasname des Clientzertifikats wird bereits verwendet: ${alias} `,
  },
  CTGKM2307E: {
    en: (uuid) => `CTGKM2307E Client certificate UUID not found in the database: ${uuid} `,
    de: (uuid) => `CTGKM2307E Die UUID des Clientzertifikats wurde in der Datenbank nicht gefunden: ${uuid} `,
  },
};

/** German messages for the other errors this path can answer with. */
const GERMAN: Partial<Record<string, string>> = {
  'auth.missing': 'Eine Authentifizierung ist erforderlich: senden Sie ein Zugriffstoken (Authorization: Bearer <Token>)',
  'auth.invalid_token': 'Das Zugriffstoken ist ungültig',
  'auth.unknown_issuer': 'Das Token wurde nicht von einem verwalteten Realm ausgestellt',
  'auth.forbidden': 'Dem Aufrufer fehlt die erforderliche Rolle (keyward-admin)',
  'pat.invalid': 'Das persönliche Zugriffstoken ist ungültig oder widerrufen',
  'pat.expired': 'Das persönliche Zugriffstoken ist abgelaufen',
  'pat.disabled_in_use': 'Persönliche Zugriffstoken sind in diesem Realm deaktiviert',
  'request.malformed': 'Die Anfrage ist fehlerhaft',
  'request.not_found': 'Dieser Endpunkt existiert nicht',
  'request.unsupported_media_type': 'Nicht unterstützter Medientyp: senden Sie application/json',
  'request.too_large': 'Der Anfragetext ist zu groß',
  'device.alias_invalid':
    'Der Aliasname ist ungültig: keine Schrägstriche oder umgekehrten Schrägstriche, nicht drei Buchstaben gefolgt von 18 Ziffern',
  'device.default_realm_unset': 'Für diesen Pfad ist kein Realm konfiguriert (KEYWARD_DEVICE_DEFAULT_REALM)',
  'realm.not_found': 'Der konfigurierte Realm wird nicht verwaltet',
  'approval.already_pending': 'Für dieses Zertifikat wartet bereits eine Genehmigung',
  'keycloak.unavailable': 'Keycloak ist nicht erreichbar',
  'keycloak.rejected': 'Keycloak hat die Anfrage abgelehnt',
  'store.unavailable': 'Die Datenbank ist nicht erreichbar',
  'server.error': 'Interner Serverfehler',
};

function sendSklm(res: Response, status: number, body: unknown, lang: Language): void {
  res.status(status).setHeader('Content-Language', lang);
  res.type('application/json').send(JSON.stringify(body));
}

/** Renders any error on the SKLM paths as `{code, message}`, localised. */
export const sklmErrorRenderer: ErrorRenderer[] = SKLM_PREFIXES.map((pathPrefix) => ({
  pathPrefix,
  render(req: Request, res: Response, err: KeywardError) {
    const lang = negotiateLanguage(req.get('accept-language'));
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    if (err.code === 'device.alias_in_use') {
      sendSklm(res, 500, { code: 'CTGKM2306E', message: SKLM_MESSAGES.CTGKM2306E[lang](String(err.extras.alias ?? '')) }, lang);
      return;
    }
    if (err.code === 'device.pending_not_found') {
      sendSklm(res, 500, { code: 'CTGKM2307E', message: SKLM_MESSAGES.CTGKM2307E[lang](String(err.extras.uuid ?? '')) }, lang);
      return;
    }
    const german = lang === 'de' ? GERMAN[err.code] : undefined;
    sendSklm(res, err.status, { code: err.code, message: german ?? err.detail }, german ? 'de' : 'en');
  },
}));

/** SKLM's `Authorization: SKLMAuth userAuthId=<id>`: the id is a Keyward credential (access token or PAT). */
function acceptSklmAuth(req: Request): void {
  const m = /^SKLMAuth\s+userAuthId=(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  if (m) req.headers.authorization = `Bearer ${m[1]}`;
}

const SUCCEEDED = { code: '0', status: 'Succeeded' } as const;
const succeededSchema = {
  type: 'object',
  required: ['code', 'status'],
  properties: { code: { const: '0' }, status: { const: 'Succeeded' } },
};

/** SKLM's error format: `{code, message}`, localised; its own two codes answer 500 as SKLM does. */
const SKLM_ERRORS = {
  description:
    "As IBM SKLM answers: `{code, message}` (message in the Accept-Language's language, en or de); CTGKM2306E (alias in use, " +
    'device.alias_in_use) and CTGKM2307E (no such pending certificate, device.pending_not_found) with status 500',
  schema: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  statuses: { 'device.alias_in_use': 500, 'device.pending_not_found': 500 },
} as const;

export function sklmRoutes(deps: { auth: Authenticator; devices: DeviceOnboardingService; defaultRealm: string | undefined }): RouteSpec[] {
  const { auth, devices } = deps;
  const realm = (): string => {
    if (!deps.defaultRealm)
      throw new KeywardError(
        'device.default_realm_unset',
        'The SKLM-compatible path serves the realm named by KEYWARD_DEVICE_DEFAULT_REALM, which is not set',
      );
    return deps.defaultRealm;
  };
  const principal = async (req: Request) => {
    acceptSklmAuth(req);
    return auth.principal(req);
  };
  const lang = (req: Request) => negotiateLanguage(req.get('accept-language'));
  return SKLM_PREFIXES.flatMap((prefix): RouteSpec[] => {
    const path = `${prefix}pendingClientCertificates`;
    const tag = 'devices (SKLM-compatible)';
    return [
      {
        method: 'post',
        path,
        tag,
        auth: 'bearer',
        summary:
          'Accept a pending client certificate (IBM SKLM Pending Client Certificate Accept REST Service) in KEYWARD_DEVICE_DEFAULT_REALM',
        body: acceptBody,
        errors: ['device.default_realm_unset', ...ACCEPT_ERRORS],
        errorBody: SKLM_ERRORS,
        responses: {
          200: { description: 'Accepted: {"code": "0", "status": "Succeeded"}', schema: succeededSchema },
          202: {
            description: 'Waiting for a second admin under dual control: {"code": "0", "status": "PendingApproval", "approvalId"}',
            schema: {
              type: 'object',
              required: ['code', 'status', 'approvalId'],
              properties: { code: { const: '0' }, status: { const: 'PendingApproval' }, approvalId: { type: 'string' } },
            },
          },
        },
        handler: async (req: Request, res: Response) => {
          const out = await devices.accept(realm(), await principal(req), req.body);
          if (out.outcome === 'pending') {
            sendSklm(res, 202, { code: '0', status: 'PendingApproval', approvalId: out.approval.id }, lang(req));
            return;
          }
          sendSklm(res, 200, SUCCEEDED, lang(req));
        },
      },
      {
        method: 'get',
        path,
        tag,
        auth: 'bearer',
        summary: 'Pending client certificates of KEYWARD_DEVICE_DEFAULT_REALM',
        errors: ['device.default_realm_unset', 'realm.not_found', 'auth.forbidden'],
        errorBody: SKLM_ERRORS,
        responses: { 200: { description: 'Pending certificates, oldest first', schema: { type: 'array', items: pendingSchema } } },
        handler: async (req: Request, res: Response) => {
          sendSklm(res, 200, await devices.listPending(realm(), await principal(req)), lang(req));
        },
      },
      {
        method: 'delete',
        path: `${path}/:uuid`,
        tag,
        auth: 'bearer',
        summary: 'Reject (delete) a pending client certificate',
        errors: ['device.default_realm_unset', 'realm.not_found', 'auth.forbidden', 'device.pending_not_found'],
        errorBody: SKLM_ERRORS,
        responses: { 200: { description: '{"code": "0", "status": "Succeeded"}', schema: succeededSchema } },
        handler: async (req: Request, res: Response) => {
          await devices.reject(realm(), await principal(req), param(req, 'uuid'));
          sendSklm(res, 200, SUCCEEDED, lang(req));
        },
      },
    ];
  });
}
