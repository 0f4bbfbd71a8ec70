import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { TestServer } from '../helpers/server.ts';

describe('bodies are validated strictly; query strings and paths still read numbers from text', () => {
  let chat: ChatServer;
  let server: TestServer;
  before(async () => {
    chat = await startChatServer('sqlite');
    server = chat.server;
  });
  after(() => chat.stop());

  test('"prompt": 42 is refused, not stored as "42"', async () => {
    const session = await server.api('/api/v1/sessions', { method: 'POST', body: {} });
    assert.equal(session.status, 201);
    const response = await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, { method: 'POST', body: { prompt: 42 } });
    assert.equal(response.status, 400, response.text);
    assert.deepEqual(response.body, { detail: 'body.prompt: must be string', code: 'validation_failed' });
    const history = await server.api(`/api/v1/sessions/${session.body.id}/history`);
    assert.deepEqual(history.body, []);
  });

  test('"name": 5 does not name a chat "5"; a string does', async () => {
    const refused = await server.api('/chats/create', { method: 'POST', body: { name: 5 } });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.detail, 'body.name: must be string');
    const names = () => server.api('/chats/').then((r) => r.body.map((c: { name: string }) => c.name));
    assert.ok(!(await names()).includes('5'));
    assert.equal((await server.api('/chats/create', { method: 'POST', body: { name: '5' } })).status, 201);
    assert.ok((await names()).includes('5'));
  });

  test('numbers and booleans in a body must be sent as such', async () => {
    const response = await server.api('/api/v1/keys', { method: 'POST', body: { limits: { requests_per_day: '10' } } });
    assert.equal(response.status, 400);
    assert.equal(response.body.detail, 'body.limits.requests_per_day: must be integer');
  });

  test('query strings and path parameters are text, read as numbers', async () => {
    const session = await server.api('/api/v1/sessions', { method: 'POST', body: {} });
    const byId = await server.api(`/api/v1/sessions/${session.body.id}`);
    assert.equal(byId.status, 200, byId.text);
    const page = await server.api('/api/v1/sessions?limit=1&offset=0');
    assert.equal(page.status, 200, page.text);
    assert.equal(page.body.length, 1);
  });
});
