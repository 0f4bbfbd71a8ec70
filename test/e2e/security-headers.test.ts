import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('responses tell browsers not to sniff, frame or run them', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('pages: a policy that allows their inline styles and nothing else, and no framing', async () => {
    for (const path of ['/', '/about']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      const policy = response.headers.get('content-security-policy') ?? '';
      assert.match(policy, /default-src 'none'/);
      assert.match(policy, /frame-ancestors 'none'/);
    }
  });

  test('JSON answers and errors: nosniff and a policy that allows nothing', async () => {
    for (const [path, status] of [
      ['/api/v1/me', 200],
      ['/api/v1/nope', 404],
      ['/healthz', 200],
    ] as const) {
      const response = await server.api(path);
      assert.equal(response.status, status);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", path);
    }
  });
});
