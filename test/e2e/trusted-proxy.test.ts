import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

for (const dialect of dialects) {
  describe(`client addresses behind a reverse proxy (${dialect})`, () => {
    let behindProxy: TestServer;
    let direct: TestServer;
    before(async () => {
      // One open sign-up per address and hour, so the second from an address shows whose it was.
      const env = { CAUSERIE_SIGNUP_LIMIT: '1' };
      behindProxy = await startTestServer({ dialect, env: { ...env, CAUSERIE_TRUST_PROXY: '127.0.0.1' } });
      direct = await startTestServer({ dialect, env });
    });
    after(async () => {
      await behindProxy?.stop();
      await direct?.stop();
    });

    const signUpFrom = (server: TestServer, username: string, forwardedFor: string) =>
      server.api('/users', {
        method: 'POST',
        auth: null,
        body: { username, password: `${username}-password` },
        headers: { 'x-forwarded-for': forwardedFor },
      });

    test('from a trusted proxy, X-Forwarded-For names the client: each client has its own sign-up allowance', async () => {
      assert.equal((await signUpFrom(behindProxy, 'first-a', '203.0.113.1')).status, 201);
      assert.equal((await signUpFrom(behindProxy, 'second-a', '203.0.113.1')).status, 429);
      assert.equal((await signUpFrom(behindProxy, 'first-b', '203.0.113.2')).status, 201);
    });

    test('without CAUSERIE_TRUST_PROXY the header is ignored: a client cannot pick its address', async () => {
      assert.equal((await signUpFrom(direct, 'spoof-a', '203.0.113.1')).status, 201);
      assert.equal((await signUpFrom(direct, 'spoof-b', '203.0.113.2')).status, 429);
    });
  });
}
