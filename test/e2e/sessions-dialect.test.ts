import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import {
  eventually,
  openStream,
  startChatServer,
  sse,
  upstreamNames,
  type ChatServer,
} from './conversations-helpers.ts';
import type { Json, WireMessage, WireSession } from '../helpers/wire.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The sessions dialect ("API Project"), its "Sessions" section replayed: with an API key in
 * `Authorization: Bearer <api_key>`, create a session, list and read it, send prompts to a model
 * in it, read its history, delete one message by its id (the document's note), delete the session.
 */
for (const dialect of dialects) {
  describe(`the sessions dialect sessions (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;
    let otherKey: string;
    let keyId: number;
    let session: Json;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      // "Vous devez d'abord récupérer ou créer dans la Base de données une clé api"
      const user = await signUp(server, 'marie');
      ({ key, id: keyId } = await createKey(server, user.basic, { name: 'the sessions dialect' }));
      const other = await signUp(server, 'intruder');
      otherKey = (await createKey(server, other.basic)).key;
    });
    after(() => chat.stop());

    const headers = { accept: 'application/json' };
    const api = (path: string, options: { method?: string; body?: unknown; auth?: string | null } = {}) =>
      server.api(path, { headers, auth: key, ...options });

    test('POST /api/v1/sessions creates a session (201), owned by the caller, through its API key', async () => {
      const response = await api('/api/v1/sessions', { method: 'POST' });
      assert.equal(response.status, 201);
      session = response.body;
      assert.deepEqual(Object.keys(session).sort(), [
        'agent_id',
        'application_id',
        'created_at',
        'id',
        'metadata',
        'model',
        'system_prompt',
        'title',
        'updated_at',
        'user_id',
        'uuid',
      ]);
      assert.equal(typeof session.id, 'number');
      assert.match(session.uuid, uuidPattern);
      assert.equal(session.application_id, keyId);
      assert.equal(session.title, null);
      assert.match(session.created_at, isoPattern);
      assert.deepEqual(session.metadata, {});
      const withFields = await api('/api/v1/sessions', {
        method: 'POST',
        body: { title: 'Mistral', model: 'gpt-4', system_prompt: 'Réponds en français.', metadata: { topic: 'tests' } },
      });
      assert.equal(withFields.status, 201);
      assert.equal(withFields.body.model, 'gpt-4');
      assert.deepEqual(withFields.body.metadata, { topic: 'tests' });
      const unknownModel = await api('/api/v1/sessions', { method: 'POST', body: { model: 'no-such-model' } });
      assert.equal(unknownModel.status, 400);
      assert.equal(unknownModel.body.code, 'validation_failed');
    });

    test('GET /api/v1/sessions lists the sessions, newest activity first, paginated with X-Total-Count', async () => {
      const response = await api('/api/v1/sessions');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-total-count'), '2');
      assert.equal(response.body.length, 2);
      assert.equal(response.body[0].title, 'Mistral');
      const page = await api('/api/v1/sessions?limit=1&offset=1');
      assert.deepEqual(
        page.body.map((s: WireSession) => s.id),
        [session.id],
      );
      assert.equal((await api('/api/v1/sessions?limit=101')).status, 400);
      const theirs = await api('/api/v1/sessions', { auth: otherKey });
      assert.deepEqual(theirs.body, []);
    });

    test('GET /api/v1/sessions/{session_id} reads a session by id or by UUID', async () => {
      const byId = await api(`/api/v1/sessions/${session.id}`);
      assert.equal(byId.status, 200);
      assert.deepEqual(byId.body, session);
      const byUuid = await api(`/api/v1/sessions/${session.uuid}`);
      assert.deepEqual(byUuid.body, session);
      assert.equal((await api('/api/v1/sessions/999999')).status, 404);
      assert.equal((await api('/api/v1/sessions/not-an-id')).status, 400);
    });

    test('POST /api/v1/sessions/{session_id}/models/completions sends a prompt with model_id and stores both messages', async () => {
      const response = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { model_id: 'gpt-4', prompt: 'Bonjour Mistral' },
      });
      assert.equal(response.status, 200);
      const body = response.body;
      assert.deepEqual(Object.keys(body).sort(), ['message', 'model', 'session_id', 'usage', 'user_message']);
      assert.equal(body.session_id, session.id);
      assert.equal(body.model, 'gpt-4');
      assert.deepEqual(
        [body.user_message.role, body.user_message.content, body.user_message.status],
        ['user', 'Bonjour Mistral', 'complete'],
      );
      assert.deepEqual(
        [body.message.role, body.message.content, body.message.status, body.message.model],
        ['assistant', 'Bonjour Mistral', 'complete', 'gpt-4'],
      );
      assert.deepEqual(body.usage, { prompt_tokens: 2, completion_tokens: 2 });
      assert.equal(body.message.session_id, session.id);
      assert.equal(chat.upstream.chatRequests().at(-1)!.body.model, upstreamNames['gpt-4']);
      // The session took the model and a title from its first prompt.
      const after = await api(`/api/v1/sessions/${session.id}`);
      assert.equal(after.body.model, 'gpt-4');
      assert.equal(after.body.title, 'Bonjour Mistral');
    });

    test('with "stream": true the answer is Server-Sent Events: start, deltas, end, [DONE]', async () => {
      const response = await sse(server, `/api/v1/sessions/${session.uuid}/models/completions`, {
        auth: key,
        body: { prompt: 'Raconte une histoire\nen deux lignes', stream: true },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      const datas = response.events.map((e) => e.data);
      assert.equal(datas.at(-1), '[DONE]');
      const parsed = datas.slice(0, -1).map((d) => JSON.parse(d));
      assert.equal(parsed[0].type, 'start');
      assert.equal(parsed[0].session_id, session.id);
      assert.equal(parsed[0].model, 'gpt-4', 'the session model is used when model_id is left out');
      assert.equal(parsed[0].user_message.content, 'Raconte une histoire\nen deux lignes');
      const deltas = parsed.filter((p) => p.type === 'delta');
      // Text that reaches Causerie in one network read comes as one delta (decision 027): the split varies, the text does not.
      assert.ok(deltas.length >= 1);
      assert.equal(deltas.map((d) => d.content).join(''), 'Raconte une histoire\nen deux lignes');
      const end = parsed.at(-1);
      assert.equal(end.type, 'end');
      assert.equal(end.message.id, parsed[0].message_id);
      assert.equal(end.message.status, 'complete');
      assert.equal(end.message.content, 'Raconte une histoire\nen deux lignes');
    });

    test('GET /api/v1/sessions/{session_id}/history holds every message in order, each with its own id', async () => {
      const response = await api(`/api/v1/sessions/${session.id}/history`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-total-count'), '4');
      assert.deepEqual(
        response.body.map((m: WireMessage) => [m.role, m.content, m.status]),
        [
          ['user', 'Bonjour Mistral', 'complete'],
          ['assistant', 'Bonjour Mistral', 'complete'],
          ['user', 'Raconte une histoire\nen deux lignes', 'complete'],
          ['assistant', 'Raconte une histoire\nen deux lignes', 'complete'],
        ],
      );
      const ids = response.body.map((m: WireMessage) => m.id);
      assert.deepEqual(
        [...ids].sort((a: number, b: number) => a - b),
        ids,
      );
      assert.equal(new Set(response.body.map((m: WireMessage) => m.uuid)).size, 4);
      const page = await api(`/api/v1/sessions/${session.id}/history?limit=2&offset=2`);
      assert.deepEqual(
        page.body.map((m: WireMessage) => m.id),
        ids.slice(2),
      );
      // The model received the history before the new prompt.
      const sent = chat.upstream.chatRequests().at(-1)!.body.messages;
      assert.deepEqual(
        sent.map((m: WireMessage) => m.role),
        ['user', 'assistant', 'user'],
      );
    });

    test('one message is read and deleted by its id (the sessions dialect note), inside its session or on its own', async () => {
      const history = (await api(`/api/v1/sessions/${session.id}/history`)).body;
      const [first, second] = history;
      const read = await api(`/api/v1/sessions/${session.id}/messages/${first.id}`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, first);
      assert.deepEqual((await api(`/api/v1/messages/${second.uuid}`)).body, second);
      const deleted = await api(`/api/v1/sessions/${session.id}/messages/${first.id}`, { method: 'DELETE' });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assert.equal((await api(`/api/v1/messages/${second.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await api(`/api/v1/messages/${first.id}`)).status, 404);
      const after = await api(`/api/v1/sessions/${session.id}/history`);
      assert.equal(after.headers.get('x-total-count'), '2');
    });

    test("another user's session answers 404 on every route, and no credentials answer 401", async () => {
      const other = { auth: otherKey };
      assert.equal((await api(`/api/v1/sessions/${session.id}`, other)).status, 404);
      assert.equal((await api(`/api/v1/sessions/${session.id}/history`, other)).status, 404);
      assert.equal(
        (
          await api(`/api/v1/sessions/${session.id}/models/completions`, {
            ...other,
            method: 'POST',
            body: { prompt: 'hi' },
          })
        ).status,
        404,
      );
      assert.equal((await api(`/api/v1/sessions/${session.id}`, { ...other, method: 'DELETE' })).status, 404);
      const history = (await api(`/api/v1/sessions/${session.id}/history`)).body;
      assert.equal((await api(`/api/v1/messages/${history[0].id}`, other)).status, 404);
      const anonymous = await api('/api/v1/sessions', { auth: null });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.code, 'unauthorized');
    });

    test('a failure before the model answers stores nothing; a failure mid-stream keeps the partial reply as error', async () => {
      const before = (await api(`/api/v1/sessions/${session.id}/history`)).body.length;
      const refused = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: '[[status:400]] no' },
      });
      assert.equal(refused.status >= 400, true);
      assert.equal((await api(`/api/v1/sessions/${session.id}/history`)).body.length, before);
      const unknown = await api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: 'hi', model_id: 'nope' },
      });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.detail, /unknown model "nope"/);
      assert.equal((await api(`/api/v1/sessions/${session.id}/history`)).body.length, before);
      const broken = await sse(server, `/api/v1/sessions/${session.id}/models/completions`, {
        auth: key,
        body: { prompt: 'one two three four five [[fail-after:2]]', stream: true },
      });
      assert.equal(broken.status, 200);
      const last = broken.events
        .map((e) => (e.data === '[DONE]' ? e.data : JSON.parse(e.data)))
        .filter((d) => d !== '[DONE]')
        .at(-1);
      assert.equal(last.type, 'error');
      assert.equal(last.code, 'upstream_error');
      const history = (await api(`/api/v1/sessions/${session.id}/history`)).body;
      assert.deepEqual(
        history.slice(-2).map((m: WireMessage) => [m.role, m.content, m.status]),
        [
          ['user', 'one two three four five [[fail-after:2]]', 'complete'],
          ['assistant', 'one two ', 'error'],
        ],
      );
    });

    test('a client that leaves mid-stream stops the model; the partial reply is kept as cancelled', async () => {
      const words = Array.from({ length: 100 }, (_, i) => `mot${i}`).join(' ');
      const stream = await openStream(`${server.url}/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({ prompt: `${words} [[chunk-delay:30]]`, stream: true }),
      });
      await stream.readUntil((text) => (text.match(/"type":"delta"/g) ?? []).length >= 3);
      stream.abort();
      const reply = await eventually(
        async () => {
          const history = (await api(`/api/v1/sessions/${session.id}/history`)).body;
          return history.at(-1).status === 'streaming' ? undefined : history.at(-1);
        },
        { what: 'the reply to be settled' },
      );
      assert.equal(reply.role, 'assistant');
      assert.equal(reply.status, 'cancelled');
      assert.ok(reply.content.startsWith('mot0 mot1 mot2'), reply.content);
      assert.ok(words.startsWith(reply.content) && reply.content.length < words.length);
      // The upstream request was closed early, not read to its end.
      const upstreamRequest = chat.upstream.chatRequests().at(-1)!;
      await upstreamRequest.settled;
      assert.ok(upstreamRequest.closedEarlyAt !== undefined, 'the model call was aborted');
    });

    test('DELETE /api/v1/sessions/{session_id} destroys the session and its history', async () => {
      const response = await api(`/api/v1/sessions/${session.id}`, { method: 'DELETE' });
      assert.equal(response.status, 204);
      assert.equal((await api(`/api/v1/sessions/${session.id}`)).status, 404);
      assert.equal((await api(`/api/v1/sessions/${session.id}/history`)).status, 404);
      assert.equal((await api(`/api/v1/sessions/${session.id}`, { method: 'DELETE' })).status, 404);
    });
  });
}
