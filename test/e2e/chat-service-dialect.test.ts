import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, createKey } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { startChatServer, sse, type ChatServer } from './conversations-helpers.ts';
import type { WireConversation, WireMessage } from '../helpers/wire.ts';

/**
 * The chat-service dialect ("Chat Service") replayed route by route: create a user, list their conversations,
 * create one, add messages, ask in single mode and in stream mode (messages:complete, with its
 * literal colon). The document has no authentication; Causerie requires it (docs/compatibility.md).
 */
for (const dialect of dialects) {
  describe(`the chat-service dialect chat service (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let user: { id: number; username: string; auth: string };
    let conversationId: number;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
    });
    after(() => chat.stop());

    const as =
      (auth: string) =>
      (path: string, options: { method?: string; body?: unknown } = {}) =>
        server.api(path, { auth, ...options });

    test('POST /users creates a user (201) with {id, username} and never echoes the password', async () => {
      const response = await server.api('/users', {
        method: 'POST',
        body: { username: 'camille', password: 'camille-password' },
        auth: null,
      });
      assert.equal(response.status, 201);
      assert.equal(typeof response.body.id, 'number');
      assert.equal(response.body.username, 'camille');
      assert.equal('password' in response.body, false);
      assert.ok(!response.text.includes('camille-password'));
      user = { id: response.body.id, username: 'camille', auth: basic('camille', 'camille-password') };
      const read = await as(user.auth)('/users/camille');
      assert.equal(read.status, 200);
      assert.equal(read.body.id, user.id);
      assert.equal((await as(user.auth)(`/users/${user.id}`)).body.username, 'camille');
    });

    test('GET /users/:userId/conversations lists nothing yet (200, [])', async () => {
      const response = await as(user.auth)(`/users/${user.id}/conversations`);
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, []);
    });

    test('POST /conversations creates a conversation (201) with {id, title, user_id}', async () => {
      const response = await as(user.auth)('/conversations', {
        method: 'POST',
        body: { title: 'Recettes', user_id: user.id },
      });
      assert.equal(response.status, 201);
      assert.deepEqual(Object.keys(response.body).sort(), ['id', 'title', 'user_id']);
      assert.equal(response.body.title, 'Recettes');
      assert.equal(response.body.user_id, user.id);
      conversationId = response.body.id;
      const second = await as(user.auth)('/conversations', {
        method: 'POST',
        body: { title: 'Voyages', user_id: user.id },
      });
      assert.equal(second.status, 201);
      const list = await as(user.auth)(`/users/${user.id}/conversations`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body, [
        { conversation_id: second.body.id, title: 'Voyages', user_id: user.id },
        { conversation_id: conversationId, title: 'Recettes', user_id: user.id },
      ]);
      assert.equal(list.headers.get('x-total-count'), '2');
      const page = await as(user.auth)(`/users/${user.id}/conversations?limit=1&offset=1`);
      assert.deepEqual(
        page.body.map((c: WireConversation) => c.conversation_id),
        [conversationId],
      );
      // The username (and UUID) name the same user.
      assert.deepEqual((await as(user.auth)('/users/camille/conversations')).body, list.body);
    });

    test('POST /conversations for another user is refused (403) unless the caller is an admin', async () => {
      const refused = await as(user.auth)('/conversations', { method: 'POST', body: { title: 'x', user_id: 1 } });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'forbidden');
      const byAdmin = await server.api('/conversations', {
        method: 'POST',
        body: { title: 'Pour Camille', user_id: user.id },
      });
      assert.equal(byAdmin.status, 201);
      assert.equal(byAdmin.body.user_id, user.id);
      await server.api(`/api/v1/sessions/${byAdmin.body.id}`, { method: 'DELETE' });
    });

    test('GET /conversations/:conversationId/messages lists [{id, role, content}]; POST adds a user message', async () => {
      const empty = await as(user.auth)(`/conversations/${conversationId}/messages`);
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, []);
      const added = await as(user.auth)(`/conversations/${conversationId}/messages`, {
        method: 'POST',
        body: { content: 'Une recette de crêpes ?' },
      });
      assert.equal(added.status, 201);
      assert.deepEqual(Object.keys(added.body).sort(), ['content', 'id', 'role']);
      assert.equal(added.body.role, 'user');
      const list = await as(user.auth)(`/conversations/${conversationId}/messages`);
      assert.deepEqual(list.body, [added.body]);
    });

    test('POST /conversations/:conversationId/messages:complete with stream false answers {choices:[{finish_reason, index, message}]} and stores it', async () => {
      const response = await as(user.auth)(`/conversations/${conversationId}/messages:complete`, {
        method: 'POST',
        body: { stream: false },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, {
        choices: [
          { finish_reason: 'stop', index: 0, message: { role: 'assistant', content: 'Une recette de crêpes ?' } },
        ],
      });
      const messages = (await as(user.auth)(`/conversations/${conversationId}/messages`)).body;
      assert.deepEqual(
        messages.map((m: WireMessage) => [m.role, m.content]),
        [
          ['user', 'Une recette de crêpes ?'],
          ['assistant', 'Une recette de crêpes ?'],
        ],
      );
    });

    test('with stream true it answers SSE chunks {choices:[{index, delta:{role, content}, finish_reason}]} ending with [DONE]', async () => {
      await as(user.auth)(`/conversations/${conversationId}/messages`, {
        method: 'POST',
        body: { content: 'Et pour quatre personnes ?' },
      });
      const response = await sse(server, `/conversations/${conversationId}/messages:complete`, {
        auth: user.auth,
        body: { stream: true },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      assert.equal(response.events.at(-1)!.data, '[DONE]');
      const chunks = response.events.slice(0, -1).map((e) => JSON.parse(e.data));
      for (const chunk of chunks) {
        assert.deepEqual(Object.keys(chunk), ['choices']);
        assert.equal(chunk.choices.length, 1);
        assert.deepEqual(Object.keys(chunk.choices[0]).sort(), ['delta', 'finish_reason', 'index']);
        assert.equal(chunk.choices[0].index, 0);
        assert.equal(chunk.choices[0].delta.role, 'assistant');
        assert.equal(typeof chunk.choices[0].delta.content, 'string');
      }
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
      assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
      assert.equal(chunks.map((c) => c.choices[0].delta.content).join(''), 'Et pour quatre personnes ?');
      const messages = (await as(user.auth)(`/conversations/${conversationId}/messages`)).body;
      assert.equal(messages.length, 4);
      assert.deepEqual(messages.at(-1), {
        id: messages.at(-1).id,
        role: 'assistant',
        content: 'Et pour quatre personnes ?',
      });
      // The whole conversation went to the model, in order.
      assert.deepEqual(
        chat.upstream
          .chatRequests()
          .at(-1)!
          .body.messages.map((m: WireMessage) => m.content),
        ['Une recette de crêpes ?', 'Une recette de crêpes ?', 'Et pour quatre personnes ?'],
      );
    });

    test('messages:complete needs a user message to answer (400), and the conversation must be yours (404)', async () => {
      const fresh = await as(user.auth)('/conversations', {
        method: 'POST',
        body: { title: 'Vide', user_id: user.id },
      });
      const response = await as(user.auth)(`/conversations/${fresh.body.id}/messages:complete`, {
        method: 'POST',
        body: { stream: false },
      });
      assert.equal(response.status, 400);
      assert.equal(response.body.code, 'validation_failed');
      const { key: otherKey } = await createKey(server, server.adminKey);
      const other = await server.api('/users', {
        method: 'POST',
        body: { username: 'eve-001', password: 'eve-password-1' },
        auth: null,
      });
      const eve = basic('eve-001', 'eve-password-1');
      assert.equal((await as(eve)(`/conversations/${conversationId}/messages`)).status, 404);
      assert.equal(
        (await as(eve)(`/conversations/${conversationId}/messages`, { method: 'POST', body: { content: 'x' } })).status,
        404,
      );
      assert.equal(
        (
          await as(eve)(`/conversations/${conversationId}/messages:complete`, {
            method: 'POST',
            body: { stream: false },
          })
        ).status,
        404,
      );
      assert.equal((await as(eve)(`/users/${user.id}/conversations`)).status, 404);
      assert.equal((await as(eve)(`/users/${other.body.id}/conversations`)).status, 200);
      // An admin may list anyone's.
      assert.equal((await as(otherKey)(`/users/${user.id}/conversations`)).body.length, 3);
    });

    test('every route requires authentication (401), which the document leaves out', async () => {
      for (const [method, path] of [
        ['GET', `/users/${user.id}/conversations`],
        ['POST', '/conversations'],
        ['GET', `/conversations/${conversationId}/messages`],
        ['POST', `/conversations/${conversationId}/messages`],
        ['POST', `/conversations/${conversationId}/messages:complete`],
      ] as const) {
        const response = await server.api(path, { method, auth: null, body: method === 'POST' ? {} : undefined });
        assert.equal(response.status, 401, `${method} ${path}`);
      }
    });
  });
}
