import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loginWindowMs } from '../../src/domain/auth/login-throttle.ts';
import { ManualClock, redisUrl, startTestServer, type Dialect, type TestServer } from '../helpers/server.ts';

const basic = (username: string, password: string) =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

// Password guessing is slowed per username and address, in process and through Redis (cluster mode).
const modes: Array<{ dialect: Dialect; redis: boolean }> = [
  { dialect: 'sqlite', redis: false },
  { dialect: 'postgres', redis: true },
];

for (const mode of modes) {
  describe(`failed sign-ins are throttled (${mode.dialect}${mode.redis ? ' + Redis' : ''})`, () => {
    const clock = new ManualClock(Date.parse('2026-03-01T10:00:00.000Z'));
    let server: TestServer;
    before(async () => {
      const env: Record<string, string> = {
        CAUSERIE_LOGIN_FAILURE_LIMIT: '3',
        CAUSERIE_LOGIN_ADDRESS_FAILURE_LIMIT: '20',
      };
      if (mode.redis)
        Object.assign(env, {
          REDIS_URL: redisUrl,
          CAUSERIE_REDIS_PREFIX: `causerie-test-${process.pid}-${Date.now()}:`,
        });
      server = await startTestServer({ dialect: mode.dialect, env, clock });
      for (const username of ['carol', 'dave', 'erin', 'frank', 'gina']) {
        const created = await server.api('/users', {
          method: 'POST',
          body: { username, password: `${username}-password` },
        });
        assert.equal(created.status, 201, created.text);
      }
    });
    after(() => server.stop());

    test('after the limit of wrong passwords, even the right one waits for the window to end', async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        assert.equal((await server.api('/api/v1/me', { auth: basic('carol', 'wrong') })).status, 401);
      }
      const locked = await server.api('/api/v1/me', { auth: basic('carol', 'carol-password') });
      assert.equal(locked.status, 429, locked.text);
      assert.equal(locked.body.code, 'rate_limited');
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
      const token = await server.api('/oauth/token', {
        method: 'POST',
        auth: null,
        body: { grant_type: 'password', username: 'Carol', password: 'carol-password' },
      });
      assert.equal(token.status, 429, token.text);

      // Other accounts and other credentials are not affected.
      assert.equal((await server.api('/api/v1/me', { auth: basic('dave', 'dave-password') })).status, 200);
      assert.equal((await server.api('/api/v1/me')).status, 200);

      clock.advance(loginWindowMs);
      assert.equal((await server.api('/api/v1/me', { auth: basic('carol', 'carol-password') })).status, 200);
    });

    test('wrong passwords through the OAuth password grant count too', async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const response = await server.api('/oauth/token', {
          method: 'POST',
          auth: null,
          body: { grant_type: 'password', username: 'frank', password: 'wrong' },
        });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_grant');
      }
      assert.equal((await server.api('/api/v1/me', { auth: basic('frank', 'frank-password') })).status, 429);
      // Credentials verified a moment ago are not a guess: dave, who signed in above, is not locked out by guesses at his name.
      for (let attempt = 0; attempt < 3; attempt++)
        await server.api('/api/v1/me', { auth: basic('dave', `guess-${attempt}`) });
      assert.equal((await server.api('/api/v1/me', { auth: basic('dave', 'dave-password') })).status, 200);
    });

    test("the same credentials sent together share one check: a Basic client's concurrent requests are not a burst of guesses", async () => {
      clock.advance(loginWindowMs);
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () =>
          server.api('/api/v1/me', { auth: basic('gina', 'gina-password') }).then((r) => r.status),
        ),
      );
      assert.deepEqual(new Set(statuses), new Set([200]));
    });

    test('200 wrong passwords sent at once with the right one: no more than the limit are checked', async () => {
      clock.advance(loginWindowMs);
      const attempts = [...Array.from({ length: 200 }, (_, i) => `wrong-${i}`), 'erin-password'];
      const statuses = await Promise.all(
        attempts.map((password) => server.api('/api/v1/me', { auth: basic('erin', password) }).then((r) => r.status)),
      );
      const checked = statuses.filter((status) => status !== 429);
      assert.ok(checked.length <= 3, `checked ${checked.length} passwords: ${checked.join(',')}`);
      assert.equal(statuses.filter((status) => status === 429).length, attempts.length - checked.length);
    });

    test('password spraying: wrong passwords for many usernames from one address hit the per-address cap', async () => {
      clock.advance(loginWindowMs);
      for (let i = 0; i < 20; i++) {
        assert.equal((await server.api('/api/v1/me', { auth: basic(`nobody${i}`, 'guess') })).status, 401);
      }
      const sprayed = await server.api('/api/v1/me', { auth: basic('nobody-else', 'guess') });
      assert.equal(sprayed.status, 429, sprayed.text);
      assert.match(sprayed.body.detail, /from this address/);
      // The cap is the address's: new sign-ins from it wait for the window, API keys still work.
      assert.equal((await server.api('/api/v1/me', { auth: basic('carol', 'carol-password-typo') })).status, 429);
      assert.equal((await server.api('/api/v1/me')).status, 200);
      clock.advance(loginWindowMs);
      assert.equal((await server.api('/api/v1/me', { auth: basic('carol', 'carol-password') })).status, 200);
    });

    test('a right password gives its reservation back: signing in many times never locks anyone out', async () => {
      clock.advance(loginWindowMs);
      for (let i = 0; i < 25; i++)
        assert.equal((await server.api('/api/v1/me', { auth: basic('dave', 'dave-password') })).status, 200);
    });
  });
}
