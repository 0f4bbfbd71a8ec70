import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { startChatServer, sse, upstreamNames, type ChatServer } from './conversations-helpers.ts';
import type { WireMessage, WireSession } from '../helpers/wire.ts';

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The chat-API dialect ("Chat API Documentation") replayed: its curl examples for /v1/chat/stream (without and
 * with session_id), /v1/chat/switch-model, /v1/chat/history (plain and filtered) and
 * DELETE /v1/chat/sessions/{id}, with YOUR_ACCESS_TOKEN an API key, and the error statuses it lists.
 */
for (const dialect of dialects) {
  describe(`the chat-API dialect chat API (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let token: string;
    let keyId: number;
    let sessionId: number;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      const user = await signUp(server, 'yuki');
      ({ key: token, id: keyId } = await createKey(server, user.basic));
    });
    after(() => chat.stop());

    const api = (path: string, options: { method?: string; body?: unknown; auth?: string | null } = {}) =>
      server.api(path, { auth: token, ...options });

    test('curl POST /v1/chat/stream (gpt-4, "Tell me a story", temperature 0.7) streams `data: <token>` lines, then `data: [DONE]`', async () => {
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'Tell me a story' }], temperature: 0.7 },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      // The wire format, literally: one "data: <text>" line per event, a blank line between events;
      // each event also has an "id: <answer>:<n>" line, for a client to resume after a lost connection.
      // Tokens that reach Causerie in one network read come as one event (decision 027), so how the
      // text is split varies; the format and the text do not.
      const wire = response.text.replace(/^: keep-alive\n\n/gm, '');
      const ids = [...wire.matchAll(/^id: ([0-9a-f-]{36}):(\d+)\n/gm)];
      assert.deepEqual(
        ids.map((match) => Number(match[2])),
        ids.map((_, index) => index + 1),
      );
      const frames = wire.replace(/^id: .*\n/gm, '');
      assert.match(frames, /^(data: [^\n]+\n\n)+data: \[DONE\]\n\n$/);
      assert.equal(ids.length, frames.split('\n\n').length - 1);
      assert.equal(frames.replace(/data: |\n\n/g, ''), 'Tell me a story[DONE]');
      // The document's Python client: strip "data: ", stop at [DONE].
      const printed: string[] = [];
      for (const line of response.text.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const content = line.slice(6).trim();
        if (content === '[DONE]') break;
        printed.push(content);
      }
      assert.equal(printed.join(' '), 'Tell me a story');
      // A session was created, and the response says which.
      sessionId = Number(response.headers.get('x-session-id'));
      assert.ok(sessionId > 0);
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.temperature, 0.7);
    });

    test('a token spanning lines is sent with one data field per line (the SSE standard), and reads back whole', async () => {
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'first line\nsecond line' }] },
      });
      // However the text is split into events, a line break inside one is a new data field.
      assert.ok(/line\ndata: /.test(response.text), response.text);
      assert.ok(!/data: [^\n]*\n[^di\n]/.test(response.text), response.text);
      const tokens = response.events.map((e) => e.data);
      assert.equal(tokens.at(-1), '[DONE]');
      assert.equal(tokens.slice(0, -1).join(''), 'first line\nsecond line');
    });

    test('with session_id, the exchange is appended to that session (curl "Stream chat with session")', async () => {
      const response = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'Tell me another story' }], session_id: sessionId },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-session-id'), String(sessionId));
      // The model saw the session's history before the new message.
      assert.deepEqual(
        chat.upstream
          .chatRequests()
          .at(-1)!
          .body.messages.map((m: WireMessage) => m.content),
        ['Tell me a story', 'Tell me a story', 'Tell me another story'],
      );
      // A client that resends the whole conversation does not duplicate it.
      const replay = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: {
          model: 'gpt-4',
          session_id: sessionId,
          messages: [
            { role: 'user', content: 'Tell me a story' },
            { role: 'assistant', content: 'Tell me a story' },
            { role: 'user', content: 'Tell me another story' },
            { role: 'assistant', content: 'Tell me another story' },
            { role: 'user', content: 'The end' },
          ],
        },
      });
      assert.equal(replay.status, 200);
      const history = await api('/v1/chat/history');
      const session = history.body.sessions.find((s: WireSession) => s.id === sessionId);
      assert.deepEqual(
        session.messages.map((m: WireMessage) => m.content),
        ['Tell me a story', 'Tell me a story', 'Tell me another story', 'Tell me another story', 'The end', 'The end'],
      );
    });

    test('"stream": false answers JSON', async () => {
      const response = await api('/v1/chat/stream', {
        method: 'POST',
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'Short answer' }], stream: false },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body).sort(), ['message', 'model', 'session_id', 'title', 'usage']);
      assert.deepEqual(response.body.message, { role: 'assistant', content: 'Short answer' });
      assert.equal(response.body.model, 'gpt-4');
      assert.equal(response.body.title, 'Short answer');
      assert.equal(response.headers.get('x-session-id'), String(response.body.session_id));
      assert.notEqual(response.body.session_id, sessionId);
    });

    test('curl "Switch model" keeps the history, and later messages use the new model', async () => {
      const response = await api('/v1/chat/switch-model', {
        method: 'POST',
        body: { session_id: sessionId, model: 'gpt-3.5-turbo' },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body).sort(), [
        'messages',
        'messages_total',
        'model',
        'session_id',
        'title',
      ]);
      assert.equal(response.body.session_id, sessionId);
      assert.equal(response.body.model, 'gpt-3.5-turbo');
      assert.equal(response.body.title, 'Tell me a story');
      assert.equal(response.body.messages.length, 6);
      assert.deepEqual(response.body.messages[0], { role: 'user', content: 'Tell me a story' });
      // The next message in the session goes to the new model, with the whole history, even though the
      // client (as in the document's examples) still sends "model": "gpt-4".
      const next = await sse(server, '/v1/chat/stream', {
        auth: token,
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'Continue' }], session_id: sessionId },
      });
      assert.equal(next.status, 200);
      const sent = chat.upstream.chatRequests().at(-1)!.body;
      assert.equal(sent.model, upstreamNames['gpt-3.5-turbo']);
      assert.equal(sent.messages.length, 7);
    });

    test('switch-model answers 404 for an unknown session and 400 for an invalid model name', async () => {
      const missing = await api('/v1/chat/switch-model', {
        method: 'POST',
        body: { session_id: 999999, model: 'gpt-4' },
      });
      assert.equal(missing.status, 404);
      assert.equal(typeof missing.body.detail, 'string');
      const invalid = await api('/v1/chat/switch-model', {
        method: 'POST',
        body: { session_id: sessionId, model: 'gpt-17' },
      });
      assert.equal(invalid.status, 400);
      assert.match(invalid.body.detail, /gpt-17/);
      const malformed = await api('/v1/chat/switch-model', { method: 'POST', body: { model: 'gpt-4' } });
      assert.equal(malformed.status, 400);
    });

    test('curl "Get chat history" (page=1&page_size=10): {total, page, page_size, sessions}, newest update first', async () => {
      const response = await api('/v1/chat/history?page=1&page_size=10');
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body).sort(), ['page', 'page_size', 'sessions', 'total']);
      assert.equal(response.body.total, 3);
      assert.equal(response.body.page, 1);
      assert.equal(response.body.page_size, 10);
      const sessions = response.body.sessions;
      assert.equal(sessions[0].id, sessionId, 'the session used last comes first');
      const updated = sessions.map((s: WireSession) => s.updated_at);
      assert.deepEqual([...updated].sort().reverse(), updated);
      const first = sessions[0];
      assert.deepEqual(Object.keys(first).sort(), [
        'application_id',
        'created_at',
        'id',
        'messages',
        'messages_total',
        'model',
        'title',
        'updated_at',
        'user_id',
      ]);
      assert.equal(first.application_id, keyId);
      assert.equal(first.model, 'gpt-3.5-turbo');
      assert.match(first.created_at, isoPattern);
      assert.deepEqual(Object.keys(first.messages[0]).sort(), ['content', 'role']);
      assert.equal(first.messages.length, 8);
      const page2 = await api('/v1/chat/history?page=2&page_size=2');
      assert.equal(page2.body.total, 3);
      assert.equal(page2.body.page_size, 2);
      assert.deepEqual(
        page2.body.sessions.map((s: WireSession) => s.id),
        [sessions[2].id],
      );
      assert.equal((await api('/v1/chat/history?page_size=101')).status, 400);
      assert.equal((await api('/v1/chat/history?page=0')).status, 400);
    });

    test('curl "Get history with filters" (model=gpt-4&start_date=…): model, start and end dates, with or without a zone', async () => {
      const byModel = await api('/v1/chat/history?model=gpt-4&start_date=2024-01-01T00:00:00Z');
      assert.equal(byModel.status, 200);
      assert.equal(byModel.body.total, 2);
      assert.ok(byModel.body.sessions.every((s: WireSession) => s.model === 'gpt-4'));
      // The document's Python example sends a date without a zone (isoformat()).
      const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString().replace('Z', '000');
      const python = await api(`/v1/chat/history?model=gpt-4&start_date=${weekAgo}`);
      assert.equal(python.status, 200);
      assert.equal(python.body.total, 2);
      const future = await api('/v1/chat/history?start_date=2999-01-01');
      assert.equal(future.body.total, 0);
      assert.deepEqual(future.body.sessions, []);
      const past = await api('/v1/chat/history?end_date=2024-01-01T00:00:00Z');
      assert.equal(past.body.total, 0);
      const bad = await api('/v1/chat/history?start_date=yesterday');
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /start_date/);
    });

    test('curl "Delete a chat session": {"message": "Session deleted successfully"}, then 404', async () => {
      const response = await api(`/v1/chat/sessions/${sessionId}`, { method: 'DELETE' });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { message: 'Session deleted successfully' });
      const again = await api(`/v1/chat/sessions/${sessionId}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.equal(typeof again.body.detail, 'string');
      const history = await api('/v1/chat/history');
      assert.ok(!history.body.sessions.some((s: WireSession) => s.id === sessionId));
      // Streaming into a deleted session is a 404, not a new session.
      const stream = await api('/v1/chat/stream', {
        method: 'POST',
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], session_id: sessionId },
      });
      assert.equal(stream.status, 404);
    });

    test('401 without a token, 400 for invalid parameters, and history is per user', async () => {
      for (const [method, path] of [
        ['POST', '/v1/chat/stream'],
        ['POST', '/v1/chat/switch-model'],
        ['GET', '/v1/chat/history'],
        ['DELETE', '/v1/chat/sessions/1'],
      ] as const) {
        const response = await api(path, { method, auth: null, body: method === 'POST' ? {} : undefined });
        assert.equal(response.status, 401, `${method} ${path}`);
        assert.equal(typeof response.body.detail, 'string');
      }
      const noMessages = await api('/v1/chat/stream', { method: 'POST', body: { model: 'gpt-4', messages: [] } });
      assert.equal(noMessages.status, 400);
      const noModel = await api('/v1/chat/stream', {
        method: 'POST',
        body: { messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(noModel.status, 400);
      assert.match(noModel.body.detail, /model/);
      const unknownModel = await api('/v1/chat/stream', {
        method: 'POST',
        body: { model: 'gpt-17', messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(unknownModel.status, 400);
      assert.match(unknownModel.body.detail, /gpt-17/);
      const hot = await api('/v1/chat/stream', {
        method: 'POST',
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], temperature: 3 },
      });
      assert.equal(hot.status, 400);
      const stranger = await signUp(server, 'stranger-003');
      const theirs = await api('/v1/chat/history', { auth: stranger.basic });
      assert.equal(theirs.body.total, 0);
      const mine = (await api('/v1/chat/history')).body.sessions[0].id;
      assert.equal((await api(`/v1/chat/sessions/${mine}`, { method: 'DELETE', auth: stranger.basic })).status, 404);
      assert.equal(
        (
          await api('/v1/chat/switch-model', {
            method: 'POST',
            auth: stranger.basic,
            body: { session_id: mine, model: 'gpt-4' },
          })
        ).status,
        404,
      );
    });
  });
}
