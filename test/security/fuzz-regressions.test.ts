import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Defects the schema-driven fuzzer found, each replayed as the request that showed it. */
describe('requests the fuzzer found mishandled', () => {
  let server: TestServer;
  let sessionId: number;
  before(async () => {
    server = await startTestServer();
    sessionId = (await server.api('/api/v1/sessions', { method: 'POST', body: {} })).body.id;
  });
  after(() => server.stop());

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
});

describe('an admin creating a key for a user who does not exist', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('is told user_id names no user (400), not a 500; ids beyond 32 bits are refused by the schema', async () => {
    for (const userId of [-1, 0, 424242, 2 ** 31, 2 ** 53]) {
      const response = await server.api('/api/v1/keys', { method: 'POST', body: { name: 'x', user_id: userId } });
      assert.equal(response.status, 400, `${userId}: ${response.text}`);
      assert.match(response.body.detail, /^body\.user_id: |^user_id: /);
    }
  });
});
