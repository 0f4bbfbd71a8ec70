import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, passwordGrant } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { mintToken, publishAgent, startPublicServer, type PublicServer } from '../e2e/public-agents-helpers.ts';

/**
 * OWASP API6:2023, unrestricted access to sensitive business flows: the flows a bot would run in
 * bulk are throttled per address or visitor, exactly, even when the requests arrive at once.
 * Also covered: sign-up limits and admin exemption in test/e2e/platform-users.test.ts, password
 * guessing in test/e2e/login-throttle.test.ts, public messages per visitor and per key in
 * test/e2e/public-agents-abuse.test.ts, keys per user in test/e2e/key-children.test.ts.
 */
for (const dialect of dialects) {
  describe(`API6 sensitive flows: sign-up and token minting are throttled, also under a burst (${dialect})`, () => {
    let chat: PublicServer;
    let server: TestServer;
    before(async () => {
      chat = await startPublicServer(dialect, {
        env: { CAUSERIE_SIGNUP_LIMIT: '5', CAUSERIE_PUBLIC_VISITOR_REQUESTS_PER_MINUTE: '7' },
      });
      server = chat.server;
    });
    after(() => chat.stop());

    test('30 sign-ups sent at once from one address: exactly CAUSERIE_SIGNUP_LIMIT accounts are made', async () => {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          server.api('/users', {
            method: 'POST',
            body: { username: `bot-${i}`, password: 'a-long-enough-password' },
            auth: null,
          }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      assert.equal(statuses.filter((s) => s === 201).length, 5, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 429).length, 25);
      assert.ok(answers.find((a) => a.status === 429)!.headers.get('retry-after'));
      const users = await server.api('/api/v1/users?limit=100');
      assert.equal(users.body.filter((u: { username: string }) => u.username.startsWith('bot-')).length, 5);
    });

    test('30 client tokens asked at once by one visitor: exactly their per-minute allowance is minted', async () => {
      // The shopkeeper is made by the admin: this address has used its sign-ups above.
      const shopkeeper = await server.api('/users', {
        method: 'POST',
        body: { username: 'shopkeeper', password: 'shopkeeper-password-123' },
      });
      assert.equal(shopkeeper.status, 201, shopkeeper.text);
      const published = await publishAgent(server, {
        owner: {
          id: shopkeeper.body.id,
          uuid: shopkeeper.body.uuid,
          username: 'shopkeeper',
          password: 'shopkeeper-password-123',
          basic: basic('shopkeeper', 'shopkeeper-password-123'),
        },
      });
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => mintToken(server, published.key, published.agent.id)),
      );
      const statuses = answers.map((a) => a.status);
      assert.equal(statuses.filter((s) => s === 200).length, 7, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 429).length, 23);
    });

    test('signing in many times with the right password works, and each sign-in can be ended', async () => {
      // Not throttled (a right password gives its reservation back), but every sign-in is revocable at once.
      const user = await server.api('/users', {
        method: 'POST',
        body: { username: 'many-logins', password: 'a-long-enough-password' },
        auth: server.adminKey,
      });
      assert.equal(user.status, 201, user.text);
      const grants = await Promise.all(
        Array.from({ length: 5 }, () => passwordGrant(server, 'many-logins', 'a-long-enough-password')),
      );
      const me = await server.api('/api/v1/me/sign-out-everywhere', { method: 'POST', auth: grants[0]!.access_token });
      assert.equal(me.status, 200, me.text);
      for (const grant of grants)
        assert.equal((await server.api('/api/v1/me', { auth: grant.access_token })).status, 401);
    });
  });
}
