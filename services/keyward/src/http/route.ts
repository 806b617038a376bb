/**
 * Routes are declared once, as data: method, path, schemas and handler. The
 * same declaration mounts the Express handler (with body/query validation) and
 * feeds the OpenAPI 3.1 document, so the document cannot drift from the code.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Request, RequestHandler, Response, Router } from 'express';
import { ERROR_CATALOGUE, KeywardError, type ErrorCode } from '../kernel/errors.ts';

export type JsonSchema = Record<string, unknown>;

export interface RouteResponse {
  readonly description: string;
  readonly schema?: JsonSchema;
  /** The media type of `schema`; application/json unless named. */
  readonly contentType?: string;
  /** The same answer in other media types, chosen by the Accept header (e.g. application/pem-certificate-chain). */
  readonly alternatives?: Readonly<Record<string, JsonSchema>>;
}

/** A route's errors in another product's format instead of problem+json (the SKLM-compatible path). */
export interface ErrorBody {
  readonly description: string;
  readonly schema: JsonSchema;
  /** Catalogue codes this format answers with another status (SKLM answers 500 for its own two codes). */
  readonly statuses?: Readonly<Partial<Record<ErrorCode, number>>>;
}

export interface RouteSpec {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path, e.g. `/v1/realms/:realm/api-clients/:clientId`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** Which credentials are accepted; 'none' for public endpoints. */
  readonly auth: 'none' | 'bearer';
  readonly body?: JsonSchema;
  /** Non-JSON request bodies also accepted (passed raw as a Buffer), e.g. application/pkcs10. */
  readonly rawBodies?: readonly string[];
  readonly query?: JsonSchema;
  readonly responses: Readonly<Record<string, RouteResponse>>;
  /**
   * The refusals particular to this route, from the catalogue in kernel/errors.ts. Those of its
   * authentication, body and query are added by {@link routeErrors}; the OpenAPI document lists all.
   */
  readonly errors?: readonly ErrorCode[];
  /** Errors rendered in another product's format (see http/problem.ts ErrorRenderer). */
  readonly errorBody?: ErrorBody;
  readonly handler: (req: Request, res: Response) => Promise<void> | void;
}

const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, strict: false });

function describeError(e: ErrorObject, where: string): { message: string; field: string } {
  const path = e.instancePath || '';
  if (e.keyword === 'required') {
    const field = `${path}/${(e.params as { missingProperty: string }).missingProperty}`;
    return { field, message: `${where} is missing ${field}` };
  }
  if (e.keyword === 'additionalProperties') {
    const field = `${path}/${(e.params as { additionalProperty: string }).additionalProperty}`;
    return { field, message: `${where} has unknown field ${field}` };
  }
  return { field: path || '/', message: `${where} field ${path || '/'} ${e.message ?? 'is invalid'}` };
}

export function validator(schema: JsonSchema, where: string): (value: unknown) => void {
  const fn: ValidateFunction = ajv.compile(schema);
  return (value) => {
    if (!fn(value)) {
      const { message, field } = describeError(fn.errors![0]!, where);
      throw new KeywardError('request.malformed', message, { extras: { field } });
    }
  };
}

/** Mounts routes on a router, validating body and query first. */
export function mount(router: Router, specs: readonly RouteSpec[]): void {
  for (const spec of specs) {
    const checks: RequestHandler[] = [];
    if (spec.body) {
      const check = validator(spec.body, 'The request body');
      checks.push((req, _res, next) => {
        if (spec.rawBodies?.some((t) => req.is(t)) && Buffer.isBuffer(req.body)) return next();
        if (req.body === undefined || Buffer.isBuffer(req.body)) {
          const accepted = ['application/json', ...(spec.rawBodies ?? [])].join(' or ');
          throw new KeywardError(
            req.get('content-type') ? 'request.unsupported_media_type' : 'request.malformed',
            `A request body of type ${accepted} is required`,
          );
        }
        check(req.body);
        next();
      });
    }
    if (spec.query) {
      const check = validator(spec.query, 'The query');
      checks.push((req, _res, next) => {
        check({ ...req.query });
        next();
      });
    }
    router[spec.method](spec.path, ...checks, async (req, res) => {
      await spec.handler(req, res);
    });
  }
}

/** What any route may answer: an unexpected failure, or a store that is down. */
export const COMMON_ERRORS: readonly ErrorCode[] = ['server.error'];

/**
 * The refusals of `Authenticator.principal` (http/authenticate.ts): a missing or invalid Bearer token
 * (Keycloak access token, whose client must still be active, or personal access token), a console
 * session cookie, or a client certificate (TLS or X-Client-Certificate).
 */
export const BEARER_ERRORS: readonly ErrorCode[] = [
  'auth.missing',
  'auth.invalid_token',
  'auth.unknown_issuer',
  'token.client_disabled',
  'token.client_not_found',
  'pat.invalid',
  'pat.expired',
  'pat.disabled_in_use',
  'session.expired',
  'session.csrf',
  'client_certificate.malformed',
  'client_certificate.untrusted',
  'client_certificate.expired',
  'client_certificate.revoked',
  'client_certificate.key_mismatch',
  'client_certificate.key_required',
  'client_certificate.user_disabled',
  'client_certificate.unknown_principal',
  'client_certificate.header_too_large',
  'client_certificate.disabled',
  'device.client_disabled',
  'keycloak.unavailable',
  'store.unavailable',
];

/** The refusals of a request body (framework parsing and the `body` schema). */
export const BODY_ERRORS: readonly ErrorCode[] = ['request.malformed', 'request.too_large', 'request.unsupported_media_type'];

/** Every error code a route may answer with: its own, those of its authentication, body and query, and the common ones. */
export function routeErrors(spec: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>([
    ...(spec.auth === 'bearer' ? BEARER_ERRORS : []),
    ...(spec.body ? BODY_ERRORS : []),
    ...(spec.query ? (['request.malformed'] as const) : []),
    ...(spec.errors ?? []),
    ...COMMON_ERRORS,
  ]);
  return [...codes];
}

/** The HTTP status a code is answered with on a route. */
export const errorStatus = (spec: RouteSpec, code: ErrorCode): number => spec.errorBody?.statuses?.[code] ?? ERROR_CATALOGUE[code].status;

/** Express path → OpenAPI path. */
export const openApiPath = (path: string): string => path.replace(/[:*]([A-Za-z_]\w*)/g, '{$1}');

/** The names of a route's path parameters (`:name`, and Express 5's `*name` for the rest of the path). */
export const pathParams = (path: string): string[] => [...path.matchAll(/[:*]([A-Za-z_]\w*)/g)].map((m) => m[1]!);

/** A string route parameter (Express 5 types them loosely). */
/** The query parameters of a paged listing (`first`, `max`), as strings of digits. */
export const PAGE_QUERY = { first: { type: 'string', pattern: '^\\d{1,6}$' }, max: { type: 'string', pattern: '^\\d{1,3}$' } } as const;

/** A numeric query parameter validated by its schema: `fallback` when absent, at most `max`. */
export function queryNumber(v: unknown, fallback: number, max: number): number {
  return v === undefined ? fallback : Math.min(Number(v), max);
}

export function param(req: Request, name: string): string {
  const v = (req.params as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v.join('/') : (v ?? '');
}

/** The refusals of a route that honours an Idempotency-Key header (http/idempotency.ts). */
export const IDEMPOTENCY_ERRORS: readonly ErrorCode[] = ['idempotency.key_invalid', 'idempotency.key_reused', 'idempotency.in_progress'];
