import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  joinedEvents,
  parseSseWithIds,
  readSseStream,
  resumeSseStream,
  type SseEventWithId,
  type StreamRequest,
} from '../helpers/sse-streams.ts';
import type { Json, WireMessage } from '../helpers/wire.ts';
import { parseSse } from './conversations-helpers.ts';
import { slowWords, wordsAnswer } from './streams-resume-helpers.ts';

/**
 * Three Causerie nodes behind nginx (round-robin, no stickiness), sharing one PostgreSQL database
 * and one Redis: what a client of the load balancer observes holds whichever node answers.
 */
describe('three nodes behind nginx', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({
      nodes: 3,
      // A dropped client's answer goes on for it to resume on another node; a dead node is noticed fast.
      env: { CAUSERIE_STREAM_RESUME_GRACE_SECONDS: '60', CAUSERIE_STREAM_LIVENESS_MS: '1000' },
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  /** One HTTP call, JSON in; the body parsed when it is JSON. */
  async function call(
    base: string,
    path: string,
    options: { method?: string; body?: unknown; auth?: string; headers?: Record<string, string> } = {},
  ) {
    const response = await fetch(`${base}${path}`, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: {
        authorization: `Bearer ${options.auth ?? cluster.adminKey}`,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: Json = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: response.status, headers: response.headers, text, body };
  }

  const node = (index: number) => cluster.nodes[index]!.url;

  test('200 concurrent requests with a key limited to 50 a day: exactly 50 succeed', async () => {
    const created = await call(cluster.url, '/api/v1/keys', {
      body: { name: 'fifty a day', limits: { requests_per_day: 50 } },
    });
    assert.equal(created.status, 201, created.text);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call(cluster.url, '/v1/chat/completions', {
          auth: created.body.key,
          body: { model: 'mock/echo', messages: [{ role: 'user', content: `request ${i}` }], max_tokens: 4 },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 50, `statuses: ${[...new Set(statuses)].join(', ')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 150);
  });

  test('a conversation written through one node reads the same through the others, on every surface', async () => {
    // Native sessions: created on node 0, completed on node 1, read on every node.
    const session = await call(node(0), '/api/v1/sessions', { body: { title: 'native' } });
    assert.equal(session.status, 201, session.text);
    const completed = await call(node(1), `/api/v1/sessions/${session.body.id}/models/completions`, {
      body: { model_id: 'mock/echo', prompt: 'native hello' },
    });
    assert.equal(completed.status, 200, completed.text);
    for (const index of [0, 1, 2]) {
      const history = await call(node(index), `/api/v1/sessions/${session.body.id}/history`);
      assert.deepEqual(
        history.body.map((m: WireMessage) => [m.role, m.content, m.status]),
        [
          ['user', 'native hello', 'complete'],
          ['assistant', 'native hello', 'complete'],
        ],
        `node ${index}`,
      );
    }

    // Conversations with messages and messages:complete: a step on each node.
    const conversation = await call(node(0), '/conversations', { body: { title: 'service' } });
    assert.equal(conversation.status, 201, conversation.text);
    const id = conversation.body.id;
    assert.equal(
      (await call(node(1), `/conversations/${id}/messages`, { body: { content: 'service hello' } })).status,
      201,
    );
    const answer = await call(node(2), `/conversations/${id}/messages:complete`, { body: { stream: false } });
    assert.equal(answer.status, 200, answer.text);
    const expected = [
      ['user', 'service hello'],
      ['assistant', 'service hello'],
    ];
    for (const index of [0, 1, 2]) {
      const messages = await call(node(index), `/conversations/${id}/messages`);
      assert.deepEqual(
        messages.body.map((m: WireMessage) => [m.role, m.content]),
        expected,
        `node ${index}`,
      );
    }

    // Chat stream: a session started on node 0, continued (streamed) on node 1, listed on every node.
    const first = await call(node(0), '/v1/chat/stream', {
      body: { model: 'mock/echo', messages: [{ role: 'user', content: 'stream one' }], stream: false },
    });
    assert.equal(first.status, 200, first.text);
    const sessionId = first.body.session_id;
    const second = await call(node(1), '/v1/chat/stream', {
      body: { model: 'mock/echo', messages: [{ role: 'user', content: 'stream two' }], session_id: sessionId },
    });
    assert.equal(second.status, 200, second.text);
    assert.equal(parseSse(second.text).at(-1)?.data, '[DONE]');
    for (const index of [0, 1, 2]) {
      const history = await call(node(index), '/v1/chat/history?page_size=100');
      const listed = history.body.sessions.find((s: Json) => s.id === sessionId);
      assert.deepEqual(
        listed?.messages.map((m: WireMessage) => m.content),
        ['stream one', 'stream one', 'stream two', 'stream two'],
        `node ${index}`,
      );
    }

    // Chats: created on node 0, a Human message on node 1, inference on node 2, read everywhere.
    const chat = await call(node(0), '/chats/create', { body: { name: 'chats' } });
    assert.equal(chat.status, 201, chat.text);
    const human = await call(node(1), '/conversations/create', {
      body: { chat_id: chat.body.id, role: 'Human', message: 'chats hello' },
    });
    assert.equal(human.status, 201, human.text);
    const inference = await call(node(2), `/conversations/inference/${chat.body.id}`, {
      headers: { accept: 'text/event-stream' },
    });
    assert.equal(inference.status, 200, inference.text);
    const stored = JSON.parse(parseSse(inference.text).find((e) => e.event === 'conversation')!.data);
    for (const index of [0, 1, 2]) {
      assert.equal((await call(node(index), `/chats/${chat.body.id}`)).body.name, 'chats', `node ${index}`);
      const history = await call(node(index), `/api/v1/sessions/${chat.body.id}/history`);
      assert.deepEqual(
        history.body.map((m: WireMessage) => [m.uuid, m.content, m.status]),
        [
          [human.body.id, 'chats hello', 'complete'],
          [stored.id, 'chats hello', 'complete'],
        ],
        `node ${index}`,
      );
    }
  });

  test('a rolling restart (each node SIGTERMed and started again in turn) under steady load fails no request', async () => {
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(' ');
    const failures: string[] = [];
    let done = 0;
    let loading = true;
    const jsonRequest = async (i: number) => {
      const response = await call(cluster.url, '/v1/chat/completions', {
        body: { model: 'mock/echo', messages: [{ role: 'user', content: `json ${i}` }] },
      });
      if (response.status !== 200 || response.body.choices?.[0]?.message?.content !== `json ${i}`)
        failures.push(`json ${i}: ${response.status} ${response.text.slice(0, 200)}`);
    };
    const streamRequest = async (i: number) => {
      const response = await call(cluster.url, '/v1/chat/completions', {
        body: {
          model: 'mock/echo',
          stream: true,
          messages: [{ role: 'user', content: `[[reply:${words}]] [[chunk-delay:20]] stream ${i}` }],
        },
      });
      const events = response.status === 200 ? parseSse(response.text) : [];
      const text = events
        .filter((e) => e.data !== '[DONE]')
        .map((e) => JSON.parse(e.data).choices?.[0]?.delta?.content ?? '')
        .join('');
      if (events.at(-1)?.data !== '[DONE]' || text !== words)
        failures.push(`stream ${i}: ${response.status} ${response.text.slice(-200)}`);
    };
    // Six clients, each alternating JSON and streamed requests, until the restarts are over.
    const clients = Array.from({ length: 6 }, async (_, client) => {
      for (let i = 0; loading && i < 10_000; i++) {
        const n = client * 10_000 + i;
        await (i % 2 === 0 ? jsonRequest(n) : streamRequest(n)).catch((error: Error) =>
          failures.push(`request ${n}: ${error.message} ${String((error.cause as Error)?.message ?? '')}`),
        );
        done++;
      }
    });
    for (const index of [0, 1, 2]) {
      const exit = await cluster.stopNode(index);
      assert.deepEqual(exit, { code: 0, signal: null }, `node ${index} exits 0 after draining`);
      await cluster.startNode(index);
    }
    // Some more traffic once every node is back, then the clients stop.
    const target = done + 30;
    while (done < target && failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    loading = false;
    await Promise.all(clients);
    assert.deepEqual(failures, [], `${failures.slice(0, 5).join('\n')}\nnginx error log:\n${cluster.nginxErrors()}`);
    assert.ok(done > 50, `only ${done} requests were made`);
  });

  /** Polls every node directly until `auth` is refused; fails if one still accepts it 1 s after the call. */
  async function refusedEverywhereWithinOneSecond(auth: string, what: string) {
    const deadline = performance.now() + 1000;
    for (const index of [0, 1, 2]) {
      for (;;) {
        const status = (await call(node(index), '/api/v1/me', { auth })).status;
        if (status === 401) break;
        assert.equal(status, 200);
        assert.ok(performance.now() < deadline, `node ${index} still accepts ${what} 1 s after the change`);
      }
    }
  }

  test('a disabled account and ended sign-ins are refused by every node within one second', async () => {
    const password = 'a-password-of-the-test';
    const user = await call(cluster.url, '/users', { body: { username: 'leaving', password } });
    assert.equal(user.status, 201, user.text);
    const key = (await call(cluster.url, '/api/v1/keys', { body: { user_id: user.body.id } })).body.key;
    const signIn = async () => {
      const response = await fetch(`${cluster.url}/oauth/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'password', username: 'leaving', password }),
      });
      return ((await response.json()) as { access_token: string }).access_token;
    };
    const token = await signIn();
    // Every node checks both once (and keeps them in its cache).
    for (const index of [0, 1, 2])
      for (const auth of [key, token]) assert.equal((await call(node(index), '/api/v1/me', { auth })).status, 200);

    assert.equal((await call(node(1), '/api/v1/me/sign-out-everywhere', { method: 'POST', auth: token })).status, 200);
    await refusedEverywhereWithinOneSecond(token, 'the signed-out access token');
    for (const index of [0, 1, 2]) assert.equal((await call(node(index), '/api/v1/me', { auth: key })).status, 200);

    const disabled = await call(node(2), `/api/v1/users/${user.body.id}`, {
      method: 'PATCH',
      body: { disabled: true },
    });
    assert.equal(disabled.status, 200, disabled.text);
    await refusedEverywhereWithinOneSecond(key, "the disabled account's key");
  });

  test('a key revoked through one node is refused by every node within one second, and its streams stop', async () => {
    const created = await call(cluster.url, '/api/v1/keys', { body: { name: 'to revoke' } });
    assert.equal(created.status, 201, created.text);
    const key = created.body.key;
    // Each node checks the key once (and keeps it in its cache).
    for (const index of [0, 1, 2]) assert.equal((await call(node(index), '/api/v1/me', { auth: key })).status, 200);
    // A slow stream with the key runs on node 2.
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const stream = await fetch(`${node(2)}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'mock/echo',
        stream: true,
        messages: [{ role: 'user', content: `[[reply:${words}]] [[chunk-delay:100]]` }],
      }),
    });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    await reader.read();

    const revoked = await call(node(0), `/api/v1/keys/${created.body.id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200, revoked.text);
    await refusedEverywhereWithinOneSecond(key, 'the revoked key');
    // The stream on node 2 ends long before its hundred words (ten seconds at this pace).
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.ok(!text.includes('w99'), 'the stream was stopped');
  });

  /** A streamed native completion in a new session, through nginx. */
  async function streamedCompletion(words: number): Promise<{ session: number; request: StreamRequest }> {
    const session = (await call(cluster.url, '/api/v1/sessions', { body: {} })).body.id as number;
    return {
      session,
      request: {
        url: `${cluster.url}/api/v1/sessions/${session}/models/completions`,
        headers: { authorization: `Bearer ${cluster.adminKey}` },
        body: { model_id: 'mock/echo', prompt: slowWords(words, 20), stream: true },
      },
    };
  }
  const deltaText = (events: SseEventWithId[]) =>
    events
      .map((e) => (e.data.startsWith('{') ? JSON.parse(e.data) : undefined))
      .filter((e) => e?.type === 'delta')
      .map((e) => e.content)
      .join('');
  const lastReply = async (session: number): Promise<WireMessage> =>
    (await call(cluster.url, `/api/v1/sessions/${session}/history`)).body.at(-1);

  test('100 streams, each dropped at a random point and resumed with Last-Event-ID through nginx, end whole and as stored', async () => {
    const words = 30;
    const results = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const { session, request } = await streamedCompletion(words);
        // Fewer events than the answer has, so every client drops in the middle.
        const first = await readSseStream(request, { dropAfter: 2 + Math.floor(Math.random() * (words - 5)) });
        const rest = await resumeSseStream(request, first.lastEventId!);
        return { session, first, rest };
      }),
    );
    for (const { session, first, rest } of results) {
      assert.equal(first.status, 200, first.text);
      assert.equal(rest.status, 200, rest.text);
      assert.ok(rest.ended, 'the resumed stream ends by itself');
      const text = deltaText(joinedEvents(first, rest));
      assert.equal(text, wordsAnswer(words), `session ${session}: the whole answer, each word once`);
      const stored = await eventually(async () => {
        const reply = await lastReply(session);
        return reply.status === 'complete' ? reply : undefined;
      });
      assert.equal(stored.content, text, `session ${session}: what the client read is what is stored`);
    }
  });

  test('a node SIGKILLed mid-stream: its clients, resuming through nginx, get the stored partial answer and an error within 5 s; no conversation stays locked', async () => {
    const words = 150;
    const streams = await Promise.all(
      Array.from({ length: 9 }, async () => {
        const { session, request } = await streamedCompletion(words);
        return { session, request, reading: followStream(request) };
      }),
    );
    // Every stream is under way (on whichever node nginx chose) before node 0 dies.
    await Promise.all(streams.map((stream) => stream.reading.started));
    const killedAt = performance.now();
    await cluster.killNode(0);
    const outcomes = await Promise.all(streams.map((stream) => stream.reading.finished));
    const affected = streams.filter((_, i) => outcomes[i] === 'broken');
    assert.ok(affected.length > 0, 'round-robin put some of the nine streams on node 0');
    for (const stream of streams.filter((_, i) => outcomes[i] === 'ended'))
      assert.equal(deltaText(stream.reading.events), wordsAnswer(words), 'streams on the other nodes end whole');

    await Promise.all(
      affected.map(async ({ session, request, reading }) => {
        const rest = await resumeSseStream(request, reading.lastEventId()!);
        const waited = performance.now() - killedAt;
        assert.equal(rest.status, 200, rest.text);
        assert.ok(rest.ended, 'the resumed stream ends instead of hanging');
        const error = rest.events
          .map((e) => (e.data.startsWith('{') ? JSON.parse(e.data) : {}))
          .find((e) => e.type === 'error');
        assert.equal(error?.code, 'answer_interrupted');
        assert.ok(waited < 5000, `session ${session}: the error came ${Math.round(waited)} ms after the kill`);
        const text = deltaText([...reading.events, ...rest.events]);
        const stored = await lastReply(session);
        assert.equal(stored.status, 'error');
        assert.ok(
          stored.content.length > 0 && text.startsWith(stored.content),
          'the client has the stored partial answer',
        );
        assert.ok(wordsAnswer(words).startsWith(text), 'in order, nothing repeated');
        // The conversation is free at once: the next message is answered.
        const next = await call(cluster.url, `/api/v1/sessions/${session}/models/completions`, {
          body: { model_id: 'mock/echo', prompt: 'encore' },
        });
        assert.equal(next.status, 200, next.text);
      }),
    );
  });
});

/**
 * Reads a stream as it comes, without dropping it: `started` once three events arrived, `finished`
 * with 'ended' when the server ended it, or 'broken' when the connection was cut (its node died).
 */
function followStream(request: StreamRequest) {
  const events: SseEventWithId[] = [];
  let lastEventId: string | undefined;
  const started = Promise.withResolvers<void>();
  const finished = (async (): Promise<'ended' | 'broken'> => {
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', ...request.headers },
        body: JSON.stringify(request.body),
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'ended';
        buffer += decoder.decode(value, { stream: true });
        const cut = buffer.lastIndexOf('\n\n');
        if (cut < 0) continue;
        for (const event of parseSseWithIds(buffer.slice(0, cut + 2))) {
          events.push(event);
          if (event.id !== undefined) lastEventId = event.id;
        }
        buffer = buffer.slice(cut + 2);
        if (events.length >= 3) started.resolve();
      }
    } catch {
      return 'broken';
    } finally {
      started.resolve();
    }
  })();
  return { events, lastEventId: () => lastEventId, started: started.promise, finished };
}
