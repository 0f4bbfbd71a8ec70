import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { startChatServer, sse, type ChatServer } from './conversations-helpers.ts';
import type { Json, WireMessage } from '../helpers/wire.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The chats dialect (llama_internet_chatbot's "Chat API Documentation") replayed: list, create, read,
 * update and delete chats (UUIDs), add Human and Assistant "conversations", and the inference SSE
 * endpoint, which answers the chat's latest Human message and stores the answer.
 */
for (const dialect of dialects) {
  describe(`the chats dialect chats (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;
    let created: Json;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      const user = await signUp(server, 'linus');
      key = (await createKey(server, user.basic)).key;
    });
    after(() => chat.stop());

    const api = (path: string, options: { method?: string; body?: unknown; auth?: string | null } = {}) =>
      server.api(path, { auth: key, ...options });

    test('List Chats: GET /chats/ answers a JSON array', async () => {
      const response = await api('/chats/');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^application\/json/);
      assert.deepEqual(response.body, []);
    });

    test('Create Chat: POST /chats/create {"name"} answers the chat {id (UUID), name, created_at, updated_at}', async () => {
      const response = await api('/chats/create', { method: 'POST', body: { name: 'Chat 1' } });
      assert.equal(response.status, 201);
      created = response.body;
      assert.deepEqual(Object.keys(created).sort(), ['created_at', 'id', 'name', 'updated_at']);
      assert.match(created.id, uuidPattern);
      assert.equal(created.name, 'Chat 1');
      assert.match(created.created_at, isoPattern);
      assert.match(created.updated_at, isoPattern);
      const list = await api('/chats/');
      assert.deepEqual(list.body, [created]);
      assert.deepEqual((await api('/chats')).body, [created]);
      assert.equal((await api('/chats/create', { method: 'POST', body: {} })).status, 400);
    });

    test('Get Chat: GET /chats/<id> answers the chat; an unknown or foreign id is 404', async () => {
      const response = await api(`/chats/${created.id}`);
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, created);
      assert.equal((await api('/chats/3fa85f64-5717-4562-b3fc-2c963f66afa6')).status, 404);
      const stranger = await signUp(server, 'stranger-004');
      assert.equal((await api(`/chats/${created.id}`, { auth: stranger.basic })).status, 404);
      assert.deepEqual((await api('/chats/', { auth: stranger.basic })).body, []);
    });

    test('Update Chat: PUT /chats/update/<id> {"name", "updated_at"} renames it', async () => {
      const response = await api(`/chats/update/${created.id}`, {
        method: 'PUT',
        body: { name: 'Chat one', updated_at: '2023-08-05T14:48:00.000Z' },
      });
      assert.equal(response.status, 200);
      assert.equal(response.body.id, created.id);
      assert.equal(response.body.name, 'Chat one');
      assert.equal(response.body.created_at, created.created_at);
      assert.ok(response.body.updated_at >= created.updated_at, 'updated_at comes from the server clock');
      assert.equal((await api(`/chats/${created.id}`)).body.name, 'Chat one');
    });

    test('Create Conversation: POST /conversations/create {chat_id, role, message} with roles Human and Assistant', async () => {
      const human = await api('/conversations/create', {
        method: 'POST',
        body: { chat_id: created.id, role: 'Human', message: 'Hello there' },
      });
      assert.equal(human.status, 201);
      assert.deepEqual(Object.keys(human.body).sort(), [
        'chat_id',
        'created_at',
        'id',
        'message',
        'role',
        'updated_at',
      ]);
      assert.match(human.body.id, uuidPattern);
      assert.equal(human.body.role, 'Human');
      assert.equal(human.body.chat_id, created.id);
      assert.equal(human.body.message, 'Hello there');
      const assistant = await api('/conversations/create', {
        method: 'POST',
        body: { chat_id: created.id, role: 'Assistant', message: 'General Kenobi.' },
      });
      assert.equal(assistant.body.role, 'Assistant');
      // Stored as user and assistant messages of the same conversation.
      const history = (await api(`/api/v1/sessions/${created.id}/history`)).body;
      assert.deepEqual(
        history.map((m: WireMessage) => [m.role, m.content, m.uuid]),
        [
          ['user', 'Hello there', human.body.id],
          ['assistant', 'General Kenobi.', assistant.body.id],
        ],
      );
      assert.equal(
        (
          await api('/conversations/create', {
            method: 'POST',
            body: { chat_id: created.id, role: 'Robot', message: 'x' },
          })
        ).status,
        400,
      );
      assert.equal(
        (
          await api('/conversations/create', {
            method: 'POST',
            body: { chat_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', role: 'Human', message: 'x' },
          })
        ).status,
        404,
      );
    });

    test('Inference: GET /conversations/inference/<id> streams the answer to the latest Human message and stores it', async () => {
      const question = await api('/conversations/create', {
        method: 'POST',
        body: { chat_id: created.id, role: 'Human', message: 'What is a llama?' },
      });
      const response = await sse(server, `/conversations/inference/${created.id}`, { auth: key });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      const tokens = response.events.filter((e) => e.event === 'message').map((e) => e.data);
      assert.equal(tokens.at(-1), '[DONE]');
      assert.equal(tokens.slice(0, -1).join(''), 'What is a llama?');
      const stored = response.events.find((e) => e.event === 'conversation');
      assert.ok(stored, 'an event names the stored Assistant conversation');
      const conversation = JSON.parse(stored.data);
      assert.equal(conversation.role, 'Assistant');
      assert.equal(conversation.chat_id, created.id);
      assert.equal(conversation.message, 'What is a llama?');
      assert.match(conversation.id, uuidPattern);
      // The model got the chat's history, Human as user and Assistant as assistant.
      assert.deepEqual(chat.upstream.chatRequests().at(-1)!.body.messages, [
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'General Kenobi.' },
        { role: 'user', content: 'What is a llama?' },
      ]);
      const history = (await api(`/api/v1/sessions/${created.id}/history`)).body;
      assert.equal(history.length, 4);
      assert.deepEqual([history[2].uuid, history[3].uuid], [question.body.id, conversation.id]);
      assert.equal(history[3].status, 'complete');
      // Nothing left to answer: the latest message is the Assistant's.
      assert.equal((await api(`/conversations/inference/${created.id}`)).status, 400);
    });

    test('Delete Chat: DELETE /chats/delete/<id> answers the deleted chat; then it is gone with its conversations', async () => {
      const response = await api(`/chats/delete/${created.id}`, { method: 'DELETE' });
      assert.equal(response.status, 200);
      assert.equal(response.body.id, created.id);
      assert.equal(response.body.name, 'Chat one');
      assert.equal((await api(`/chats/${created.id}`)).status, 404);
      assert.equal((await api(`/chats/delete/${created.id}`, { method: 'DELETE' })).status, 404);
      assert.equal((await api(`/conversations/inference/${created.id}`)).status, 404);
      assert.deepEqual((await api('/chats/')).body, []);
    });

    test('every route requires authentication (401), which the document leaves out', async () => {
      for (const [method, path] of [
        ['GET', '/chats/'],
        ['GET', `/chats/${created.id}`],
        ['POST', '/chats/create'],
        ['DELETE', `/chats/delete/${created.id}`],
        ['PUT', `/chats/update/${created.id}`],
        ['POST', '/conversations/create'],
        ['GET', `/conversations/inference/${created.id}`],
      ] as const) {
        const response = await api(path, {
          method,
          auth: null,
          body: method === 'POST' || method === 'PUT' ? {} : undefined,
        });
        assert.equal(response.status, 401, `${method} ${path}`);
      }
    });
  });
}
