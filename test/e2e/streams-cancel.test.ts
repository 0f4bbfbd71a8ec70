import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { readSseStream, resumeSseStream } from '../helpers/sse-streams.ts';
import { dialects } from '../helpers/server.ts';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';
import { slowWords, wordsAnswer } from './streams-resume-helpers.ts';

const words = 200;

/**
 * Cancelling a running answer explicitly on one node (SQLite, and PostgreSQL without Redis): on
 * the native surface and on the chat-API dialect's, the model stops, the stream ends as a cancelled answer,
 * the partial reply is stored as cancelled, and only what was produced is charged. Only the
 * session's owner can cancel.
 */
for (const dialect of dialects)
  describe(`cancelling a running answer (${dialect}, one node)`, () => {
    let chat: ChatServer;
    let key: string;
    let strangerKey: string;
    let fullTokens: number;

    const api = (path: string, options: { method?: string; body?: unknown; auth?: string } = {}) =>
      chat.server.api(path, { auth: key, ...options });
    const usageOf = async (conversationId: number) =>
      chat.server.services.sql.db
        .selectFrom('usage_records')
        .selectAll()
        .where('conversation_id', '=', conversationId)
        .execute();

    before(async () => {
      chat = await startChatServer(dialect, { CAUSERIE_STREAM_RESUME_GRACE_SECONDS: '60' });
      key = (await createKey(chat.server, (await signUp(chat.server, 'ines')).basic)).key;
      strangerKey = (await createKey(chat.server, (await signUp(chat.server, 'mallory')).basic)).key;
      // What the whole answer costs, to compare a cancelled one with.
      const session = (await api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' } })).body;
      const whole = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: slowWords(words, 0) },
      });
      assert.equal(whole.body.message.content, wordsAnswer(words));
      fullTokens = whole.body.message.completion_tokens;
    });
    after(() => chat.stop());

    const cases = [
      {
        surface: 'native',
        cancelPath: (id: number) => `/api/v1/sessions/${id}/cancel`,
        stream: (id: number) => ({
          url: `${chat.server.url}/api/v1/sessions/${id}/models/completions`,
          body: { prompt: slowWords(words, 20), stream: true },
        }),
      },
      {
        surface: 'the chat-API dialect',
        cancelPath: (id: number) => `/v1/chat/sessions/${id}/cancel`,
        stream: (id: number) => ({
          url: `${chat.server.url}/v1/chat/stream`,
          body: { model: 'gpt-4', session_id: id, messages: [{ role: 'user', content: slowWords(words, 20) }] },
        }),
      },
    ];

    for (const { surface, cancelPath, stream } of cases) {
      test(`${surface}: POST ${cancelPath(0).replace('0', '{session_id}')} stops the answer; the partial reply is stored cancelled and only it is charged`, async () => {
        const session = (await api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' } })).body;
        const request = { ...stream(session.id), headers: { authorization: `Bearer ${key}` } };
        const first = await readSseStream(request, { dropAfter: 5 });
        // The client that dropped comes back and reads along while the owner cancels.
        const reading = resumeSseStream(request, first.lastEventId!);
        assert.equal((await api(cancelPath(session.id), { method: 'POST', auth: strangerKey })).status, 404);
        const cancel = await api(cancelPath(session.id), { method: 'POST' });
        assert.equal(cancel.status, 200, cancel.text);
        assert.deepEqual(cancel.body, { cancelled: true });
        const rest = await reading;
        assert.ok(rest.ended, 'the stream ends');
        assert.equal(rest.events.at(-1)!.data, '[DONE]');
        const reply = (await api(`/api/v1/sessions/${session.id}/history`)).body.at(-1);
        assert.equal(reply.status, 'cancelled');
        assert.ok(reply.content.length > 0 && reply.content.length < wordsAnswer(words).length, reply.content);
        assert.ok(wordsAnswer(words).startsWith(reply.content));
        const usage = await usageOf(session.id);
        assert.equal(usage.length, 1);
        assert.equal(usage[0]!.status, 'cancelled');
        assert.equal(usage[0]!.completion_tokens, reply.completion_tokens);
        assert.ok(usage[0]!.completion_tokens < fullTokens, `${usage[0]!.completion_tokens} < ${fullTokens}`);
        // Nothing runs any more: a second cancel says so, and the session takes the next message.
        assert.deepEqual((await api(cancelPath(session.id), { method: 'POST' })).body, { cancelled: false });
        const next = await api(`/api/v1/sessions/${session.id}/models/completions`, {
          method: 'POST',
          body: { prompt: 'Encore ?' },
        });
        assert.equal(next.status, 200, next.text);
      });
    }
  });
