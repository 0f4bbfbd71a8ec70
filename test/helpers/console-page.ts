import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { localOnly } from './browser.ts';
import { repoRoot } from './platform.ts';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const screenshots = `${repoRoot}test-results/console`;
export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  seen: { external: string[]; local: string[] };
  /** Uncaught errors and Content-Security-Policy violations: none is expected. */
  problems: string[];
  /** The access tokens the sign-in and token routes handed to the page. */
  tokens: string[];
}

/**
 * A fresh browser context on the console: it may reach the server only, may use the clipboard,
 * accepts confirmation dialogs, and records page errors, policy violations and access tokens.
 */
export async function openConsole(browser: Browser, serverUrl: string): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: desktop });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serverUrl });
  const seen = await localOnly(context, serverUrl);
  const page = await context.newPage();
  const problems: string[] = [];
  const tokens: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
  page.on('dialog', (dialog) => void dialog.accept());
  page.on('response', async (response) => {
    if (/\/console\/(sign-in|token)$/.test(response.url()) && response.request().method() === 'POST' && response.ok())
      tokens.push(((await response.json()) as { access_token: string }).access_token);
  });
  return { page, context, seen, problems, tokens };
}

export async function signInToConsole(page: Page, serverUrl: string, username: string, password: string) {
  await page.goto(`${serverUrl}/console`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Opens a section from the navigation and waits for its heading. */
export async function go(page: Page, link: string, heading = link) {
  await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; nodes: Array<{ target: string[] }> }>;
}

/** Screenshots at desktop and phone width, with axe-core's check and no sideways scrolling on the phone. */
export async function inspect(page: Page, name: string, ready: () => Promise<unknown>) {
  for (const [label, size] of [
    ['desktop', desktop],
    ['phone', phone],
  ] as const) {
    await page.setViewportSize(size);
    await ready();
    // Evaluated through the DevTools protocol, so the page's own policy (no inline scripts) still holds for it.
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResult> } }).axe;
      const result = await axe.run(document, { resultTypes: ['violations'] });
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `${name} (${label}) accessibility`);
    if (label === 'phone') {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} scrolls sideways on a phone by ${overflow}px`);
    }
    await page.screenshot({ path: `${screenshots}/${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize(desktop);
}
