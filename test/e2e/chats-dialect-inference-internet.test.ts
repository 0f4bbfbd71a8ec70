import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { startLoopback, startSearx, type LoopbackServer, type Searx } from '../helpers/searx.ts';
import { startChatServer, sse, type ChatServer } from './conversations-helpers.ts';
import type { WireMessage } from '../helpers/wire.ts';

/**
 * The chats dialect's inference_internet replayed against a real metasearch engine on loopback: searx,
 * whose only engine is a scripted JSON backend answering with pages this test serves. The model
 * (the scripted upstream, [[echo-prompt]]) answers with the prompt it received, so the answer shows
 * which page text reached it and the sources it was asked to cite.
 */
let web: LoopbackServer;
let searx: Searx;
const queries: string[] = [];

before(async () => {
  web = await startLoopback((request, response) => {
    const url = new URL(request.url!, 'http://x');
    if (url.pathname === '/engine') {
      queries.push(url.searchParams.get('q') ?? '');
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          results: [
            { url: `${web.url}/pages/tides`, title: 'Why the sea has tides', content: 'The moon and the tides' },
            { url: `${web.url}/pages/binary`, title: 'A tide table (binary)', content: 'Tables' },
            { url: `${web.url}/pages/moon`, title: 'The moon', content: 'Our satellite' },
          ],
        }),
      );
    } else if (url.pathname === '/pages/tides') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        '<html><head><title>Tides</title></head><body><article><h1>Tides</h1><p>Gravity of the moon pulls the oceans into two bulges, which is why most coasts see two high tides a day.</p></article></body></html>',
      );
    } else if (url.pathname === '/pages/moon') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('The moon orbits the earth every 27.3 days.');
    } else if (url.pathname === '/pages/binary') {
      response.writeHead(200, { 'content-type': 'application/pdf' });
      response.end(Buffer.alloc(2048, 1));
    } else {
      response.writeHead(404).end();
    }
  });
  searx = await startSearx(`${web.url}/engine`);
});
after(async () => {
  await searx?.stop();
  await web?.close();
});

for (const dialect of dialects) {
  describe(`the chats dialect inference_internet through searx (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;

    before(async () => {
      // The pages live on loopback: allowlisted here only (the guard refuses loopback by default).
      chat = await startChatServer(dialect, {
        CAUSERIE_SEARXNG_URL: searx.url,
        CAUSERIE_FETCH_ALLOWLIST: '127.0.0.1/32',
      });
      server = chat.server;
      key = (await createKey(server, (await signUp(server, 'surfer')).basic)).key;
    });
    after(() => chat.stop());

    const api = (path: string, options: { method?: string; body?: unknown } = {}) =>
      server.api(path, { auth: key, ...options });

    test('create chat → create conversation → inference_internet: sources first, an answer that saw the pages, stored with its sources', async () => {
      const created = (await api('/chats/create', { method: 'POST', body: { name: 'Sea' } })).body;
      const human = await api('/conversations/create', {
        method: 'POST',
        body: { chat_id: created.id, role: 'Human', message: 'Why are there two tides a day? [[echo-prompt]]' },
      });
      assert.equal(human.status, 201);

      const response = await sse(server, `/conversations/inference_internet/${created.id}`, { auth: key });
      assert.equal(response.status, 200, response.text);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      assert.match(queries.at(-1)!, /two tides a day/, 'searx passed the user message to its engine');

      const [first, ...rest] = response.events;
      assert.equal(first!.event, 'sources', 'the sources come before the text');
      const sources = JSON.parse(first!.data).sources;
      assert.deepEqual(sources, [
        { index: 1, title: 'Why the sea has tides', url: `${web.url}/pages/tides` },
        { index: 2, title: 'A tide table (binary)', url: `${web.url}/pages/binary` },
        { index: 3, title: 'The moon', url: `${web.url}/pages/moon` },
      ]);
      assert.equal(rest.at(-1)!.data, '[DONE]');
      const text = rest
        .filter((e) => e.event === 'message' && e.data !== '[DONE]')
        .map((e) => e.data)
        .join('');
      // What the model saw: the numbered sources, the pages' readable text, a request to cite them.
      assert.match(text, /cite the sources/);
      assert.match(text, /\[1\] Why the sea has tides/);
      assert.match(text, /Gravity of the moon pulls the oceans into two bulges/);
      assert.match(text, /\[3\] The moon/);
      assert.match(text, /orbits the earth every 27\.3 days/);
      assert.ok(!text.includes('\u0001'), 'the binary page was skipped');
      assert.match(text, /user: Why are there two tides a day\?/);

      const stored = JSON.parse(rest.find((e) => e.event === 'conversation')!.data);
      assert.equal(stored.role, 'Assistant');
      assert.equal(stored.chat_id, created.id);
      assert.equal(stored.message, text);
      assert.deepEqual(stored.sources, sources);

      // The answer is in the chat's history: the next plain inference sees it.
      await api('/conversations/create', {
        method: 'POST',
        body: { chat_id: created.id, role: 'Human', message: '[[echo-prompt]] thanks' },
      });
      const again = await sse(server, `/conversations/inference/${created.id}`, { auth: key });
      assert.notEqual(again.events[0]!.event, 'sources', 'plain inference does not search');
      assert.match(
        again.events
          .filter((e) => e.event === 'message')
          .map((e) => e.data)
          .join(''),
        /assistant: .*Gravity of the moon/s,
      );
    });
  });
}

describe('inference_internet without a search engine', () => {
  let chat: ChatServer;
  before(async () => {
    chat = await startChatServer('sqlite');
  });
  after(() => chat.stop());

  test('answers 503 web_search_unavailable naming the settings, and stores nothing', async () => {
    const { server } = chat;
    const created = (await server.api('/chats/create', { method: 'POST', body: { name: 'Offline' } })).body;
    await server.api('/conversations/create', {
      method: 'POST',
      body: { chat_id: created.id, role: 'Human', message: 'news?' },
    });
    const response = await server.api(`/conversations/inference_internet/${created.id}`);
    assert.equal(response.status, 503);
    assert.equal(response.body.code, 'web_search_unavailable');
    assert.match(response.body.detail, /CAUSERIE_SEARXNG_URL/);
    const history = await server.api(`/api/v1/sessions/${created.id}/history`);
    assert.deepEqual(
      history.body.map((m: WireMessage) => m.role),
      ['user'],
    );
  });

  test('the other surfaces refuse the same way, and a prompt sent with the request is not kept', async () => {
    const { server } = chat;
    const session = (await server.api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' } })).body;
    const refused = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
      method: 'POST',
      body: { prompt: 'news?', web_search: true },
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'web_search_unavailable');
    assert.deepEqual((await server.api(`/api/v1/sessions/${session.id}/history`)).body, []);
    const openai = await server.api('/v1/chat/completions', {
      method: 'POST',
      body: { model: 'gpt-4', web_search_options: {}, messages: [{ role: 'user', content: 'news?' }] },
    });
    assert.equal(openai.status, 503);
    assert.equal(openai.body.error.code, 'web_search_unavailable');
    assert.match(openai.body.error.message, /CAUSERIE_SEARXNG_URL/);
    // Without web search the same requests are answered.
    assert.equal(
      (
        await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
          method: 'POST',
          body: { prompt: 'news?' },
        })
      ).status,
      200,
    );
  });
});
