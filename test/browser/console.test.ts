import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { go, inspect, openConsole, screenshots, signInToConsole } from '../helpers/console-page.ts';
import { signUp, type SignedUpUser } from '../helpers/platform.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const today = new Date().toISOString().slice(0, 10);

describe('the web console in a real browser (chromium)', () => {
  let server: TestServer;
  let chromium: { browser: Browser; close(): Promise<void> };
  let bruno: SignedUpUser;

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startTestServer({ env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
    bruno = await signUp(server, 'bruno');
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  const open = () => openConsole(chromium.browser, server.url);
  const signIn = (page: Page, username: string, password: string) =>
    signInToConsole(page, server.url, username, password);

  test('sign in, create a key, use it like curl, see it in usage, revoke it and see it refused', async () => {
    const { page, context, seen, problems } = await open();
    try {
      await page.goto(`${server.url}/console`);
      await inspect(page, 'sign-in', () => page.getByLabel('Username').waitFor());
      // Everything the console loads comes from this server, within a small budget (docs/console.md states it).
      const files = [...new Set(seen.local.filter((url) => /^\/console(\/assets\/|$)/.test(new URL(url).pathname)))];
      let bytes = 0;
      for (const url of files) bytes += (await (await fetch(url)).arrayBuffer()).byteLength;
      writeFileSync(`${screenshots}/transfer-size.txt`, `${files.length} files, ${bytes} bytes\n`);
      assert.equal(files.length, 13, files.join(' '));
      assert.ok(bytes < 64 * 1024, `the console weighs ${bytes} bytes`);
      await page.getByLabel('Username').fill('bruno');
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Invalid username or password' }).waitFor();
      await page.getByLabel('Password').fill(bruno.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();

      // Nothing secret is kept where scripts could read it later.
      assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [
        0,
        0,
        '',
      ]);
      const cookies = await context.cookies(`${server.url}/console/token`);
      assert.deepEqual(
        cookies.map((c) => [c.name, c.path, c.httpOnly, c.sameSite]),
        [['causerie_console', '/console/token', true, 'Strict']],
      );
      assert.deepEqual(await context.cookies(`${server.url}/api/v1/keys`), [], 'the API never receives the cookie');

      await page.getByLabel('Name', { exact: true }).fill('from-test');
      await page.getByLabel('Expires in (days)').fill('30');
      await page.getByLabel('Requests per day').fill('50');
      await page.getByRole('button', { name: 'Create key' }).click();
      const shown = page.getByLabel('The new key');
      await shown.waitFor();
      const key = await shown.inputValue();
      assert.match(key, /^API_[A-Z0-9_]+$/);
      await page.getByRole('button', { name: 'Copy key' }).click();
      await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
      const row = page.getByRole('row').filter({ hasText: 'from-test' });
      assert.match((await row.textContent()) ?? '', /active/);
      assert.match((await row.textContent()) ?? '', /requests per day: 50/);
      await inspect(page, 'keys', () => row.waitFor());

      // The key works from outside the browser, like curl.
      const call = () =>
        fetch(`${server.url}/api/v1/models/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model_id: 'mock/echo', prompt: 'counted once' }),
        });
      assert.equal((await call()).status, 200);

      await go(page, 'Usage');
      const byKey = page.getByRole('region', { name: 'By key' });
      await byKey.getByRole('row').filter({ hasText: 'from-test' }).waitFor();
      assert.deepEqual(
        await byKey.getByRole('row').filter({ hasText: 'from-test' }).getByRole('cell').allTextContents(),
        ['from-test', '1', await tokensOf(key), await costText()],
      );
      const requestsChart = page.getByRole('img', { name: /^Requests per day/ });
      assert.match((await requestsChart.getAttribute('aria-label')) ?? '', /total 1 over 30 days/);
      assert.equal(await requestsChart.locator('rect title', { hasText: `${today}: 1` }).count(), 1);
      assert.equal(
        await page.getByRole('img', { name: /^Requests by key/ }).getAttribute('aria-label'),
        'Requests by key: from-test 1',
      );
      assert.equal(await page.getByLabel('Whose usage').count(), 0, 'only admins choose whose usage');
      await inspect(page, 'usage', () => requestsChart.waitFor());

      await go(page, 'Keys', 'API keys');
      assert.match((await row.textContent()) ?? '', new RegExp(`${today} \\d\\d:\\d\\d UTC`), 'last used is shown');
      await row.getByRole('button', { name: 'Revoke key from-test' }).click();
      await page.getByRole('status').filter({ hasText: 'Key from-test revoked.' }).waitFor();
      assert.match((await row.textContent()) ?? '', /revoked/);
      assert.equal(await row.getByRole('button', { name: /^Revoke/ }).count(), 0);
      const refused = await call();
      assert.equal(refused.status, 401);
      assert.match(((await refused.json()) as { detail: string }).detail, /revoked/);
      assert.deepEqual(problems, []);
      assert.deepEqual(seen.external, []);
    } finally {
      await context.close();
    }
  });

  async function tokensOf(key: string): Promise<string> {
    const report = await server.api('/api/v1/usage?group_by=key', { auth: bruno.basic });
    const line = report.body.rows.find((r: { api_key_name: string }) => r.api_key_name === 'from-test');
    assert.ok(line, `usage of ${key.slice(0, 8)}`);
    return line.total_tokens.toLocaleString('en');
  }
  async function costText(): Promise<string> {
    const report = await server.api('/api/v1/usage?group_by=key', { auth: bruno.basic });
    const cost = report.body.rows.find((r: { api_key_name: string }) => r.api_key_name === 'from-test').cost;
    return cost.toFixed(cost < 1 ? 4 : 2);
  }

  test('limits show what is left of each limit as bars', async () => {
    const plan = await server.api('/api/v1/plans', {
      method: 'POST',
      body: { name: 'console-free', limits: { requests_per_day: 100, tokens_per_day: 50_000 } },
    });
    assert.equal(plan.status, 201);
    assert.equal(
      (await server.api('/api/v1/users/bruno/plan', { method: 'PUT', body: { plan: 'console-free' } })).status,
      200,
    );
    const limited = await server.api('/api/v1/keys', {
      method: 'POST',
      auth: bruno.basic,
      body: { name: 'limited-key', limits: { requests_per_day: 10 } },
    });
    const call = await server.api('/api/v1/models/completions', {
      method: 'POST',
      auth: limited.body.key,
      body: { model_id: 'mock/echo', prompt: 'one call' },
    });
    assert.equal(call.status, 200);
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await go(page, 'Limits');
      const meter = page.getByRole('meter', { name: 'Requests today (UTC)', exact: true });
      await meter.waitFor();
      const used = (await server.api('/api/v1/limits', { auth: bruno.basic })).body.limits.find(
        (l: { scope: string }) => l.scope === 'user.requests_per_day',
      );
      assert.equal(await meter.getAttribute('max'), '100');
      assert.equal(await meter.getAttribute('value'), String(used.remaining));
      await page.getByText(`${used.remaining} left of 100`).waitFor();
      await page.getByText('Your plan: console-free.').waitFor();
      // A key's own limit, after one call with the key.
      const keyMeter = page.getByRole('meter', { name: 'Requests today (UTC) (key limited-key)' });
      assert.equal(await keyMeter.getAttribute('max'), '10');
      assert.equal(await keyMeter.getAttribute('value'), '9');
      await page.getByText('9 left of 10', { exact: true }).waitFor();
      await inspect(page, 'limits', () => meter.waitFor());
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('models: everyone sees availability, context and prices; only admins remove and restore', async () => {
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await go(page, 'Models');
      const echo = page.getByRole('row').filter({ has: page.getByText('mock/echo', { exact: true }) });
      await echo.waitFor();
      assert.match((await echo.textContent()) ?? '', /available/);
      assert.equal(await page.getByRole('button', { name: /^Remove / }).count(), 0);
      assert.equal(await page.getByRole('heading', { name: 'Removed models' }).count(), 0);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();

      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(server.adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await go(page, 'Models');
      const models = (await server.api('/api/v1/models')).body as Array<{ id: string }>;
      const victim = models.find((m) => m.id !== 'mock/echo')!;
      await page.getByRole('button', { name: `Remove ${victim.id}` }).click();
      await page.getByRole('button', { name: `Restore ${victim.id}` }).waitFor();
      assert.ok(!(await server.api('/api/v1/models')).body.some((m: { id: string }) => m.id === victim.id));
      await inspect(page, 'models', () => page.getByRole('heading', { name: 'Removed models' }).waitFor());
      await page.getByRole('button', { name: `Restore ${victim.id}` }).click();
      await page.getByRole('button', { name: `Remove ${victim.id}` }).waitFor();
      assert.ok((await server.api('/api/v1/models')).body.some((m: { id: string }) => m.id === victim.id));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test("an admin picks whose usage to see, or everyone's split by user", async () => {
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'admin', server.adminPassword);
      await go(page, 'Usage');
      await page.getByLabel('Whose usage').selectOption('bruno');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByText(/^bruno, /).waitFor();
      await page.getByRole('region', { name: 'By key' }).getByRole('row').filter({ hasText: 'from-test' }).waitFor();
      await page.getByLabel('Whose usage').selectOption('Everyone');
      await page.getByRole('button', { name: 'Show' }).click();
      const byUser = page.getByRole('region', { name: 'By user' });
      await byUser.waitFor();
      const everyone = (await server.api('/api/v1/usage?all=true&group_by=user')).body.rows;
      for (const line of everyone) {
        const cells = await byUser
          .getByRole('row')
          .filter({ hasText: line.username })
          .getByRole('cell')
          .allTextContents();
        assert.deepEqual(cells.slice(0, 2), [line.username, String(line.requests)]);
      }
      assert.ok(everyone.some((line: { username: string }) => line.username === 'bruno'));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('agents: create one, edit it, make a public key and copy the widget snippet', async () => {
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await go(page, 'Agents');
      await page.getByLabel('Name').fill('Helper');
      await page.getByLabel('Model').selectOption('mock/echo');
      await page.getByLabel('Instructions (system prompt)').fill('Answer briefly.');
      await page.getByRole('button', { name: 'Create agent' }).click();
      await page.getByRole('heading', { level: 1, name: 'Agent Helper' }).waitFor();
      await page.getByLabel('Description').fill('Answers shop questions');
      await page.getByRole('button', { name: 'Save agent' }).click();
      await page.getByRole('status').filter({ hasText: 'Agent Helper saved.' }).waitFor();
      const agents = (await server.api('/api/v1/models/agents', { auth: bruno.basic })).body;
      assert.equal(agents.length, 1);
      assert.equal(agents[0].description, 'Answers shop questions');
      assert.equal(agents[0].instructions, 'Answer briefly.');

      await page.getByLabel('Allowed origins').fill('https://shop.example');
      await page.getByRole('button', { name: 'Create public key' }).click();
      const snippet = page.getByLabel('Widget snippet');
      await snippet.waitFor();
      const text = await snippet.inputValue();
      assert.match(
        text,
        new RegExp(
          `^<script src="${server.url}/widget\\.js" data-public-key="PUB_[A-Z0-9_]+" data-agent="${agents[0].id}" data-title="Helper" async></script>$`,
        ),
      );
      await page.getByRole('button', { name: 'Copy snippet' }).click();
      await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), text);
      const keyRow = page
        .getByRole('region', { name: 'Public keys' })
        .getByRole('row')
        .filter({ hasText: 'shop.example' });
      await keyRow.waitFor();
      assert.match((await keyRow.textContent()) ?? '', /active/);

      // A page on another origin trying the key is a suspicious use the owner sees.
      const key = /data-public-key="([^"]+)"/.exec(text)![1]!;
      const refused = await fetch(`${server.url}/v1/chat/conversation/public/message/token/${agents[0].id}`, {
        headers: { authorization: `Bearer ${key}`, origin: 'https://evil.example' },
      });
      assert.equal(refused.status, 403);
      await page.reload();
      const events = page.getByRole('region', { name: /^Refused or suspicious uses/ });
      await events.getByRole('row').filter({ hasText: 'evil.example' }).waitFor();
      await inspect(page, 'agents', () => events.waitFor());
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('the playground streams an answer, with the settings it sent shown', async () => {
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await go(page, 'Playground');
      await page.getByLabel('Model or agent').selectOption('model:mock/echo');
      await page.getByLabel('Temperature').fill('0.3');
      await page
        .getByLabel('Prompt', { exact: true })
        .fill('[[chunk-delay:40]]one two three four five six seven eight');
      await page.getByRole('button', { name: 'Send' }).click();
      const answer = page.locator('#answer');
      // Part of the answer is on screen while the stream is still open.
      await page.locator('#answer[aria-busy="true"]:not(:empty)').waitFor();
      const partial = (await answer.textContent()) ?? '';
      await page.getByText(/^Finished \(stop\)/).waitFor();
      const full = (await answer.textContent()) ?? '';
      assert.equal(full, 'one two three four five six seven eight');
      assert.ok(partial.length < full.length, `streamed: "${partial}" came before "${full}"`);
      const sent = JSON.parse(
        ((await page.getByLabel('Request sent').textContent()) ?? '').split('\n').slice(1).join('\n'),
      );
      assert.deepEqual(sent, {
        model_id: 'mock/echo',
        prompt: '[[chunk-delay:40]]one two three four five six seven eight',
        temperature: 0.3,
        max_tokens: 512,
        stream: true,
      });

      // Stop ends a stream the model would never finish.
      await page.getByLabel('Prompt', { exact: true }).fill('[[hang]]never ending story');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.getByText('Answering with mock/echo…', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Stop' }).click();
      await page.getByText('Stopped.', { exact: true }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);

      // An agent answers the same way.
      await page.getByLabel('Model or agent').selectOption({ label: 'Helper (agent)' });
      await page.getByLabel('Prompt', { exact: true }).fill('bonjour');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.getByText(/^Finished \(stop\)/).waitFor();
      assert.equal(await answer.textContent(), 'bonjour');
      await inspect(page, 'playground', () => answer.waitFor());
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('conversations: list, search, read, export as JSON and Markdown, delete', async () => {
    const session = await server.api('/api/v1/sessions', {
      method: 'POST',
      auth: bruno.basic,
      body: { title: 'Trip to Lisbon', model_id: 'mock/echo' },
    });
    assert.equal(session.status, 201);
    const asked = await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, {
      method: 'POST',
      auth: bruno.basic,
      body: { prompt: 'Where should we eat pastel de nata?' },
    });
    assert.equal(asked.status, 200);
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await go(page, 'Conversations');
      const link = page.getByRole('link', { name: 'Trip to Lisbon' });
      await link.waitFor();
      await inspect(page, 'conversations', () => link.waitFor());

      await page.getByLabel('Search your messages').fill('nata');
      await page.getByRole('button', { name: 'Search' }).click();
      const hits = page.getByRole('region', { name: 'Messages matching “nata”' });
      await hits.getByRole('link', { name: 'Trip to Lisbon' }).first().waitFor();
      assert.ok((await hits.locator('mark', { hasText: 'nata' }).count()) >= 1);

      await hits.getByRole('link', { name: 'Trip to Lisbon' }).first().click();
      await page.getByRole('heading', { level: 1, name: 'Trip to Lisbon' }).waitFor();
      const messages = page.getByRole('list', { name: 'Messages' }).getByRole('listitem');
      assert.equal(await messages.count(), 2);
      assert.match((await messages.nth(1).textContent()) ?? '', /assistant · mock\/echo/);

      const json = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Export JSON' }).click();
      const exported = JSON.parse(readFileSync(await (await json).path(), 'utf8'));
      assert.equal(exported.session.title, 'Trip to Lisbon');
      assert.deepEqual(
        exported.messages.map((m: { role: string; content: string }) => [m.role, m.content]),
        [
          ['user', 'Where should we eat pastel de nata?'],
          ['assistant', 'Where should we eat pastel de nata?'],
        ],
      );
      const markdown = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Export Markdown' }).click();
      const download = await markdown;
      assert.equal(download.suggestedFilename(), `conversation-${session.body.id}.md`);
      const text = readFileSync(await download.path(), 'utf8');
      assert.match(text, /^# Trip to Lisbon\n/);
      assert.match(text, /## user — .*\n\nWhere should we eat pastel de nata\?\n/);
      await inspect(page, 'conversation', () => messages.first().waitFor());

      await page.getByRole('button', { name: 'Delete conversation' }).click();
      await page.getByRole('heading', { level: 1, name: 'Conversations' }).waitFor();
      await page.getByRole('status').filter({ hasText: 'Conversation deleted.' }).waitFor();
      assert.equal((await server.api(`/api/v1/sessions/${session.body.id}`, { auth: bruno.basic })).status, 404);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test("an ordinary user reaches neither another user's data nor the admin controls", async () => {
    const admins = await server.api('/api/v1/sessions', { method: 'POST', body: { title: 'Admin only' } });
    assert.equal(admins.status, 201);
    const { page, context } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      await page.goto(`${server.url}/console#/usage?user=admin`);
      await page.getByRole('alert').filter({ hasText: 'not found (404)' }).waitFor();
      await page.goto(`${server.url}/console#/usage?all=true`);
      await page.getByRole('alert').filter({ hasText: '(403)' }).waitFor();
      await page.goto(`${server.url}/console#/conversations/${admins.body.id}`);
      await page.getByRole('alert').filter({ hasText: '(404)' }).waitFor();
      assert.equal(await page.getByText('Admin only').count(), 0);
      await go(page, 'Conversations');
      assert.equal(await page.getByRole('link', { name: 'Admin only' }).count(), 0);
      // The page's token is an ordinary user's: admin routes refuse it whatever the page does.
      const status = await page.evaluate(async () => {
        const response = await fetch('/console/token', { method: 'POST' });
        const { access_token } = await response.json();
        return (await fetch('/api/v1/models/removed', { headers: { authorization: `Bearer ${access_token}` } })).status;
      });
      assert.equal(status, 403);
    } finally {
      await context.close();
    }
  });

  test('signing in by keyboard; a reload keeps the sign-in (the cookie renews it); signing out revokes it', async () => {
    const { page, context, tokens, problems } = await open();
    try {
      // Keyboard only: the focus starts in the username box, Tab moves on, Enter submits.
      await page.goto(`${server.url}/console`);
      await page.getByLabel('Username').waitFor();
      await page.keyboard.type('bruno');
      await page.keyboard.press('Tab');
      await page.keyboard.type(bruno.password);
      await page.keyboard.press('Enter');
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await page.reload();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      assert.equal(tokens.length, 2, 'one token from the sign-in, one from the renewal after the reload');
      for (const token of tokens) assert.equal((await server.api('/api/v1/me', { auth: token })).status, 200);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByRole('status').filter({ hasText: 'Signed out.' }).waitFor();
      for (const token of tokens) assert.equal((await server.api('/api/v1/me', { auth: token })).status, 401);
      assert.deepEqual(await context.cookies(`${server.url}/console/token`), []);
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('two console tabs opening at once both stay signed in (renewals take turns with a single-use refresh token)', async () => {
    const { page, context, problems } = await open();
    try {
      await signIn(page, 'bruno', bruno.password);
      const second = await context.newPage();
      const third = await context.newPage();
      await Promise.all([page.reload(), second.goto(`${server.url}/console`), third.goto(`${server.url}/console`)]);
      for (const tab of [page, second, third]) {
        await tab.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
        assert.equal(await tab.getByRole('button', { name: 'Sign out' }).count(), 1);
      }
      // Still one live sign-in: the cookie renews again.
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
