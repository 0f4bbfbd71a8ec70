import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

for (const dialect of dialects) {
  describe(`smoke (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect });
    });
    after(() => server.stop());

    test('the first admin key authenticates', async () => {
      const response = await server.api('/api/v1/me');
      assert.equal(response.status, 200);
      assert.equal(response.body.user.username, 'admin');
      assert.equal(response.body.authenticated_with, 'api_key');
    });
  });
}
