/**
 * A real Chromium for the console's browser tests, driven by playwright-core
 * (which downloads nothing): Debian's chromium-headless-shell or chromium, or
 * the binary KEYWARD_CHROMIUM names. When none is installed and the tests run
 * as root, it is installed through apt-get; otherwise the tests fail with how
 * to provide one — never a silent skip.
 *
 * Pages record every browser-console error and failed request; `expectClean`
 * fails a test that produced one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureDebianTool } from './debian.ts';
import { ensureConsoleBuilt } from '../../services/keyward/src/devenv/console_build.ts';

const CANDIDATES = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium', '/usr/lib/chromium/chromium'];
const PACKAGE = 'chromium-headless-shell';
/** Screenshots of every page, written by each run (the README's images come from `npm run console:screenshots`). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../results/screenshots/', import.meta.url));

let resolved: string | undefined;

/** The Chromium binary, installing Debian's package when possible. */
export function chromiumPath(): string {
  resolved ??= ensureDebianTool({
    binary: PACKAGE,
    package: PACKAGE,
    variable: 'KEYWARD_CHROMIUM',
    candidates: CANDIDATES,
    purpose: "The console's browser tests",
  });
  return resolved;
}

/** Chromium without its background traffic (the test machine's network is closed) and, as root, without its sandbox. */
export async function launchChromium(): Promise<Browser> {
  await ensureConsoleBuilt({ say: (l) => process.stderr.write(`» ${l}\n`) });
  const args = [
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

export interface ConsolePage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Browser-console errors, page errors and failed requests seen so far. */
  readonly problems: string[];
  /** Fails when the page logged an error, except messages matching `allowed` (e.g. an expected 403). */
  expectClean(allowed?: RegExp): void;
  close(): Promise<void>;
}

/** A fresh browser context (its own cookies) on a page that records errors. */
export async function consolePage(browser: Browser, options: { baseURL: string }): Promise<ConsolePage> {
  const context = await browser.newContext({ baseURL: options.baseURL, viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const failure = r.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(failure)) problems.push(`request failed: ${r.method()} ${r.url()} ${failure}`);
  });
  return {
    context,
    page,
    problems,
    expectClean(allowed?: RegExp) {
      const left = problems.filter((p) => !(allowed && allowed.test(p)));
      if (left.length) throw new Error(`the browser reported:\n${left.join('\n')}`);
    },
    close: () => context.close(),
  };
}

/**
 * Logs in as a browser user does: opens the console, picks the realm, follows
 * the redirect to Keycloak's own login page, types the credentials there, and
 * waits for the console to show the user.
 */
export async function logIn(page: Page, o: { realm: string; username: string; password: string; path?: string }): Promise<void> {
  await page.goto(o.path ?? `/console/?realm=${encodeURIComponent(o.realm)}`);
  await page.getByLabel('Realm').first().selectOption(o.realm);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('#kc-form-login');
  await page.locator('#username').fill(o.username);
  await page.locator('#password').fill(o.password);
  await page.locator('#kc-login').click();
  await page.getByTestId('current-user').waitFor();
}

/** Writes test/results/screenshots/<name>.png (full page). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
