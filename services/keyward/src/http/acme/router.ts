/**
 * The ACME front door (RFC 8555) at /acme/{realm}/… and /acme/{realm}/{policy}/…,
 * outside /v1: its own media types (application/jose+json in,
 * application/problem+json with `urn:ietf:params:acme:error:*` types and
 * application/pem-certificate-chain out), a fresh Replay-Nonce on every
 * answer, `Link: <directory>;rel="index"`, Location and Retry-After where
 * RFC 8555 asks for them. Thin handlers: the steps are in acme/actions/.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { AcmeProblem, toAcmeProblem, type Acme, type SignedRequest } from '../../acme/acme.ts';
import type { Logger } from '../../kernel/log.ts';
import { param } from '../route.ts';

export const JOSE_JSON = 'application/jose+json';

export interface AcmeRouterOptions {
  readonly acme: Acme;
  readonly publicUrl: string;
  readonly bodyLimitBytes: number;
  readonly log: Logger;
}

export function acmeRouter(o: AcmeRouterOptions): express.Router {
  const { acme } = o;
  const ctx = acme.context;
  const publicUrl = o.publicUrl.replace(/\/+$/, '');
  const router = express.Router({ strict: true });
  router.use(express.json({ type: JOSE_JSON, limit: o.bodyLimitBytes, strict: true }));

  /** The realm of the path (also in the error handler, where route parameters are gone). */
  const realmOf = (req: Request) => {
    const fromRoute = param(req, 'realm');
    if (fromRoute) return fromRoute;
    try {
      return decodeURIComponent(req.path.split('/')[1] ?? '');
    } catch {
      return '';
    }
  };

  /** The common headers: a fresh nonce, the directory link, no caching. */
  async function common(req: Request, res: Response): Promise<void> {
    const realm = realmOf(req);
    if (realm) res.setHeader('Link', [`<${ctx.base(realm)}/directory>;rel="index"`]);
    res.setHeader('Cache-Control', 'no-store');
    try {
      res.setHeader('Replay-Nonce', await acme.newNonce());
    } catch (err) {
      o.log.warn('could not issue an ACME nonce', { err });
    }
  }

  const addLink = (res: Response, link: string) => {
    const links = res.getHeader('Link');
    res.setHeader('Link', [...(Array.isArray(links) ? links : links ? [String(links)] : []), link]);
  };

  async function json(req: Request, res: Response, status: number, body: unknown, headers: Record<string, string> = {}) {
    await common(req, res);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).type('application/json').send(JSON.stringify(body));
  }

  /** The signed request of a POST: application/jose+json, its URL as clients address it. */
  function signed(req: Request): SignedRequest {
    if (!req.is(JOSE_JSON)) throw new AcmeProblem('malformed', `ACME requests must be ${JOSE_JSON}`, { status: 415 });
    return { realm: realmOf(req), url: publicUrl + req.originalUrl.split('?')[0], body: req.body };
  }

  const retryAfter = (status: string): Record<string, string> => (status === 'processing' ? { 'Retry-After': '2' } : {});

  router.head('/:realm/new-nonce', async (req, res) => {
    await common(req, res);
    res.status(200).end();
  });
  router.get('/:realm/new-nonce', async (req, res) => {
    await common(req, res);
    res.status(204).end();
  });
  router.get('/:realm/directory', async (req, res) => {
    await json(req, res, 200, await acme.directory(realmOf(req), undefined));
  });
  router.get('/:realm/renewal-info/:certId', async (req, res) => {
    const info = await acme.renewalInfo(realmOf(req), param(req, 'certId'));
    await json(req, res, 200, { suggestedWindow: info.suggestedWindow }, { 'Retry-After': String(info.retryAfterSeconds) });
  });
  router.post('/:realm/new-account', async (req, res) => {
    const { account, created } = await acme.newAccount(signed(req));
    await json(req, res, created ? 201 : 200, acme.views.account(account), { Location: ctx.accountUrl(account.realm, account.id) });
  });
  router.post('/:realm/account/:id', async (req, res) => {
    const account = await acme.account(signed(req), param(req, 'id'));
    await json(req, res, 200, acme.views.account(account), { Location: ctx.accountUrl(account.realm, account.id) });
  });
  router.post('/:realm/account/:id/orders', async (req, res) => {
    await json(req, res, 200, { orders: await acme.accountOrders(signed(req), param(req, 'id')) });
  });
  router.post('/:realm/key-change', async (req, res) => {
    const account = await acme.keyChange(signed(req));
    await json(req, res, 200, acme.views.account(account), { Location: ctx.accountUrl(account.realm, account.id) });
  });
  router.post('/:realm/new-order', async (req, res) => {
    const { order, authzIds } = await acme.newOrder(signed(req), undefined);
    await json(req, res, 201, acme.views.order(order, authzIds), { Location: ctx.orderUrl(order.realm, order.id) });
  });
  router.post('/:realm/order/:id', async (req, res) => {
    const { order, authzIds } = await acme.order(signed(req), param(req, 'id'));
    await json(req, res, 200, acme.views.order(order, authzIds), {
      Location: ctx.orderUrl(order.realm, order.id),
      ...retryAfter(order.status),
    });
  });
  router.post('/:realm/order/:id/finalize', async (req, res) => {
    const { order, authzIds } = await acme.finalize(signed(req), param(req, 'id'));
    await json(req, res, 200, acme.views.order(order, authzIds), {
      Location: ctx.orderUrl(order.realm, order.id),
      ...retryAfter(order.status),
    });
  });
  router.post('/:realm/authz/:id', async (req, res) => {
    const { authz, challenges } = await acme.authorization(signed(req), param(req, 'id'));
    await json(req, res, 200, acme.views.authorization(authz, challenges));
  });
  router.post('/:realm/chall/:id', async (req, res) => {
    const { challenge, authz } = await acme.challenge(signed(req), param(req, 'id'));
    await common(req, res);
    addLink(res, `<${ctx.authzUrl(authz.realm, authz.id)}>;rel="up"`);
    if (challenge.status === 'processing') res.setHeader('Retry-After', '1');
    res
      .status(200)
      .type('application/json')
      .send(JSON.stringify(acme.views.challenge(authz.realm, challenge)));
  });
  router.post('/:realm/cert/:id', async (req, res) => {
    const pem = await acme.certificate(signed(req), param(req, 'id'));
    await common(req, res);
    res.status(200).type('application/pem-certificate-chain').send(pem);
  });
  router.post('/:realm/revoke-cert', async (req, res) => {
    await acme.revoke(signed(req));
    await common(req, res);
    res.status(200).end();
  });
  // A policy's directory: the same resources, its own newOrder.
  router.get('/:realm/:policy/directory', async (req, res) => {
    await json(req, res, 200, await acme.directory(realmOf(req), param(req, 'policy')));
  });
  router.post('/:realm/:policy/new-order', async (req, res) => {
    const { order, authzIds } = await acme.newOrder(signed(req), param(req, 'policy'));
    await json(req, res, 201, acme.views.order(order, authzIds), { Location: ctx.orderUrl(order.realm, order.id) });
  });
  router.use((req: Request, _res: Response, next: NextFunction) => {
    next(new AcmeProblem('malformed', `No ACME resource ${req.method} ${req.originalUrl.split('?')[0]}`, { status: 404 }));
  });
  router.use(async (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const framework = err as { type?: string; status?: number };
    const problem =
      framework?.type === 'entity.parse.failed'
        ? new AcmeProblem('malformed', 'The request body is not JSON')
        : framework?.type === 'entity.too.large'
          ? new AcmeProblem('malformed', 'The request body is too large', { status: 413 })
          : toAcmeProblem(err);
    const requestId = String(res.getHeader('X-Request-Id') ?? '');
    if (problem.status >= 500) o.log.error('ACME request failed', { requestId, path: req.path, err: problem.cause ?? err });
    if (res.headersSent) return;
    try {
      await common(req, res);
    } catch {
      /* answered without a nonce */
    }
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    const doc =
      problem.type === 'serverInternal' && !(problem.cause && (problem.cause as { status?: number }).status)
        ? { ...problem.document, detail: `An unexpected error occurred; quote request id ${requestId} when reporting it` }
        : problem.document;
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(doc));
  });
  return router;
}
