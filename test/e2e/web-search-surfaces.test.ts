import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { serveHostilePage } from '../fixtures/hostile-pages.ts';
import { startLoopback, startSearx, type LoopbackServer, type Searx } from '../helpers/searx.ts';
import { startChatServer, sse, type ChatServer } from './conversations-helpers.ts';
import type { Json, WireLimit } from '../helpers/wire.ts';

/**
 * Web search on every chat surface, one request at a time ("web_search": true, or OpenAI's
 * web_search_options), through searx on loopback; and searches_per_day with the usage ledger.
 */
let web: LoopbackServer;
let searx: Searx;

before(async () => {
  web = await startLoopback((request, response) => {
    const url = new URL(request.url!, 'http://x');
    if (url.pathname === '/engine' && url.searchParams.get('q')!.includes('unruly')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          results: [
            { url: `${web.url}/endless`, title: 'Endless', content: 'never ends' },
            { url: `${web.url}/huge`, title: 'Huge', content: '50 MB' },
            { url: `${web.url}/binary`, title: 'Binary', content: 'bytes' },
          ],
        }),
      );
    } else if (url.pathname === '/engine') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ results: [{ url: `${web.url}/volcano`, title: 'Volcanoes', content: 'Magma and lava' }] }),
      );
    } else if (serveHostilePage(url.pathname, response)) {
      // /endless, /huge, /binary
    } else if (url.pathname === '/volcano') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(
        '<html><head><title>Volcanoes</title></head><body><main><p>Basaltic lava flows at about 1200 degrees Celsius, hotter than most.</p></main></body></html>',
      );
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

const pageFact = /Basaltic lava flows at about 1200 degrees/;
const messagesOf = (events: Array<{ event: string; data: string }>) =>
  events.filter((e) => e.event === 'message' && e.data !== '[DONE]');

for (const dialect of dialects) {
  describe(`web search on every surface (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;
    let sources: Array<{ index: number; title: string; url: string }>;

    before(async () => {
      chat = await startChatServer(dialect, {
        CAUSERIE_SEARXNG_URL: searx.url,
        CAUSERIE_FETCH_ALLOWLIST: '127.0.0.1',
        CAUSERIE_SEARCH_PRICE: '0.005',
        CAUSERIE_WEB_PAGE_MAX_BYTES: '65536',
      });
      server = chat.server;
      key = (await createKey(server, (await signUp(server, 'vulcan')).basic)).key;
      sources = [{ index: 1, title: 'Volcanoes', url: `${web.url}/volcano` }];
    });
    after(() => chat.stop());

    test('spec 003 /v1/chat/stream: event: sources, then the text; JSON answers carry sources', async () => {
      const streamed = await sse(server, '/v1/chat/stream', {
        auth: key,
        body: {
          model: 'gpt-4',
          web_search: true,
          messages: [{ role: 'user', content: 'How hot is lava? [[echo-prompt]]' }],
        },
      });
      assert.equal(streamed.status, 200, streamed.text);
      assert.equal(streamed.events[0]!.event, 'sources');
      assert.deepEqual(JSON.parse(streamed.events[0]!.data), { sources });
      assert.match(
        messagesOf(streamed.events)
          .map((e) => e.data)
          .join(''),
        pageFact,
      );
      const json = await server.api('/v1/chat/stream', {
        auth: key,
        method: 'POST',
        body: {
          model: 'gpt-4',
          stream: false,
          web_search: true,
          messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
        },
      });
      assert.equal(json.status, 200, json.text);
      assert.deepEqual(json.body.sources, sources);
      assert.match(json.body.message.content, pageFact);
      const plain = await server.api('/v1/chat/stream', {
        auth: key,
        method: 'POST',
        body: { model: 'gpt-4', stream: false, messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }] },
      });
      assert.equal(plain.body.sources, undefined);
      assert.doesNotMatch(plain.body.message.content, pageFact);
    });

    test('session completions: {"type":"sources"} after start; the stored reply keeps its sources', async () => {
      const session = (await server.api('/api/v1/sessions', { auth: key, method: 'POST', body: { model: 'gpt-4' } }))
        .body;
      const streamed = await sse(server, `/api/v1/sessions/${session.id}/models/completions`, {
        auth: key,
        body: { prompt: 'lava? [[echo-prompt]]', stream: true, web_search: true },
      });
      const frames = messagesOf(streamed.events).map((e) => JSON.parse(e.data));
      assert.deepEqual(frames.map((f) => f.type).slice(0, 2), ['start', 'sources']);
      assert.deepEqual(frames[1].sources, sources);
      assert.match(
        frames
          .filter((f) => f.type === 'delta')
          .map((f) => f.content)
          .join(''),
        pageFact,
      );
      const history = (await server.api(`/api/v1/sessions/${session.id}/history`, { auth: key })).body;
      assert.deepEqual(history.at(-1).sources, sources);
      assert.equal(history.at(-2).sources, undefined, 'the user message has none');
      const json = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        auth: key,
        method: 'POST',
        body: { prompt: 'more [[echo-prompt]]', web_search: true },
      });
      assert.deepEqual(json.body.message.sources, sources);
    });

    test('an agent that always searches does so in its sessions, unless a request says web_search: false', async () => {
      const agent = await server.api('/api/v1/models/agents?name=Researcher', {
        auth: key,
        method: 'POST',
        body: { model_id: 'gpt-4', web_search: true },
      });
      assert.equal(agent.status, 201, agent.text);
      assert.equal(agent.body.web_search, true);
      const session = (
        await server.api('/api/v1/sessions', { auth: key, method: 'POST', body: { agent_id: agent.body.id } })
      ).body;
      const searched = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        auth: key,
        method: 'POST',
        body: { prompt: 'lava? [[echo-prompt]]' },
      });
      assert.equal(searched.status, 200, searched.text);
      assert.deepEqual(searched.body.message.sources, sources);
      assert.match(searched.body.message.content, pageFact);
      const declined = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        auth: key,
        method: 'POST',
        body: { prompt: 'no search [[echo-prompt]]', web_search: false },
      });
      assert.equal(declined.body.message.sources, undefined);
      const plain = await server.api('/api/v1/models/agents?name=Plain', {
        auth: key,
        method: 'POST',
        body: { model_id: 'gpt-4' },
      });
      assert.equal(plain.body.web_search, false);
      const other = (
        await server.api('/api/v1/sessions', { auth: key, method: 'POST', body: { agent_id: plain.body.id } })
      ).body;
      const unsearched = await server.api(`/api/v1/sessions/${other.id}/models/completions`, {
        auth: key,
        method: 'POST',
        body: { prompt: 'lava? [[echo-prompt]]' },
      });
      assert.equal(unsearched.body.message.sources, undefined);
    });

    test('spec 001 messages:complete: event: sources before the chunks; JSON has sources', async () => {
      const created = await server.api('/conversations', { auth: key, method: 'POST', body: { title: 'lava' } });
      assert.equal(created.status, 201, created.text);
      const id = created.body.conversation_id ?? created.body.id;
      await server.api(`/conversations/${id}/messages`, {
        auth: key,
        method: 'POST',
        body: { content: 'lava temperature [[echo-prompt]]' },
      });
      const streamed = await sse(server, `/conversations/${id}/messages:complete`, {
        auth: key,
        body: { stream: true, web_search: true, model: 'gpt-4' },
      });
      assert.equal(streamed.status, 200, streamed.text);
      assert.equal(streamed.events[0]!.event, 'sources');
      const text = messagesOf(streamed.events)
        .map((e) => JSON.parse(e.data).choices[0].delta.content)
        .join('');
      assert.match(text, pageFact);
      await server.api(`/conversations/${id}/messages`, {
        auth: key,
        method: 'POST',
        body: { content: 'again [[echo-prompt]]' },
      });
      const json = await server.api(`/conversations/${id}/messages:complete`, {
        auth: key,
        method: 'POST',
        body: { web_search: true, model: 'gpt-4' },
      });
      assert.deepEqual(json.body.sources, sources);
    });

    test('OpenAI /v1/chat/completions: web_search_options turns it on; sources in a field clients ignore, [n] as url_citation', async () => {
      const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1` });
      const completion = (await client.chat.completions.create({
        model: 'gpt-4',
        web_search_options: {},
        messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
      } as never)) as Json;
      const content: string = completion.choices[0].message.content;
      assert.match(content, pageFact);
      assert.deepEqual(completion.sources, sources);
      // The echoed prompt cites [1] twice ("like [1] or [2]", "[1] Volcanoes"); [2] names no source.
      const annotations = completion.choices[0].message.annotations;
      assert.equal(annotations.length, 2);
      for (const { type, url_citation: c } of annotations) {
        assert.equal(type, 'url_citation');
        assert.equal(content.slice(c.start_index, c.end_index), '[1]');
        assert.deepEqual([c.title, c.url], ['Volcanoes', `${web.url}/volcano`]);
      }
      const flagged = await client.chat.completions.create({
        model: 'gpt-4',
        web_search: true,
        messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
      } as never);
      assert.match((flagged as Json).choices[0].message.content, pageFact);
      const plain = await client.chat.completions.create({
        model: 'gpt-4',
        messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
      });
      assert.doesNotMatch(plain.choices[0]!.message.content!, pageFact);
      assert.equal((plain as Json).sources, undefined);
      const stream = await client.chat.completions.create({
        model: 'gpt-4',
        stream: true,
        web_search_options: {},
        messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
      } as never);
      let text = '';
      const chunks: Json[] = [];
      for await (const chunk of stream as Json) {
        chunks.push(chunk);
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      assert.match(text, pageFact);
      assert.deepEqual(chunks[0].sources, sources);
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
      assert.equal(chunks.at(-1).choices[0].delta.annotations.length, 2);
    });

    test('a page that never ends, a 50 MB page and a binary page: cut at the size limit or skipped, and the answer completes', async () => {
      const response = await sse(server, '/v1/chat/stream', {
        auth: key,
        body: {
          model: 'gpt-4',
          web_search: true,
          messages: [{ role: 'user', content: 'unruly pages [[echo-prompt]]' }],
        },
      });
      assert.equal(response.status, 200);
      assert.equal(response.events.at(-1)!.data, '[DONE]');
      const text = messagesOf(response.events)
        .map((e) => e.data)
        .join('');
      assert.match(text, /\[1\] Endless\nURL: .*\nSnippet: never ends\nPage text:\nforever and ever forever/);
      assert.match(text, /\[2\] Huge\nURL: .*\nSnippet: 50 MB\nPage text:\nhuge text huge/);
      assert.match(text, /\[3\] Binary\nURL: .*\nSnippet: bytes\n(user|$)/, 'the binary page has no text');
      assert.equal(text.match(/Page text:/g)!.length, 2);
      // The server was told to read at most 64 KiB of a page; what reached the model is no more.
      assert.ok(text.length < 2 * 64 * 1024, `${text.length} characters`);
    });

    test('searches_per_day: a plan and a key limit searches (429), each search is in the usage ledger with its price', async () => {
      const admin = (path: string, body: unknown, method = 'POST') => server.api(path, { method, body });
      assert.equal(
        (await admin('/api/v1/plans', { name: `searchers-${dialect}`, limits: { searches_per_day: 2 } })).status,
        201,
      );
      const user = await signUp(server, 'scout');
      assert.equal(
        (await admin(`/api/v1/users/${user.username}/plan`, { plan: `searchers-${dialect}` }, 'PUT')).status,
        200,
      );
      const ask = (auth: string) =>
        server.api('/v1/chat/stream', {
          auth,
          method: 'POST',
          body: { model: 'gpt-4', stream: false, web_search: true, messages: [{ role: 'user', content: 'lava' }] },
        });
      assert.equal((await ask(user.basic)).status, 200);
      assert.equal((await ask(user.basic)).status, 200);
      const refused = await ask(user.basic);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.body.code, 'rate_limited');
      assert.match(refused.body.detail, /user\.searches_per_day .*2 web searches per UTC day/);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      // Without web search the same user still gets answers: only searches are exhausted.
      const plainAnswer = await server.api('/v1/chat/stream', {
        auth: user.basic,
        method: 'POST',
        body: { model: 'gpt-4', stream: false, messages: [{ role: 'user', content: 'lava' }] },
      });
      assert.equal(plainAnswer.status, 200);
      const overview = (await server.api('/api/v1/limits', { auth: user.basic })).body;
      assert.deepEqual(
        overview.limits.find((l: WireLimit) => l.scope === 'user.searches_per_day'),
        {
          ...overview.limits.find((l: WireLimit) => l.scope === 'user.searches_per_day'),
          limit: 2,
          used: 2,
          remaining: 0,
        },
      );
      const usage = (await server.api('/api/v1/usage', { auth: user.basic })).body;
      assert.deepEqual(usage.searches, { count: 2, cost: 0.01 });

      const other = await signUp(server, 'scout-key');
      const limited = await createKey(server, other.basic, { limits: { searches_per_day: 1 } });
      assert.equal((await ask(limited.key)).status, 200);
      const keyRefused = await ask(limited.key);
      assert.equal(keyRefused.status, 429);
      assert.match(keyRefused.body.detail, /key\.searches_per_day/);
    });
  });
}

describe('the fetch guard in a whole server (no allowlist)', () => {
  let chat: ChatServer;
  before(async () => {
    chat = await startChatServer('sqlite', { CAUSERIE_SEARXNG_URL: searx.url });
  });
  after(() => chat.stop());

  test('result pages on loopback are refused: the sources are listed from the snippets, no page is read', async () => {
    const response = await chat.server.api('/v1/chat/stream', {
      method: 'POST',
      body: {
        model: 'gpt-4',
        stream: false,
        web_search: true,
        messages: [{ role: 'user', content: 'lava [[echo-prompt]]' }],
      },
    });
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.body.sources, [{ index: 1, title: 'Volcanoes', url: `${web.url}/volcano` }]);
    assert.match(response.body.message.content, /Snippet: Magma and lava/);
    assert.doesNotMatch(response.body.message.content, /Page text|Basaltic/);
  });
});
