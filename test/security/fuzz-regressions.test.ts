import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Defects the schema-driven fuzzer found, each replayed as the request that showed it, on both
 * databases (one server each).
 */
for (const dialect of dialects) {
  describe(`requests the fuzzer found mishandled (${dialect})`, () => {
    let server: TestServer;
    let sessionId: number;
    before(async () => {
      server = await startTestServer({ dialect });
      sessionId = (await server.api('/api/v1/sessions', { method: 'POST', body: {} })).body.id;
    });
    after(() => server.stop());

    test('a number too large to be finite (1e309, Infinity once parsed) is a 400 naming the field, not a 500 from the database (seed 1034025362)', async () => {
      const query = await server.api('/chats/?limit=1e309');
      assert.equal(query.status, 400, query.text);
      assert.deepEqual(query.body, { detail: 'query.limit: must be a finite number', code: 'validation_failed' });
      const body = await server.api('/api/v1/sessions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"temperature": 1e309}',
      });
      assert.equal(body.status, 400, body.text);
    });

    test('an upload whose multipart body has no boundary or is cut short is a 400 naming the body, not a 500', async () => {
      const cases: Array<[string, string]> = [
        ['multipart/form-data', '{"file":"x"}'],
        ['multipart/form-data; boundary=x', '{"file":"x"}'],
        [
          'multipart/form-data; boundary=x',
          '--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\nabc',
        ],
      ];
      for (const [contentType, body] of cases) {
        const response = await server.api(`/api/chat/sessions/${sessionId}/upload`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        });
        assert.equal(response.status, 400, response.text);
        assert.equal(response.body.code, 'validation_failed');
        assert.match(response.body.detail, /^body: is not a complete multipart\/form-data body/);
      }
    });

    test('an admin creating a key for a user who does not exist is told user_id names no user (400), not a 500; ids beyond 32 bits are refused by the schema', async () => {
      for (const userId of [-1, 0, 424242, 2 ** 31, 2 ** 53]) {
        const response = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'x', user_id: userId } });
        assert.equal(response.status, 400, `${userId}: ${response.text}`);
        assert.match(response.body.detail, /^body\.user_id: |^user_id: /);
      }
    });

    test('text holding the NUL character is refused with a 400 naming the field, in a body, a query or a path, rather than a 500 from PostgreSQL', async () => {
      const prompt = await server.api('/api/chat/prompts', {
        method: 'POST',
        body: { title: 't', content: 'c', description: 'a\u0000b' },
      });
      assert.equal(prompt.status, 400, prompt.text);
      assert.deepEqual(prompt.body, {
        detail: 'body.description: must not contain the NUL character',
        code: 'validation_failed',
      });
      const nested = await server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'x', messages: [{ role: 'user', content: '\u0000' }] },
      });
      assert.equal(nested.status, 400, nested.text);
      assert.equal(nested.body.error.param, 'body.messages.0.content');
      const query = await server.api('/api/v1/sessions?model=a%00b');
      assert.equal(query.status, 400, query.text);
      assert.equal(query.body.detail, 'query.model: must not contain the NUL character');
      const path = await server.api('/users/a%00b');
      assert.equal(path.status, 400, path.text);
      assert.equal(path.body.detail, 'params.username: must not contain the NUL character');
      // A route that reads no query string is not refused for one (seed 21).
      assert.equal((await server.api('/healthz?limit=a%00b', { auth: null })).status, 200);
    });
  });
}
