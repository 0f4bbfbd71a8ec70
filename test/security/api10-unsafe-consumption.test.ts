import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, type TestServer } from '../helpers/server.ts';
import { parseSse, startChatServer, type ChatServer } from '../e2e/conversations-helpers.ts';

/**
 * OWASP API10:2023, unsafe consumption of APIs: the model provider answers like a broken or
 * malicious server (an 8 MB answer, not JSON, invalid UTF-8, JSON of the wrong types, a stream
 * that never ends). Each is bounded (the longest answer is CAUSERIE_MAX_ANSWER_SECONDS), reported
 * to the caller as an error or a cut answer in the surface's shape, never crashes the server, and
 * leaves no message stuck streaming. Slow first bytes, silence and cut connections are in
 * test/providers/openai-compatible.test.ts and test/e2e/answers-stopped.test.ts; hostile web pages
 * in test/providers/web-fetch.test.ts.
 */
const kinds = ['huge', 'garbage', 'invalid-utf8', 'wrong-shape', 'endless'] as const;

for (const dialect of dialects) {
  describe(`API10 unsafe consumption: a hostile provider is contained (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    before(async () => {
      chat = await startChatServer(dialect, { CAUSERIE_MAX_ANSWER_SECONDS: '2' });
      server = chat.server;
    });
    after(() => chat.stop());

    const bodyOk = (text: string) => {
      assert.doesNotMatch(text, /\n\s+at |node_modules|\/src\//);
      assert.ok(!text.includes('test-upstream-key'), 'the provider key is quoted');
    };

    for (const kind of kinds) {
      test(`${kind}: every surface answers, bounded, in its own shape`, async () => {
        const session = await server.api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' } });
        const native = await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, {
          method: 'POST',
          body: { prompt: `[[hostile:${kind}]]` },
        });
        bodyOk(native.text);
        assert.ok([200, 502, 504].includes(native.status), `native ${native.status} ${native.text.slice(0, 200)}`);
        if (native.status !== 200) assert.equal(typeof native.body.detail, 'string');
        assert.ok(native.text.length < 20 * 1024 * 1024);

        const openai = await server.api('/v1/chat/completions', {
          method: 'POST',
          body: { model: 'gpt-4', messages: [{ role: 'user', content: `[[hostile:${kind}]]` }] },
        });
        bodyOk(openai.text);
        assert.ok([200, 502, 504].includes(openai.status), `openai ${openai.status} ${openai.text.slice(0, 200)}`);
        if (openai.status !== 200) assert.equal(typeof openai.body.error.message, 'string');

        const streamed = await fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'gpt-4',
            stream: true,
            messages: [{ role: 'user', content: `[[hostile:${kind}]]` }],
          }),
        });
        const text = await streamed.text();
        bodyOk(text);
        const events = parseSse(text);
        if (streamed.status === 200) {
          // The stream ends with [DONE] or an error event: the client is told either way.
          const last = events.at(-1)?.data ?? '';
          assert.ok(last === '[DONE]' || /"error"/.test(last), `stream ended with ${last.slice(0, 200)}`);
        } else assert.ok([502, 504].includes(streamed.status));

        // Nothing is left streaming, and the server still serves.
        const history = await server.api(`/api/v1/sessions/${session.body.id}/history`);
        for (const message of history.body)
          assert.notEqual(message.status, 'streaming', JSON.stringify(message).slice(0, 200));
        assert.equal((await server.api('/healthz', { auth: null })).status, 200);
        const fine = await server.api('/v1/chat/completions', {
          method: 'POST',
          body: { model: 'gpt-4', messages: [{ role: 'user', content: 'still there?' }] },
        });
        assert.equal(fine.status, 200, fine.text);
      });
    }
  });
}
