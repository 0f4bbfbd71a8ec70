import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { repoRoot } from '../helpers/platform.ts';
import { ManualClock, type TestServer } from '../helpers/server.ts';
import {
  publishAgent,
  startPublicServer,
  type PublicServer,
  type PublishedAgent,
} from '../e2e/public-agents-helpers.ts';
import type { WireSession } from '../helpers/wire.ts';

/** A site owner's page on its own loopback origin, embedding the widget exactly as the docs say. */
async function startSite(snippet: (variant: string) => string): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://site');
    if (url.pathname !== '/') {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    // The page's own styles are hostile on purpose: the widget's shadow root must not care.
    response.end(`<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>La boutique</title>
<style>*{font-family:serif!important;color:red!important} button{display:none!important}</style></head>
<body><h1>La boutique</h1><p>Bienvenue.</p>${snippet(url.searchParams.get('variant') ?? '')}</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('the public agent widget in a real browser (chromium)', () => {
  let running: PublicServer;
  let server: TestServer;
  let chromium: { browser: Browser; close(): Promise<void> };
  let allowed: Awaited<ReturnType<typeof startSite>>;
  let refused: Awaited<ReturnType<typeof startSite>>;
  let published: PublishedAgent;
  let limited: PublishedAgent;
  const snippet = (variant: string) => {
    const chosen = variant === 'limited' ? limited : published;
    return `<script src="${server.url}/widget.js" data-public-key="${chosen.key}" data-agent="${chosen.agent.id}" data-title="Conseiller" async></script>`;
  };

  before(async () => {
    // A still clock: a minute cannot turn in the middle of the rate-limit test.
    running = await startPublicServer('sqlite', { clock: new ManualClock(Date.now()) });
    server = running.server;
    allowed = await startSite(snippet);
    refused = await startSite(snippet);
    published = await publishAgent(server, { origins: [allowed.origin] });
    limited = await publishAgent(server, {
      username: 'dominique',
      origins: [allowed.origin],
      body: { visitor_limits: { requests_per_minute: 2 } },
    });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await allowed?.close();
    await refused?.close();
    await running?.stop();
  });

  /** A page that may reach the site and Causerie only; anything else is recorded and aborted. */
  async function openPage(context: BrowserContext): Promise<{ page: Page; external: string[]; errors: string[] }> {
    const hosts = new Set([new URL(server.url).host, new URL(allowed.origin).host, new URL(refused.origin).host]);
    const external: string[] = [];
    await context.route('**/*', async (route) => {
      if (hosts.has(new URL(route.request().url()).host)) await route.continue();
      else {
        external.push(route.request().url());
        await route.abort('blockedbyclient');
      }
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, external, errors };
  }

  test('a visitor chats with the agent, answers stream in, and the conversation survives a reload', async () => {
    const context = await chromium.browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const { page, external, errors } = await openPage(context);
      await page.goto(`${allowed.origin}/`);
      const launcher = page.getByRole('button', { name: 'Open chat' });
      await launcher.waitFor();
      assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
      // Keyboard: focus the launcher, open with Enter, the message box gets the focus.
      await launcher.focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Conseiller' });
      await dialog.waitFor();
      const box = page.getByRole('textbox', { name: 'Your message' });
      assert.equal(
        await box.evaluate((element) => element === (element.getRootNode() as ShadowRoot).activeElement),
        true,
      );

      // Every state the answers' text goes through, as the visitor would see it.
      await page.evaluate(() => {
        const log = document.querySelector('[data-causerie-widget]')!.shadowRoot!.querySelector('.log')!;
        const seen: string[] = [];
        (window as Window & { seenAnswers?: string[] }).seenAnswers = seen;
        new MutationObserver(() => {
          const last = log.querySelector('li.assistant:last-of-type');
          if (last && last.textContent !== seen.at(-1)) seen.push(last.textContent ?? '');
        }).observe(log, { childList: true, subtree: true, characterData: true });
      });
      const answers = ['Bonjour ! Nous ouvrons à 9 h.', 'Oui, la livraison est offerte dès 50 €.'];
      const questions = [
        `Quand ouvrez-vous ? [[reply:${answers[0]}]] [[chunk-delay:20]]`,
        `Livrez-vous ? [[reply:${answers[1]}]] [[chunk-delay:20]]`,
      ];
      for (const [index, question] of questions.entries()) {
        await box.fill(question);
        await page.keyboard.press('Enter');
        const answer = dialog.locator('li.assistant').nth(index);
        await answer.filter({ hasText: answers[index]! }).waitFor();
        await page.waitForFunction(
          (n) =>
            !document
              .querySelector('[data-causerie-widget]')!
              .shadowRoot!.querySelectorAll('li.assistant')
              [n]!.hasAttribute('aria-busy'),
          index,
        );
      }
      assert.deepEqual(await dialog.locator('li.assistant').allTextContents(), answers);
      // Streamed: the visitor saw each answer grow, not appear whole.
      const seen: string[] = await page.evaluate(
        () => (window as Window & { seenAnswers?: string[] }).seenAnswers ?? [],
      );
      for (const answer of answers) {
        assert.ok(
          seen.some((text) => text.length > 0 && text.length < answer.length && answer.startsWith(text)),
          `a part of "${answer}" was shown first: ${JSON.stringify(seen)}`,
        );
      }
      assert.equal(await dialog.locator('li.user').count(), 2);
      // The answers streamed: each was asked for as Server-Sent Events.
      const sent = running.upstream
        .chatRequests()
        .slice(-2)
        .map((r) => r.body.stream);
      assert.deepEqual(sent, [true, true]);
      // The page's hostile styles did not reach the widget.
      assert.equal(await page.getByRole('button', { name: 'Send' }).isVisible(), true);
      mkdirSync(`${repoRoot}test-results`, { recursive: true });
      await page.screenshot({ path: `${repoRoot}test-results/public-widget-open.png` });

      // Escape closes and gives the focus back to the launcher.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(
        await page
          .getByRole('button', { name: 'Open chat' })
          .evaluate((element) => element === (element.getRootNode() as ShadowRoot).activeElement),
        true,
      );

      await page.reload();
      await page.getByRole('button', { name: 'Open chat' }).click();
      const again = page.getByRole('dialog', { name: 'Conseiller' });
      await again.locator('li.assistant').nth(1).waitFor();
      assert.deepEqual(await again.locator('li.msg').allTextContents(), [
        questions[0],
        answers[0],
        questions[1],
        answers[1],
      ]);
      // Still one conversation for this visitor: the owner sees one public conversation.
      const sessions = (await server.api('/api/v1/sessions', { auth: published.owner.basic })).body.filter(
        (s: WireSession) => s.metadata.public,
      );
      assert.equal(sessions.length, 1);
      assert.deepEqual(external, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('the same page on an origin the key does not allow gets no token, and the widget says so', async () => {
    const context = await chromium.browser.newContext();
    try {
      const { page, external } = await openPage(context);
      await page.goto(`${refused.origin}/`);
      await page.getByRole('button', { name: 'Open chat' }).click();
      const status = page.getByRole('status');
      await status.filter({ hasText: 'This chat is not available on this page.' }).waitFor();
      const stored = await page.evaluate(() => JSON.stringify(localStorage));
      assert.ok(!stored.includes('pct_'), 'no client token was stored');
      const events = (
        await server.api(`/api/v1/agents/${published.agent.id}/public-events`, { auth: published.owner.basic })
      ).body;
      // Whether the browser stopped at the preflight or the server refused the token, nothing was minted.
      for (const event of events)
        assert.deepEqual([event.reason, event.origin], ['origin_not_allowed', refused.origin]);
      const tokens = await server.services.sql.db.selectFrom('public_tokens').select('origin').execute();
      assert.ok(tokens.every((t) => t.origin === allowed.origin));
      assert.deepEqual(external, []);
    } finally {
      await context.close();
    }
  });

  test('a visitor who sends too fast is told, in plain words, how long to wait', async () => {
    const context = await chromium.browser.newContext();
    try {
      const { page, external, errors } = await openPage(context);
      await page.goto(`${allowed.origin}/?variant=limited`);
      await page.getByRole('button', { name: 'Open chat' }).click();
      const dialog = page.getByRole('dialog', { name: 'Conseiller' });
      const box = page.getByRole('textbox', { name: 'Your message' });
      // The token was the visitor's first request of the minute, this message the second.
      await box.fill('Premier [[reply:Bien reçu.]]');
      await box.press('Enter');
      await dialog.locator('li.assistant').filter({ hasText: 'Bien reçu.' }).waitFor();
      await box.fill('Second');
      await box.press('Enter');
      await page
        .getByRole('status')
        .filter({ hasText: /^You are sending messages too quickly\. Please wait \d+ seconds and try again\.$/ })
        .waitFor();
      assert.equal(await dialog.locator('li.assistant').count(), 1);
      assert.deepEqual(external, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
