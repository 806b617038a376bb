/**
 * Routes are declared once, as data: method, path, schemas and handler. The
 * same declaration mounts the Express handler (with body/query validation) and
 * feeds the OpenAPI 3.1 document, so the document cannot drift from the code.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Request, RequestHandler, Response, Router } from 'express';
import { KeywardError } from '../kernel/errors.ts';

export type JsonSchema = Record<string, unknown>;

export interface RouteResponse {
  readonly description: string;
  readonly schema?: JsonSchema;
  readonly contentType?: string;
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

/** Express path → OpenAPI path. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]\w*)/g, '{$1}');

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
