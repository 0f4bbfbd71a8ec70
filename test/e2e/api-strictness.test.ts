import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { TestServer } from '../helpers/server.ts';

// One server for the file: every test reads or writes its own sessions.
let chat: ChatServer;
let server: TestServer;
before(async () => {
  chat = await startChatServer('sqlite');
  server = chat.server;
});
after(() => chat.stop());

describe('bodies are validated strictly; query strings and paths still read numbers from text', () => {
  test('"prompt": 42 is refused, not stored as "42"', async () => {
    const session = await server.api('/api/v1/sessions', { method: 'POST', body: {} });
    assert.equal(session.status, 201);
    const response = await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, {
      method: 'POST',
      body: { prompt: 42 },
    });
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

describe('error messages say what the caller sent and what is allowed', () => {
  const probe = async (method: string, path: string, body?: unknown) => {
    const response = await server.api(path, { method, body });
    return {
      status: response.status,
      detail: response.body.detail ?? response.body.error?.message,
      text: response.text,
    };
  };

  test('a model sent as model_id is named model_id', async () => {
    const session = await probe('POST', '/api/v1/sessions', { model_id: 'nope/nothing' });
    assert.equal(session.status, 400, session.text);
    assert.match(session.detail, /^(body\.)?model_id: /);
  });

  test('a field with fixed values lists them instead of "must be equal to constant"', async () => {
    const response = await probe('POST', '/v1/chat/completions', {
      model: 'openai/echo',
      messages: [{ role: 'robot', content: 'hi' }],
    });
    assert.equal(response.status, 400, response.text);
    assert.doesNotMatch(response.detail, /equal to constant/);
    assert.match(response.detail, /^body\.messages\.0\.role: must be one of "system", /);
  });

  test('query errors have one prefix style', async () => {
    assert.match((await probe('GET', '/api/v1/users?limit=1000')).detail, /^query\.limit: /);
    assert.match((await probe('GET', '/v1/chat/history?start_date=yesterday')).detail, /^query\.start_date: /);
    assert.match((await probe('GET', '/v1/chat/history?page=0')).detail, /^query\.page: /);
  });

  test('a missing conversation is named as each document names it', async () => {
    const uuid = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
    for (const [method, path, noun] of [
      ['GET', '/api/v1/sessions/999999', 'Session'],
      ['DELETE', '/v1/chat/sessions/999999', 'Session'],
      ['GET', `/chats/${uuid}`, 'Chat'],
      ['DELETE', `/chats/delete/${uuid}`, 'Chat'],
      ['GET', '/conversations/999999/messages', 'Conversation'],
    ] as const) {
      const response = await probe(method, path);
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(response.detail, `${noun} not found`, `${method} ${path}`);
    }
  });

  test('unknown routes under /api/v1/models/ are unknown routes, not unknown models', async () => {
    for (const [method, path] of [
      ['DELETE', '/api/v1/models/agents'],
      ['GET', '/api/v1/models/agents/1/extra'],
      ['DELETE', '/api/v1/models/completions'],
    ] as const) {
      const response = await probe(method, path);
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(response.detail, `Route ${method} ${path} not found`);
    }
  });

  test('an id that cannot be an id is a bad request on every surface; one that could be is 404', async () => {
    for (const [method, path, field] of [
      ['GET', '/api/v1/sessions/abc', 'params.session_id'],
      ['DELETE', '/v1/chat/sessions/abc', 'params.session_id'],
      ['GET', '/chats/abc', 'params.id'],
      ['GET', '/conversations/abc/messages', 'params.conversationId'],
      ['DELETE', '/api/v1/keys/abc', 'params.key_id'],
    ] as const) {
      const response = await probe(method, path);
      assert.equal(response.status, 400, `${method} ${path}: ${response.text}`);
      assert.equal(response.detail, `${field}: is not a valid id (an integer or a UUID)`);
    }
    const inBody = await probe('POST', '/v1/chat/switch-model', { session_id: 'abc', model: 'openai/echo' });
    assert.equal(inBody.status, 400, inBody.text);
    assert.match(inBody.detail, /^body\.session_id: /);
    assert.equal((await probe('GET', '/api/v1/sessions/42')).status, 404);
  });
});

describe("the chat-API dialect: the session's model wins, and the answer says which model it was", () => {
  test('X-Causerie-Model names the model used, also when the request named another', async () => {
    const first = await server.api('/v1/chat/stream', {
      method: 'POST',
      body: { model: 'gpt-4', stream: false, messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-causerie-model'), first.body.model);
    const sessionId = Number(first.headers.get('x-session-id'));
    const other = await server.api('/v1/chat/stream', {
      method: 'POST',
      body: { session_id: sessionId, model: 'gpt-3.5-turbo', messages: [{ role: 'user', content: 'again' }] },
    });
    assert.equal(other.status, 200, other.text);
    assert.equal(other.headers.get('x-causerie-model'), first.body.model);
    assert.notEqual(other.headers.get('x-causerie-model'), 'gpt-3.5-turbo');
  });
});
