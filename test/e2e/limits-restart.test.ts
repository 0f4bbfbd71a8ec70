import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { createKey, signUp } from '../helpers/platform.ts';
import { createTestDatabase, ManualClock, type TestServer } from '../helpers/server.ts';
import { chat } from '../limits/http-helpers.ts';

describe('a restart in embedded mode', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("keeps the day's usage: a key's daily quota is not handed out again", async () => {
    const database = await createTestDatabase('sqlite');
    cleanups.push(() => database.drop());
    const env = {
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
      CAUSERIE_MOCK_PROVIDER: 'true',
      ...database.env,
    };
    const clock = new ManualClock(Date.parse('2026-06-02T21:00:00.000Z'));
    let adminKey = '';
    const start = async () => {
      const server = await startServer(loadConfig(env), {
        clock,
        logger: false,
        print: (text) => (adminKey ||= /API_[A-Z0-9_]+/.exec(text)?.[0] ?? ''),
      });
      // Enough of TestServer for the platform helpers.
      const api: TestServer['api'] = async (path, { method = 'GET', body, auth = adminKey } = {}) => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(auth ? { authorization: auth.includes(' ') ? auth : `Bearer ${auth}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined, text };
      };
      return { server, test: { ...server, api } as unknown as TestServer };
    };

    let running: { server: RunningServer; test: TestServer } = await start();
    const user = await signUp(running.test, 'restarted');
    const key = await createKey(running.test, user.basic, { limits: { requests_per_day: 3 } });
    assert.equal((await chat(running.server.url, key.key, 'first')).status, 200);
    assert.equal((await chat(running.server.url, key.key, 'second')).status, 200);
    await running.server.close();

    running = await start();
    cleanups.push(() => running.server.close());
    const shown = await running.test.api(`/api/v1/keys/${key.id}`, { auth: user.basic });
    assert.deepEqual(shown.body.limits_remaining, { requests_per_day: 1 });
    const third = await chat(running.server.url, key.key, 'third');
    assert.equal(third.status, 200);
    assert.equal(third.headers.get('x-ratelimit-remaining'), '0');
    const fourth = await chat(running.server.url, key.key, 'fourth');
    assert.equal(fourth.status, 429);
    assert.equal(fourth.headers.get('retry-after'), String(3 * 3600));

    // Midnight UTC: a new day, a new quota.
    clock.set(Date.parse('2026-06-03T00:00:00.000Z'));
    assert.equal((await chat(running.server.url, key.key, 'tomorrow')).status, 200);
  });
});
