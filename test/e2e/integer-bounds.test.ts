import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

// Numbers larger than a database integer used to reach the query and fail there with a 500.
for (const dialect of dialects) {
  describe(`integers beyond what the database holds (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect });
    });
    after(() => server.stop());

    test('huge page and offset parameters answer 400 naming the parameter', async () => {
      for (const path of [
        '/v1/chat/history?page=99999999999999999999',
        '/api/v1/sessions?offset=99999999999999999999',
        '/api/v1/keys?offset=99999999999999999999',
      ]) {
        const response = await server.api(path);
        assert.equal(response.status, 400, `${path}: ${response.text}`);
        assert.match(response.body.detail, /page|offset/);
      }
    });

    test('ids beyond 32 bits name nothing: 404 on every id form, never a 500', async () => {
      for (const path of [
        '/api/v1/sessions/9999999999',
        '/api/v1/sessions/99999999999999',
        '/conversations/3000000000/messages',
        '/chats/4294967296',
      ]) {
        assert.equal((await server.api(path)).status, 404, path);
      }
      const switched = await server.api('/v1/chat/switch-model', {
        method: 'POST',
        body: { session_id: 99999999999, model: 'x' },
      });
      assert.equal(switched.status, 404, switched.text);
    });
  });
}
