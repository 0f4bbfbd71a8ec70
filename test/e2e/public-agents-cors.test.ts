import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../helpers/server.ts';
import {
  otherOrigin,
  pageOrigin,
  publishAgent,
  startPublicServer,
  type PublicServer,
  type PublishedAgent,
} from './public-agents-helpers.ts';

const preflight = (server: TestServer, path: string, origin: string, method = 'GET') =>
  fetch(`${server.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  });

/**
 * CORS: the public routes answer browsers only from origins a live public key lists (the origin
 * echoed, Vary: Origin); private routes never send permissive CORS headers.
 */
describe('public agents CORS', () => {
  let running: PublicServer;
  let server: TestServer;
  let published: PublishedAgent;

  before(async () => {
    running = await startPublicServer('sqlite');
    server = running.server;
    published = await publishAgent(server);
  });
  after(() => running.stop());

  const publicPaths = [
    ['/v1/chat/conversation/public/message/token/1', 'GET'],
    ['/v1/chat/conversation/public/messages/pct_X', 'GET'],
    ['/v1/chat/conversation/public/message', 'POST'],
  ] as const;

  test('a preflight from an allowed origin is answered with that origin, the method and the headers', async () => {
    for (const [path, method] of publicPaths) {
      const response = await preflight(server, path, pageOrigin, method);
      assert.equal(response.status, 204, path);
      assert.equal(response.headers.get('access-control-allow-origin'), pageOrigin);
      assert.match(response.headers.get('access-control-allow-methods') ?? '', new RegExp(method));
      assert.match(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      assert.match(response.headers.get('vary') ?? '', /Origin/i);
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
    }
  });

  test('a preflight from any other origin gets no CORS permission', async () => {
    for (const [path, method] of publicPaths) {
      const response = await preflight(server, path, otherOrigin, method);
      assert.equal(response.headers.get('access-control-allow-origin'), null, path);
      assert.equal(response.headers.get('access-control-allow-methods'), null, path);
    }
  });

  test('private routes never send CORS headers, preflight or not, whatever the origin', async () => {
    for (const path of [
      '/api/v1/me',
      '/api/v1/sessions',
      '/v1/chat/completions',
      '/v1/models',
      '/oauth/token',
      `/api/v1/agents/${published.agent.id}/public-keys`,
    ]) {
      for (const origin of [pageOrigin, otherOrigin]) {
        const options = await preflight(server, path, origin, 'POST');
        assert.equal(options.headers.get('access-control-allow-origin'), null, `OPTIONS ${path}`);
        const get = await fetch(`${server.url}${path}`, {
          headers: { origin, authorization: `Bearer ${server.adminKey}` },
        });
        await get.arrayBuffer();
        assert.equal(get.headers.get('access-control-allow-origin'), null, `GET ${path}`);
        assert.equal(get.headers.get('access-control-allow-credentials'), null);
      }
    }
  });

  test('once its only key is revoked, the origin gets no CORS answer any more', async () => {
    const revoked = await server.api(`/api/v1/public-keys/${published.keyRecord.id}`, {
      method: 'DELETE',
      auth: published.owner.basic,
    });
    assert.equal(revoked.status, 200);
    const response = await preflight(server, publicPaths[0][0], pageOrigin);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });

  test('GET /widget.js serves the widget script from Causerie itself', async () => {
    const response = await fetch(`${server.url}/widget.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/javascript/);
    const text = await response.text();
    assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(text), 'loads nothing from elsewhere');
    // docs/public-agents.md states its size.
    const guide = readFileSync(new URL('../../docs/public-agents.md', import.meta.url), 'utf8');
    assert.ok(
      guide.includes(`${Buffer.byteLength(text)} bytes`),
      `docs/public-agents.md states the widget's size (${Buffer.byteLength(text)} bytes)`,
    );
  });
});
