import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { build } from 'vite';
import {
  lastMailTo,
  linkIn,
  testServer,
  type TestServer,
  type TestServerOptions,
} from '@latchkey/server/testing';

const here = dirname(fileURLToPath(import.meta.url));
const dashboardRoot = join(here, '..');
export const SCREENSHOTS = join(here, 'screenshots');

/** Builds the dashboard with Vite's API into a fresh temp folder (a second or so); returns it. */
export async function buildDashboard(): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-dashboard-'));
  await build({
    root: dashboardRoot,
    configFile: join(dashboardRoot, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: dir, emptyOutDir: true },
  });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Latchkey {
  t: TestServer;
  /** `http://127.0.0.1:<port>`, also the server's PUBLIC_URL. */
  base: string;
  close(): Promise<void>;
}

/** A real Latchkey on a loopback port, serving the dashboard built into `dashboardDir`. */
export async function startLatchkey(
  dashboardDir: string,
  opts: Omit<TestServerOptions, 'env'> & { env?: Record<string, string> } = {},
): Promise<Latchkey> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await testServer({
    ...opts,
    // Playwright's request context reuses idle sockets without retrying one the server has just
    // closed (the keep-alive race every HTTP server has); an idle minute makes that race moot here.
    env: { PUBLIC_URL: base, DASHBOARD_DIR: dashboardDir, KEEP_ALIVE_TIMEOUT_MS: '60000', ...opts.env },
  });
  await t.app.listen({ port, host: '127.0.0.1' });
  return { t, base, close: () => t.close() };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface Watched {
  context: BrowserContext;
  /** Console errors and page errors seen so far, as text. */
  problems: string[];
  /** Console errors matching one of these are expected (e.g. the 401 of the signed-out probe). */
  allow: RegExp[];
  assertClean(): void;
}

/**
 * A browser context that may reach only `base` and the `alsoAllowed` origins (anything else is
 * aborted and reported), and that records every console error and uncaught page error so a test
 * can fail on them.
 */
export async function newContext(
  browser: Browser,
  base: string,
  options: BrowserContextOptions = {},
  alsoAllowed: readonly string[] = [],
): Promise<Watched> {
  const context = await browser.newContext({ baseURL: base, ...options });
  context.setDefaultTimeout(10_000);
  const problems: string[] = [];
  const allow: RegExp[] = [INSTANCE_ADMIN_PROBE];
  await context.route(
    (url) =>
      url.origin !== base &&
      !alsoAllowed.includes(url.origin) &&
      url.protocol !== 'data:' &&
      url.protocol !== 'blob:',
    async (route) => {
      problems.push(`request outside the test server: ${route.request().url()}`);
      await route.abort();
    },
  );
  const watchPage = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = `${msg.text()} (${msg.location().url})`;
      if (!allow.some((re) => re.test(text))) problems.push(`console.error on ${page.url()}: ${text}`);
    });
    page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  };
  context.on('page', watchPage);
  return {
    context,
    problems,
    allow,
    assertClean() {
      if (problems.length) throw new Error(`browser problems:\n${problems.join('\n')}`);
    },
  };
}

/** Saves the page as test/screenshots/<name>.png (looked at by a person; not compared). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // With a modal dialog open, the visible window is what a person sees (a full-page capture
  // would stretch the page behind the backdrop).
  const modal = (await page.locator('dialog[open]').count()) > 0;
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: !modal });
}

/**
 * The dashboard asks the admin API once whether the person operates the server (`/api/v1/me`
 * does not say); everyone else gets 403, which the browser logs. Expected on every signed-in load.
 */
export const INSTANCE_ADMIN_PROBE = /status of 403 .*\/api\/v1\/admin\/signup-policy/;

/** The signed-out probe: `GET /api/v1/me` answers 401 before anyone signs in. */
export const SIGNED_OUT_PROBE = /status of 401 .*\/api\/v1\/me/;

export function uniqueEmail(tag: string): string {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** On failure, a screenshot of every open page (test/screenshots/failed-*.png) helps see why. */
export async function screenshotOnFailure(
  contexts: Watched[],
  fn: () => Promise<void>,
  name: string,
): Promise<void> {
  try {
    await fn();
  } catch (err) {
    let i = 0;
    for (const c of contexts)
      for (const p of c.context.pages()) await screenshot(p, `failed-${name}-${++i}`).catch(() => undefined);
    throw err;
  }
}

/**
 * Proves a UI sign-up's address the way a person does: opens the mailed link in `page` (signed in
 * to that account), presses its button, and returns to the dashboard (reloaded, so it knows).
 */
export async function verifyEmailInPage(page: Page, lk: Latchkey, email: string): Promise<void> {
  const mail = await lastMailTo(lk.t.outboxDir, email);
  assert.equal(mail.subject, 'Confirm your email address for Latchkey');
  await page.goto(linkIn(mail.text, `${lk.base}/verify-email`));
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await page.getByText('Your email address is confirmed.').waitFor();
  await page.goto('/app/');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
