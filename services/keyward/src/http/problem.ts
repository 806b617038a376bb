/**
 * The one error renderer: every failure leaves as RFC 9457 problem+json with a
 * stable `code`. Unknown errors and every 5xx without a KeywardError become a
 * generic `server.error` body; the cause is logged with the request id, never
 * sent (oidc-provider's err_out.js does the same).
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { KeywardError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/log.ts';

export const PROBLEM_TYPE_BASE = 'https://keyward.dev/problems/';

export function sendProblem(res: Response, err: KeywardError, instance?: string): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(err.status).type('application/problem+json').send(JSON.stringify({
    type: PROBLEM_TYPE_BASE + err.code,
    title: err.title,
    status: err.status,
    code: err.code,
    detail: err.detail,
    ...(instance ? { instance } : {}),
    ...err.extras,
  }));
}

/** Maps body-parser and other framework errors to catalogue codes. */
function fromFramework(err: unknown): KeywardError | undefined {
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.too.large') return new KeywardError('request.too_large', `The request body exceeds ${e.limit} bytes`, { cause: err });
  if (e?.type === 'entity.parse.failed') return new KeywardError('request.malformed', 'The request body is not valid JSON', { cause: err });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new KeywardError('request.unsupported_media_type', e.message ?? 'Unsupported encoding', { cause: err });
  return undefined;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof KeywardError ? err : fromFramework(err);
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    if (res.headersSent) {
      log.error('error after response started', { requestId, err });
      return;
    }
    if (known && known.status < 500) {
      sendProblem(res, known, req.originalUrl);
      return;
    }
    if (known && known.code !== 'server.error') {
      log.warn('request failed', { requestId, code: known.code, err: known.cause ?? known });
      sendProblem(res, known, req.originalUrl);
      return;
    }
    log.error('unhandled error', { requestId, method: req.method, path: req.path, err });
    sendProblem(res, new KeywardError('server.error', `An unexpected error occurred; quote request id ${requestId} when reporting it`), req.originalUrl);
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new KeywardError('request.not_found', `No endpoint ${req.method} ${req.path}`));
};
