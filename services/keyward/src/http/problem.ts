/**
 * The one error renderer: every failure leaves as RFC 9457 problem+json with a
 * stable `code`. Unknown errors and every 5xx without a KeywardError become a
 * generic `server.error` body; the cause is logged with the request id, never
 * sent (oidc-provider's err_out.js does the same).
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { KeywardError } from '../kernel/errors.ts';
import type { Logger } from '../kernel/log.ts';

export const PROBLEM_TYPE_BASE = 'https://keyward.dev/problems/';

export function sendProblem(res: Response, err: KeywardError, instance?: string): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res
    .status(err.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: PROBLEM_TYPE_BASE + err.code,
        title: err.title,
        status: err.status,
        code: err.code,
        detail: err.detail,
        ...(instance ? { instance } : {}),
        ...err.extras,
      }),
    );
}

/** Maps body-parser and other framework errors to catalogue codes. */
function fromFramework(err: unknown): KeywardError | undefined {
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.too.large')
    return new KeywardError('request.too_large', `The request body exceeds ${e.limit} bytes`, { cause: err });
  if (e?.type === 'entity.parse.failed') return new KeywardError('request.malformed', 'The request body is not valid JSON', { cause: err });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return new KeywardError('request.unsupported_media_type', e.message ?? 'Unsupported encoding', { cause: err });
  return undefined;
}

/**
 * Paths that keep another product's error format (the device path compatible
 * with IBM SKLM's pendingClientCertificates API) render errors themselves; everything else is problem+json.
 */
export interface ErrorRenderer {
  readonly pathPrefix: string;
  render(req: Request, res: Response, err: KeywardError): void;
}

export function errorHandler(log: Logger, renderers: readonly ErrorRenderer[] = []): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = err instanceof KeywardError ? err : fromFramework(err);
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    if (res.headersSent) {
      log.error('error after response started', { requestId, err });
      return;
    }
    const renderer = renderers.find((r) => req.path.startsWith(r.pathPrefix));
    const send = (e: KeywardError) => (renderer ? renderer.render(req, res, e) : sendProblem(res, e, req.originalUrl));
    if (known && known.status < 500) {
      send(known);
      return;
    }
    if (known && known.code !== 'server.error') {
      log.warn('request failed', { requestId, code: known.code, err: known.cause ?? known });
      send(known);
      return;
    }
    log.error('unhandled error', { requestId, method: req.method, path: req.path, err });
    send(new KeywardError('server.error', `An unexpected error occurred; quote request id ${requestId} when reporting it`));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new KeywardError('request.not_found', `No endpoint ${req.method} ${req.path}`));
};
