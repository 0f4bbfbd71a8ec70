import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { launchChromium, localOnly } from '../helpers/browser.ts';

describe('pages and API docs in a real browser (chromium)', () => {
  let server: TestServer;
  let chromium: { browser: Browser; close(): Promise<void> };
  let operations: Array<{ method: string; path: string; summary: string }>;

  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
    chromium = await launchChromium();
    const document = (await server.api('/api/v1/openapi.json')).body;
    operations = Object.entries<Record<string, { summary: string }>>(document.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, operation]) => ({ method, path, summary: operation.summary })),
    );
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  /** A fresh page that may talk to the test server only; page errors are collected. */
  async function openPage(): Promise<{
    page: Page;
    context: BrowserContext;
    seen: { external: string[]; local: string[] };
    errors: string[];
  }> {
    const context = await chromium.browser.newContext();
    const seen = await localOnly(context, server.url);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, context, seen, errors };
  }

  test('the home page says what the server is, lists the models and links to both docs', async () => {
    const { page, context, seen, errors } = await openPage();
    try {
      const response = await page.goto(`${server.url}/`);
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), 'Causerie');
      assert.equal(await page.locator('h1').textContent(), 'Causerie');
      assert.match((await page.locator('body').textContent()) ?? '', /self-hostable chat API server/);
      assert.equal(await page.locator('h2', { hasText: 'Models' }).count(), 1);
      const rows = page.locator('table tbody tr');
      assert.deepEqual(await rows.filter({ hasText: 'mock/echo' }).locator('td').allTextContents(), [
        'mock/echo',
        'mock',
        'available',
      ]);
      for (const model of await server.services.models.list())
        assert.equal(await rows.filter({ hasText: model.id }).count(), 1, model.id);
      for (const href of ['/api/v1/docs', '/api/v1/redoc', '/api/v1/openapi.json', '/about']) {
        assert.ok((await page.locator(`a[href="${href}"]`).count()) >= 1, href);
      }
      // Following the "API docs" link lands on Swagger UI.
      await page.locator('nav a', { hasText: 'API docs' }).click();
      await page.waitForURL(`${server.url}/api/v1/docs`);
      await page.locator('.opblock').first().waitFor();
      assert.deepEqual(seen.external, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('/about renders', async () => {
    const { page, context, seen } = await openPage();
    try {
      assert.equal((await page.goto(`${server.url}/about`))?.status(), 200);
      assert.equal(await page.locator('h1').textContent(), 'About Causerie');
      assert.match((await page.locator('body').textContent()) ?? '', new RegExp(`Causerie ${server.services.version}`));
      assert.deepEqual(seen.external, []);
    } finally {
      await context.close();
    }
  });

  test('/admin sends the browser to the Rickroll', async () => {
    const { page, context, seen } = await openPage();
    try {
      await page.goto(`${server.url}/admin`).catch(() => undefined); // the redirect target is blocked offline
      assert.deepEqual(seen.external, ['https://www.youtube.com/watch?v=dQw4w9WgXcQ']);
    } finally {
      await context.close();
    }
  });

  test('Swagger UI at /api/v1/docs renders every operation, from local assets only', async () => {
    const { page, context, seen, errors } = await openPage();
    try {
      assert.equal((await page.goto(`${server.url}/api/v1/docs`))?.status(), 200);
      await page.locator('.opblock').first().waitFor({ timeout: 60_000 });
      assert.equal(await page.locator('.opblock').count(), operations.length);
      for (const { method, path } of operations) {
        const block = page.locator(`.opblock-${method}`).filter({ has: page.locator(`[data-path="${path}"]`) });
        assert.equal(await block.count(), 1, `${method.toUpperCase()} ${path}`);
      }
      // Opening an operation shows its schema-driven details.
      const createKey = page.locator('.opblock-post').filter({ has: page.locator('[data-path="/api/v1/keys"]') });
      await createKey.locator('.opblock-summary').click();
      await createKey.locator('.opblock-body').waitFor();
      assert.match((await createKey.locator('.opblock-body').textContent()) ?? '', /expires_in_days/);
      assert.ok(await page.locator('.authorize').isVisible(), 'the Authorize button (security schemes) is shown');
      assert.deepEqual(seen.external, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('Redoc at /api/v1/redoc renders the reference, from local assets only', async () => {
    const { page, context, seen, errors } = await openPage();
    try {
      assert.equal((await page.goto(`${server.url}/api/v1/redoc`))?.status(), 200);
      const createKey = operations.find((o) => o.method === 'post' && o.path === '/api/v1/keys')!;
      await page.locator('h2', { hasText: createKey.summary }).first().waitFor({ timeout: 60_000 });
      for (const { summary } of operations) {
        assert.ok((await page.locator('h2', { hasText: summary }).count()) >= 1, summary);
      }
      assert.ok(seen.local.some((url) => url.endsWith('/api/v1/redoc/redoc.standalone.js')));
      assert.ok(seen.local.some((url) => url.endsWith('/api/v1/openapi.json')));
      assert.deepEqual(seen.external, []);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
