/**
 * The Express 5 application: request ids, access log and metrics, JSON bodies
 * with a size limit, the declared routes, and the one error renderer. Express 5
 * forwards rejected promises to the error handler, so handlers are plain async
 * functions.
 */
import express from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../kernel/log.ts';
import type { Metrics } from './metrics.ts';
import { errorHandler, notFoundHandler, type ErrorRenderer } from './problem.ts';
import { mount, type RouteSpec } from './route.ts';

export interface AppOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly routes: readonly RouteSpec[];
  readonly bodyLimitBytes: number;
  /** Addresses whose X-Forwarded-For is trusted (Express "trust proxy"). */
  readonly trustProxy?: string[];
  /** Paths that render their errors in another product's format. */
  readonly errorRenderers?: readonly ErrorRenderer[];
  /** The web console (/console/: its login endpoints and files), mounted before the API routes. */
  readonly console?: express.Router | undefined;
  /** The ACME front door (RFC 8555), mounted at /acme outside /v1 with its own media types and problem documents. */
  readonly acme?: express.Router | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const incoming = req.get('x-request-id');
    const id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.path);
      options.metrics.inc('keyward_http_requests_total', 'HTTP requests by route and status', {
        method: req.method,
        route,
        status: String(res.statusCode),
      });
      options.metrics.observe('keyward_http_request_duration_seconds', 'HTTP request latency', { method: req.method, route }, seconds);
      if (route !== '/healthz' && route !== '/metrics') {
        options.log.info('request', { requestId: id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) });
      }
    });
    next();
  });
  if (options.acme) app.use('/acme', options.acme);
  app.use(express.json({ limit: options.bodyLimitBytes, type: ['application/json', 'application/*+json'] }));
  // CSRs, OCSP requests and device certificates may come as they are: PEM or DER (RFC 2986 / RFC 6960 / RFC 2585 media types).
  app.use(
    express.raw({
      limit: options.bodyLimitBytes,
      type: ['application/pkcs10', 'application/x-pem-file', 'application/ocsp-request', 'application/pkix-cert'],
    }),
  );
  if (options.console) app.use(options.console);
  const router = express.Router();
  mount(router, options.routes);
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(options.log, options.errorRenderers));
  return app;
}
