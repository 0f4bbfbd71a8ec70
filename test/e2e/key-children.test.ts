import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, ManualClock, startTestServer, type TestServer } from '../helpers/server.ts';
import { createKey, signUp, type SignedUpUser } from '../helpers/platform.ts';
import { chat } from '../limits/http-helpers.ts';

const day = 86_400_000;

// A key could mint keys that escaped it: unlimited children of a limited key, children that
// outlived an expiring key. A key created with a key now stays inside it.
for (const dialect of dialects) {
  describe(`keys created with keys stay inside their parent (${dialect})`, () => {
    const clock = new ManualClock();
    let server: TestServer;
    let owner: SignedUpUser;
    before(async () => {
      server = await startTestServer({
        dialect,
        clock,
        env: { CAUSERIE_MOCK_PROVIDER: 'true', CAUSERIE_MAX_KEYS_PER_USER: '12' },
      });
      owner = await signUp(server, 'olga');
    });
    after(() => server.stop());

    test('a child of a key limited to 2 requests a day shares those 2, whatever its own limits', async () => {
      const parent = await createKey(server, owner.basic, { name: 'limited', limits: { requests_per_day: 2 } });
      const child = await createKey(server, parent.key, { name: 'escape attempt' });
      const grandchild = await createKey(server, child.key, { name: 'deeper' });
      const statuses = [];
      for (const key of [grandchild.key, child.key, grandchild.key, parent.key])
        statuses.push((await chat(server.url, key, 'hello')).status);
      assert.deepEqual(statuses, [200, 200, 429, 429]);
      clock.advance(day);
      assert.equal((await chat(server.url, child.key, 'a new day')).status, 200);
    });

    test('a child never outlives an expiring parent', async () => {
      const parent = await createKey(server, owner.basic, { expires_in_days: 1 });
      const child = await createKey(server, parent.key, { expires_in_days: 30 });
      const forever = await createKey(server, parent.key, {});
      assert.equal(child.body.expires_at, parent.body.expires_at);
      assert.equal(forever.body.expires_at, parent.body.expires_at);
      const shorter = await createKey(server, parent.key, {
        expires_at: new Date(clock.now() + 3_600_000).toISOString(),
      });
      assert.equal(shorter.body.expires_at, new Date(clock.now() + 3_600_000).toISOString());
      clock.advance(day + 1);
      for (const key of [parent.key, child.key, forever.key])
        assert.equal((await server.api('/api/v1/me', { auth: key })).status, 401);
    });

    test('revoking a key revokes the keys created with it, and theirs', async () => {
      const parent = await createKey(server, owner.basic);
      const child = await createKey(server, parent.key);
      const grandchild = await createKey(server, child.key);
      const sibling = await createKey(server, owner.basic);
      assert.equal(
        (await server.api(`/api/v1/keys/${parent.id}`, { method: 'DELETE', auth: owner.basic })).status,
        200,
      );
      for (const key of [parent.key, child.key, grandchild.key]) {
        const response = await server.api('/api/v1/me', { auth: key });
        assert.equal(response.status, 401);
        assert.equal(response.body.detail, 'This API key has been revoked');
      }
      assert.equal((await server.api('/api/v1/me', { auth: sibling.key })).status, 200);
    });

    test('a user holds at most CAUSERIE_MAX_KEYS_PER_USER live keys; revoking one makes room', async () => {
      const many = await signUp(server, 'many');
      const keys = [];
      for (let i = 0; i < 12; i++) keys.push(await createKey(server, many.basic));
      const refused = await server.api('/api/v1/keys', { method: 'POST', body: {}, auth: many.basic });
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, /12 live API keys/);
      await server.api(`/api/v1/keys/${keys[0]!.id}`, { method: 'DELETE', auth: many.basic });
      assert.equal((await server.api('/api/v1/keys', { method: 'POST', body: {}, auth: many.basic })).status, 201);
    });
  });
}
