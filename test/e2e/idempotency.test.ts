import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { parseSse } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * A request sent again with the same Idempotency-Key (a retry after a crash or a lost connection)
 * gets the first one's conversation and answer back instead of starting again; sent twice at once,
 * the second is told the first is in progress (409, Retry-After). Another request under a used key
 * is refused (422). Keys are per user.
 */
const model = 'mock/echo';

for (const dialect of dialects) {
  describe(`Idempotency-Key (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ dialect, env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
    });
    after(() => server.stop());

    const post = (path: string, body: unknown, key: string) =>
      server.api(path, { method: 'POST', body, headers: { 'idempotency-key': key } });
    const sessionCount = async () =>
      Number((await server.api('/api/v1/sessions?limit=1')).headers.get('x-total-count'));
    const history = async (id: number) => (await server.api(`/api/v1/sessions/${id}/history`)).body as Json[];
    /** Sends two at once; the second starts once the first is surely running (its key claimed). */
    const twiceAtOnce = async (send: () => Promise<{ status: number; headers: Headers; body: Json; text: string }>) => {
      const results = await Promise.all([send(), send()]);
      for (const result of results) {
        assert.ok(result.status === 200 || result.status === 409, `got ${result.status} ${result.text}`);
        if (result.status === 409) {
          assert.equal(result.headers.get('retry-after'), '1');
          assert.match(result.body.detail, /in progress/);
        }
      }
      assert.ok(results.some((r) => r.status === 200));
      return results;
    };

    test('spec 003 /v1/chat/stream: the same key twice in sequence creates one session and one answer', async () => {
      const before = await sessionCount();
      const body = { model, messages: [{ role: 'user', content: 'once only please' }] };
      const first = await post('/v1/chat/stream', body, 'chat-seq-1');
      assert.equal(first.status, 200);
      const second = await post('/v1/chat/stream', body, 'chat-seq-1');
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('x-session-id'), first.headers.get('x-session-id'));
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      // The stored text comes back in one piece rather than token by token.
      const text = (raw: string) =>
        parseSse(raw)
          .filter((e) => e.data !== '[DONE]')
          .map((e) => e.data)
          .join('');
      assert.equal(text(second.text), text(first.text));
      assert.equal(text(first.text), 'once only please');
      assert.equal(await sessionCount(), before + 1);
      const stored = await history(Number(first.headers.get('x-session-id')));
      assert.deepEqual(
        stored.map((m) => [m.role, m.content, m.status]),
        [
          ['user', 'once only please', 'complete'],
          ['assistant', 'once only please', 'complete'],
        ],
      );
    });

    test('spec 003 /v1/chat/stream: the same key twice at once creates one session and one answer', async () => {
      const before = await sessionCount();
      const body = { model, messages: [{ role: 'user', content: 'racing twins [[chunk-delay:20]]' }] };
      const results = await twiceAtOnce(() => post('/v1/chat/stream', body, 'chat-race-1'));
      assert.equal(await sessionCount(), before + 1);
      const sessionId = Number(results.find((r) => r.status === 200)!.headers.get('x-session-id'));
      assert.equal((await history(sessionId)).length, 2);
      // Once finished, the key gives the stored answer back.
      const again = await post('/v1/chat/stream', body, 'chat-race-1');
      assert.equal(again.status, 200);
      assert.equal(Number(again.headers.get('x-session-id')), sessionId);
      assert.equal((await history(sessionId)).length, 2);
    });

    test('spec 000 session completion: twice in sequence and twice at once, one user message and one reply each', async () => {
      const session = (await server.api('/api/v1/sessions', { method: 'POST', body: { model } })).body;
      const path = `/api/v1/sessions/${session.id}/models/completions`;
      const first = await post(path, { prompt: 'hello there' }, 'session-seq');
      const second = await post(path, { prompt: 'hello there' }, 'session-seq');
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      assert.deepEqual(second.body, first.body);
      assert.equal((await history(session.id)).length, 2);
      await twiceAtOnce(() => post(path, { prompt: 'and again [[chunk-delay:20]]', stream: true }, 'session-race'));
      const stored = await history(session.id);
      assert.deepEqual(
        stored.map((m) => m.role),
        ['user', 'assistant', 'user', 'assistant'],
      );
    });

    test('spec 001 messages:complete: the stored message is answered once', async () => {
      const conversation = (await server.api('/conversations', { method: 'POST', body: { title: 'idem' } })).body;
      const id = conversation.conversation_id ?? conversation.id;
      await server.api(`/conversations/${id}/messages`, { method: 'POST', body: { content: 'answer me once' } });
      const path = `/conversations/${id}/messages:complete`;
      const first = await post(path, { stream: false }, 'complete-seq');
      const second = await post(path, { stream: false }, 'complete-seq');
      assert.equal(first.status, 200);
      assert.deepEqual(second.body, first.body);
      assert.equal((await history(id)).length, 2);
      await server.api(`/conversations/${id}/messages`, {
        method: 'POST',
        body: { content: 'and this one [[chunk-delay:20]]' },
      });
      await twiceAtOnce(() => post(path, { stream: true }, 'complete-race'));
      assert.deepEqual(
        (await history(id)).map((m) => m.role),
        ['user', 'assistant', 'user', 'assistant'],
      );
    });

    test('creations: a session, a spec 001 conversation and message, a spec 004 chat and message are created once per key', async () => {
      const before = await sessionCount();
      const sessions = await Promise.all([1, 2].map(() => post('/api/v1/sessions', { model }, 'create-session')));
      const again = await post('/api/v1/sessions', { model }, 'create-session');
      const created = [...sessions, again].filter((r) => r.status === 201);
      assert.ok(created.length >= 2);
      assert.equal(new Set(created.map((r) => r.body.id)).size, 1);
      const conversation = await post('/conversations', { title: 'once' }, 'create-conversation');
      assert.equal(conversation.status, 201);
      assert.deepEqual(
        (await post('/conversations', { title: 'once' }, 'create-conversation')).body,
        conversation.body,
      );
      const id = conversation.body.conversation_id ?? conversation.body.id;
      const message = await post(`/conversations/${id}/messages`, { content: 'just once' }, 'add-message');
      assert.deepEqual(
        (await post(`/conversations/${id}/messages`, { content: 'just once' }, 'add-message')).body,
        message.body,
      );
      const chat = await post('/chats/create', { name: 'once' }, 'create-chat');
      const chatAgain = await post('/chats/create', { name: 'once' }, 'create-chat');
      assert.deepEqual(chatAgain.body, chat.body);
      assert.equal(await sessionCount(), before + 3);
      assert.equal((await history(id)).length, 1);
    });

    test('a used key with another body is refused (422); a refused request frees its key; keys are per user', async () => {
      const first = await post('/v1/chat/stream', { model, messages: [{ role: 'user', content: 'one' }] }, 'reused');
      assert.equal(first.status, 200);
      const other = await post('/v1/chat/stream', { model, messages: [{ role: 'user', content: 'two' }] }, 'reused');
      assert.equal(other.status, 422);
      assert.equal(other.body.code, 'idempotency_mismatch');
      // Refused before the model answered (unknown model): a retry with the key starts again.
      const refused = await post(
        '/v1/chat/stream',
        { model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] },
        'refused-key',
      );
      assert.equal(refused.status, 400);
      const retried = await post(
        '/v1/chat/stream',
        { model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] },
        'refused-key',
      );
      assert.equal(retried.status, 400);
      assert.equal(retried.headers.get('idempotent-replayed'), null);
      const bad = await post(
        '/v1/chat/stream',
        { model, messages: [{ role: 'user', content: 'x' }] },
        'not a valid key',
      );
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'validation_failed');
    });
  });
}
