/**
 * The API reference at /docs in a real Chromium against a real Keyward (with the run's Keycloak
 * and PostgreSQL): Redoc, served by Keyward itself, renders the OpenAPI document Keyward serves;
 * nothing is fetched from any other host, and the page's strict Content-Security-Policy leaves
 * the browser console without errors.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { consolePage, launchChromium, SCREENSHOT_DIR, type ConsolePage } from '../support/chromium.ts';
import { startKeyward, type RunningKeyward } from '../support/env.ts';

describe('API reference (/docs) in Chromium', function () {
  this.timeout(300_000);
  let keyward: RunningKeyward;
  let browser: Browser;
  let tab: ConsolePage;

  before(async () => {
    keyward = await startKeyward();
    browser = await launchChromium();
  });
  after(async () => {
    await tab?.close();
    await browser?.close();
    await keyward?.close();
  });

  it('serves an OpenAPI 3.1 document that validates, from the running Keyward', async () => {
    const res = await fetch(`${keyward.url}/v1/openapi.json`);
    expect(res.status).to.equal(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).to.equal('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(Object.keys(doc.paths)).to.include.members([
      '/docs',
      '/v1/realms/{realm}/certificates',
      '/SKLM/rest/v1/pendingClientCertificates',
    ]);
  });

  it('serves the page under a strict Content-Security-Policy, and the bundle from Keyward', async () => {
    const page = await fetch(`${keyward.url}/docs`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).to.contain("default-src 'none'");
    expect(csp).to.contain("script-src 'self'");
    expect(csp).to.not.match(/unsafe-eval|https?:|\*/);
    const html = await page.text();
    expect(html).to.contain('spec-url="/v1/openapi.json"');
    expect(html).to.contain('src="/docs/redoc.standalone.js"');
    const js = await fetch(`${keyward.url}/docs/redoc.standalone.js`);
    expect(js.status).to.equal(200);
    expect(js.headers.get('content-type')).to.match(/^text\/javascript/);
    const source = await js.text();
    expect(source.length).to.be.greaterThan(500_000);
    expect(source, 'the bundle names no CDN').to.not.contain('https://cdn.');
  });

  it('renders the operations with no request beyond Keyward and no console error', async () => {
    tab = await consolePage(browser, { baseURL: keyward.url });
    const origin = new URL(keyward.url).origin;
    const requested: string[] = [];
    const outside: string[] = [];
    await tab.context.route('**/*', async (route) => {
      const url = route.request().url();
      requested.push(url);
      if (new URL(url).origin === origin) await route.continue();
      else {
        outside.push(url);
        await route.abort('blockedbyclient');
      }
    });
    const { page } = tab;
    // Requests the page's CSP blocks never reach the router; record those too.
    page.on('request', (r) => {
      if (!r.url().startsWith('blob:') && !r.url().startsWith('data:') && new URL(r.url()).origin !== origin) outside.push(r.url());
    });
    await page.goto('/docs');
    await page.getByRole('heading', { name: 'Keyward API', level: 1 }).first().waitFor({ timeout: 60_000 });
    for (const name of [
      'Issue a certificate for a CSR',
      'One certificate policy',
      'Rotate the client secret; the old one stops working at once',
      'Reject (delete) a pending client certificate',
    ]) {
      await page.getByText(name).first().waitFor({ state: 'attached', timeout: 30_000 });
    }
    // An operation's error responses name their codes.
    await page.getByText('certificate_request.self_approval').first().waitFor({ state: 'attached', timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'docs.png') }); // the first screen: the whole reference is very long
    expect(outside, 'requests outside Keyward').to.deep.equal([]);
    expect(requested.map((u) => new URL(u).pathname)).to.include.members(['/docs', '/docs/redoc.standalone.js', '/v1/openapi.json']);
    tab.expectClean();
  });
});
