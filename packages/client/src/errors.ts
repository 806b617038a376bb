/**
 * The one error the client throws: an RFC 9457 problem+json answer of
 * Keyward, an answer that is not one, or no answer at all. Its `code` is a
 * code of Keyward's catalogue (error_codes.ts) or one of the client's own
 * codes below, so a `switch (err.code)` is checked by the compiler.
 */
import { ERROR_CATALOGUE, type ErrorCode } from './error_codes.ts';

/**
 * Codes of failures that happen before or around an HTTP answer, with status 0
 * unless an answer arrived:
 * - `client.unreachable`: no answer (connection refused, DNS, TLS); the network error is the `cause`;
 * - `client.timeout`: no answer within the client's `timeoutMs`;
 * - `client.unexpected_response`: an answer that is not problem+json for an error status (a proxy's HTML page),
 *   or a success body that is not the JSON announced;
 * - `client.token_failed`: Keycloak refused or did not answer the token request; its error is the `cause`.
 */
export const CLIENT_ERROR_CODES = ['client.unreachable', 'client.timeout', 'client.unexpected_response', 'client.token_failed'] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** What `KeywardApiError.code` can be. */
export type KeywardErrorCode = ErrorCode | ClientErrorCode;

/** An RFC 9457 problem details body as Keyward sends it (`code` is Keyward's extension member). */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail?: string;
  readonly instance?: string;
  readonly [extension: string]: unknown;
}

export interface KeywardApiErrorInit {
  /** The HTTP status, 0 when no answer arrived. */
  status: number;
  code: KeywardErrorCode;
  /** The human explanation: the problem's `detail` (or its `title`), or the client's own words. */
  detail: string;
  /** The parsed problem+json body, the answer's text when it was not JSON, undefined without an answer. */
  body?: unknown;
  /** The answer (its body already read), for headers such as Retry-After; undefined without an answer. */
  response?: Response | undefined;
}

export class KeywardApiError extends Error {
  /** The HTTP status, 0 when no answer arrived. */
  readonly status: number;
  readonly code: KeywardErrorCode;
  readonly detail: string;
  readonly body: unknown;
  /** The answer (its body already read), for headers such as Retry-After; undefined without an answer. */
  readonly response: Response | undefined;

  /**
   * @example
   * throw new KeywardApiError({ status: 0, code: 'client.unreachable', detail: 'cannot reach Keyward' }, { cause: err });
   */
  constructor(init: KeywardApiErrorInit, options?: { cause?: unknown }) {
    super(`${init.detail} [${init.code}]`, options);
    this.name = 'KeywardApiError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.body = init.body;
    this.response = init.response;
  }

  /** The problem details when the server answered with one. */
  get problem(): Problem | undefined {
    return isProblem(this.body) ? this.body : undefined;
  }
}

/**
 * True when `err` is a KeywardApiError, optionally with one of the given codes.
 *
 * @example
 * if (isKeywardApiError(err, 'policy.san_not_allowed')) console.error(err.detail);
 */
export function isKeywardApiError(err: unknown, ...codes: KeywardErrorCode[]): err is KeywardApiError {
  return err instanceof KeywardApiError && (codes.length === 0 || codes.includes(err.code));
}

/** True when `code` is in this client's copy of the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}

/**
 * The error for an answer with an error status. A problem+json body gives the
 * code and detail; a code this client does not know yet (a newer server) is kept
 * as sent, since codes are only ever added.
 */
export function errorFromAnswer(response: Response, text: string): KeywardApiError {
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  if (isProblem(body)) {
    const detail = typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : response.statusText;
    return new KeywardApiError({ status: response.status, code: body.code, detail, body, response });
  }
  const what = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
  const from = response.url ? ` from ${new URL(response.url).origin}` : '';
  return new KeywardApiError({
    status: response.status,
    code: 'client.unexpected_response',
    detail: `HTTP ${response.status} ${response.statusText}${from} (${what}), not problem details`,
    body,
    response,
  });
}

/** The innermost message of a network error (fetch's `TypeError: fetch failed` hides it in `cause`). */
export function networkReason(err: unknown): string {
  let e = err as { message?: string; code?: string; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return e?.message || e?.code || String(err);
}
