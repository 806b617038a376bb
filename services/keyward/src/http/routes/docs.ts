/**
 * The API reference at /docs: Redoc's standalone bundle (the `redoc` package, served by Keyward
 * itself, no CDN) rendering the OpenAPI document at /v1/openapi.json. The page runs under a strict
 * Content-Security-Policy: everything from Keyward only, plus what Redoc needs, found by rendering it
 * in Chromium: inline styles (styled-components), its search worker from a blob: URL, data: images (icons).
 *
 * The bundle's one reference to another host, the Redocly logo beside its "API docs by Redocly"
 * attribution (loaded from Redocly's CDN), is emptied as it is served: the attribution stays, the
 * image is not shown, and the page fetches nothing from anywhere but Keyward.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { RouteSpec } from '../route.ts';

export const DOCS_PATH = '/docs';
export const OPENAPI_PATH = '/v1/openapi.json';
const BUNDLE_PATH = `${DOCS_PATH}/redoc.standalone.js`;

export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  'worker-src blob:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Keyward API reference</title>
  </head>
  <body>
    <redoc spec-url="${OPENAPI_PATH}"></redoc>
    <script src="${BUNDLE_PATH}"></script>
  </body>
</html>
`;

/** The attribution logo's address in the bundle; an empty `src` makes Redoc hide the image (its onError). */
const CDN_LOGO = 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"';

let bundle: Promise<string> | undefined;
/** The bundle, read once from the installed package, without its reference to Redocly's CDN. */
const redocBundle = (): Promise<string> =>
  (bundle ??= readFile(createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js'), 'utf8').then(
    (js) => js.replaceAll(CDN_LOGO, 'src:""'),
    (err: unknown) => {
      bundle = undefined;
      throw err;
    },
  ));

export function docsRoutes(): RouteSpec[] {
  return [
    {
      method: 'get',
      path: DOCS_PATH,
      tag: 'system',
      auth: 'none',
      summary: 'This API reference: the OpenAPI document rendered by Redoc',
      responses: { 200: { description: 'The reference page', contentType: 'text/html', schema: { type: 'string' } } },
      handler: (_req, res) => {
        res.setHeader('Content-Security-Policy', DOCS_CSP);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Referrer-Policy', 'no-referrer');
        res.type('text/html; charset=utf-8').send(PAGE);
      },
    },
    {
      method: 'get',
      path: BUNDLE_PATH,
      tag: 'system',
      auth: 'none',
      summary: "Redoc's standalone bundle, used by the reference page",
      responses: { 200: { description: 'The script', contentType: 'text/javascript', schema: { type: 'string' } } },
      handler: async (_req, res) => {
        const js = await redocBundle();
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Cache-Control', 'public, max-age=3600');
        res.type('text/javascript; charset=utf-8').send(js);
      },
    },
  ];
}
