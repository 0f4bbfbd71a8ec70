import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, passwordGrant, signUp } from '../helpers/platform.ts';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

for (const dialect of dialects) {
  describe(`checked credentials are remembered, and forgotten when they change (${dialect})`, () => {
    let cached: TestServer;
    let uncached: TestServer;
    before(async () => {
      cached = await startTestServer({ dialect });
      uncached = await startTestServer({ dialect, env: { CAUSERIE_AUTH_CACHE_SIZE: '0' } });
    });
    after(async () => {
      await cached?.stop();
      await uncached?.stop();
    });

    /** Revokes a key in the database directly, as no Causerie process would: no event tells anyone. */
    const revokeBehindTheServersBack = (server: TestServer, id: number) =>
      server.services.sql.db
        .updateTable('api_keys')
        .set({ revoked_at: new Date().toISOString() })
        .where('id', '=', id)
        .execute();

    test('a key already checked is not looked up again until its TTL; with the cache off it is, every time', async () => {
      for (const [server, stillAccepted] of [
        [cached, 200],
        [uncached, 401],
      ] as const) {
        const user = await signUp(server, `remembered-${stillAccepted}`);
        const key = await createKey(server, user.basic);
        assert.equal((await server.api('/api/v1/me', { auth: key.key })).status, 200);
        await revokeBehindTheServersBack(server, key.id);
        assert.equal((await server.api('/api/v1/me', { auth: key.key })).status, stillAccepted);
      }
    });

    test('revoking, disabling, signing out and changing a password end cached credentials at once', async () => {
      const user = await signUp(cached, `forgotten-${dialect}`);
      const first = await createKey(cached, user.basic);
      const second = await createKey(cached, user.basic);
      const signIn = await passwordGrant(cached, user.username, user.password);
      const status = async (auth: string) => (await cached.api('/api/v1/me', { auth })).status;
      for (const auth of [first.key, second.key, `Bearer ${signIn.access_token}`])
        assert.equal(await status(auth), 200);

      assert.equal((await cached.api(`/api/v1/keys/${first.id}`, { method: 'DELETE', auth: user.basic })).status, 200);
      assert.equal(await status(first.key), 401, 'revoked key');
      assert.equal(await status(second.key), 200, 'the other key is untouched');

      const signOut = await cached.api('/api/v1/me/sign-out-everywhere', { method: 'POST', auth: user.basic });
      assert.equal(signOut.status, 200);
      assert.equal(await status(`Bearer ${signIn.access_token}`), 401, 'signed-out access token');
      assert.equal(await status(second.key), 200, 'API keys are not sign-ins');

      const again = await passwordGrant(cached, user.username, user.password);
      assert.equal(await status(`Bearer ${again.access_token}`), 200);
      const change = await cached.api('/api/v1/me/password', {
        method: 'PUT',
        auth: user.basic,
        body: { current_password: user.password, new_password: 'another-password-123' },
      });
      assert.equal(change.status, 200);
      assert.equal(await status(`Bearer ${again.access_token}`), 401, 'access token of the old password');

      assert.equal(
        (await cached.api(`/api/v1/users/${user.id}`, { method: 'PATCH', body: { disabled: true } })).status,
        200,
      );
      assert.equal(await status(second.key), 401, "disabled account's key");
    });
  });
}
