import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/main.ts';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, startTestServer } from '../helpers/server.ts';
import { eventually, sseData, startModelsServer, upstreamKey, usageRows, type ModelsServer } from './models-helpers.ts';

describe('with nothing configured', () => {
  test('the server starts, lists the local default as not downloaded, and a completion with it says how to pull it (503)', async () => {
    const server = await startTestServer();
    try {
      const list = await server.api('/api/v1/models');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((m: { id: string; available: boolean; status: string }) => [m.id, m.available, m.status]),
        [['local/qwen2.5-0.5b-instruct', false, 'not_downloaded']],
      );
      const answer = await server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: 'local/qwen2.5-0.5b-instruct', prompt: 'Bonjour' },
      });
      assert.equal(answer.status, 503);
      assert.equal(answer.body.code, 'model_unavailable');
      assert.match(answer.body.detail, /npm run models:pull/);
      assert.match(answer.body.detail, /MISTRAL_API_KEY, OPENAI_API_KEY or OLLAMA_BASE_URL/);
      const openai = await server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'local/qwen2.5-0.5b-instruct', messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(openai.status, 503);
      assert.equal(openai.body.error.code, 'model_unavailable');
      assert.deepEqual((await server.api('/v1/models')).body, { object: 'list', data: [] });
    } finally {
      await server.stop();
    }
  });
});

for (const dialect of dialects) {
  describe(`the sessions dialect models routes (${dialect})`, () => {
    let ctx: ModelsServer;
    let userKey: string;
    before(async () => {
      ctx = await startModelsServer(dialect, {
        config: {
          providers: { openai: { discover: true } },
          models: {
            'priced/echo': {
              provider: 'openai',
              upstream: 'echo',
              context_window: 1000,
              prices: { input: 2, output: 10, currency: 'EUR' },
              capabilities: ['chat', 'tools'],
            },
          },
        },
      });
      const user = await signUp(ctx.server, 'modeluser');
      userKey = (await createKey(ctx.server, user.basic)).key;
    });
    after(() => ctx.stop());

    test('GET /api/v1/models lists discovered, mapped and local models with availability, window, capabilities and prices; never a key', async () => {
      const response = await ctx.server.api('/api/v1/models', { auth: userKey });
      assert.equal(response.status, 200);
      const byId = Object.fromEntries(response.body.map((m: { id: string }) => [m.id, m]));
      assert.deepEqual(Object.keys(byId), [
        'local/qwen2.5-0.5b-instruct',
        'openai/echo',
        'openai/embed',
        'priced/echo',
      ]);
      assert.deepEqual(byId['priced/echo'], {
        id: 'priced/echo',
        provider: 'openai',
        upstream_model: 'echo',
        available: true,
        status: 'available',
        reason: null,
        context_window: 1000,
        capabilities: ['chat', 'tools'],
        prices: { input_per_million: 2, output_per_million: 10, currency: 'EUR' },
        source: 'config',
      });
      assert.equal(byId['openai/echo'].source, 'discovered');
      assert.doesNotMatch(response.text, new RegExp(upstreamKey));
    });

    test('GET /api/v1/models/{model_id} takes the id URL-encoded or with a raw "/"; unknown ids are 404', async () => {
      const encoded = await ctx.server.api('/api/v1/models/openai%2Fecho', { auth: userKey });
      const raw = await ctx.server.api('/api/v1/models/openai/echo', { auth: userKey });
      assert.equal(encoded.status, 200);
      assert.deepEqual(raw.body, encoded.body);
      assert.equal(raw.body.id, 'openai/echo');
      const unknown = await ctx.server.api('/api/v1/models/openai/nope', { auth: userKey });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, 'not_found');
      assert.equal((await ctx.server.api('/api/v1/models', { auth: null })).status, 401);
    });

    test('POST /api/v1/models/completions answers with model_id + prompt, or model + messages, and records one usage row', async () => {
      const before = (await usageRows(ctx.server)).length;
      const answer = await ctx.server.api('/api/v1/models/completions', {
        method: 'POST',
        auth: userKey,
        body: { model_id: 'openai/echo', prompt: 'Bonjour le monde' },
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.object, 'completion');
      assert.equal(answer.body.model_id, 'openai/echo');
      assert.equal(answer.body.content, 'Bonjour le monde');
      assert.equal(answer.body.finish_reason, 'stop');
      assert.deepEqual(answer.body.usage, { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
      const withMessages = await ctx.server.api('/api/v1/models/completions', {
        method: 'POST',
        auth: userKey,
        body: {
          model: 'openai/echo',
          system: 'Be brief.',
          messages: [
            { role: 'user', content: 'one' },
            { role: 'assistant', content: 'two' },
            { role: 'user', content: 'three' },
          ],
          temperature: 0.2,
          max_tokens: 50,
        },
      });
      assert.equal(withMessages.body.content, 'three');
      const sent = ctx.upstream.chatRequests().at(-1)!.body;
      assert.deepEqual(
        sent.messages.map((m: { role: string }) => m.role),
        ['system', 'user', 'assistant', 'user'],
      );
      assert.equal(sent.temperature, 0.2);
      assert.equal(sent.max_tokens, 50);
      const rows = (await usageRows(ctx.server)).slice(before);
      assert.equal(rows.length, 2);
      assert.deepEqual(
        {
          model: rows[0]!.model,
          provider: rows[0]!.provider,
          prompt: rows[0]!.prompt_tokens,
          completion: rows[0]!.completion_tokens,
          status: rows[0]!.status,
          conversation: rows[0]!.conversation_id,
        },
        { model: 'openai/echo', provider: 'openai', prompt: 3, completion: 3, status: 'complete', conversation: null },
      );
      assert.notEqual(rows[0]!.api_key_id, null);
    });

    test('usage carries the cost from the model prices, and is estimated (ceil(chars/4)) when the upstream reports none', async () => {
      await ctx.server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: 'priced/echo', prompt: 'un deux trois quatre' },
      });
      let row = (await usageRows(ctx.server)).at(-1)!;
      assert.equal(row.model, 'priced/echo');
      assert.equal(Number(row.cost_micros), 4 * 2 + 4 * 10);
      const prompt = '[[no-usage]] abcdefgh';
      const answer = await ctx.server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: 'priced/echo', prompt },
      });
      assert.equal(answer.body.content, 'abcdefgh');
      row = (await usageRows(ctx.server)).at(-1)!;
      assert.equal(row.prompt_tokens, Math.ceil(prompt.length / 4));
      assert.equal(row.completion_tokens, Math.ceil('abcdefgh'.length / 4));
      assert.deepEqual(answer.body.usage, {
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        total_tokens: row.prompt_tokens + row.completion_tokens,
      });
    });

    test('with "stream": true the answer is SSE: start, deltas, end with usage, [DONE]', async () => {
      const response = await fetch(`${ctx.server.url}/api/v1/models/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model_id: 'openai/echo', prompt: 'a b c', stream: true }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const data = sseData(await response.text());
      assert.equal(data.at(-1), '[DONE]');
      const events = data.slice(0, -1).map((d) => JSON.parse(d));
      assert.equal(events[0].type, 'start');
      assert.equal(events[0].model_id, 'openai/echo');
      // The upstream's chunks arrive together here, so they may come as one delta: the text is what holds.
      assert.equal(
        events
          .filter((e) => e.type === 'delta')
          .map((e) => e.content)
          .join(''),
        'a b c',
      );
      assert.deepEqual(events.at(-1), {
        type: 'end',
        finish_reason: 'stop',
        usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
      });
      const row = await eventually(
        async () =>
          (await usageRows(ctx.server)).find(
            (r) => r.completion_tokens === 3 && r.prompt_tokens === 3 && r.status === 'complete',
          ),
        { what: 'the usage row' },
      );
      assert.equal(row.model, 'openai/echo');
    });

    test('a failure after the first byte is a last {"type":"error"} event; before it, an HTTP error; both leave an error row', async () => {
      const response = await fetch(`${ctx.server.url}/api/v1/models/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model_id: 'openai/echo', prompt: '[[fail-after:1]] a b c', stream: true }),
      });
      const data = sseData(await response.text());
      assert.equal(data.at(-1), '[DONE]');
      const last = JSON.parse(data.at(-2)!);
      assert.equal(last.type, 'error');
      assert.equal(last.code, 'upstream_error');
      let row = await eventually(
        async () => {
          const found = (await usageRows(ctx.server)).at(-1)!;
          return found.status === 'error' ? found : undefined;
        },
        { what: 'the error row' },
      );
      assert.equal(row.completion_tokens, 1);
      const refused = await ctx.server.api('/api/v1/models/completions', {
        method: 'POST',
        auth: userKey,
        body: { model_id: 'openai/echo', prompt: '[[status:500]]' },
      });
      assert.equal(refused.status, 502);
      assert.equal(refused.body.code, 'upstream_error');
      row = (await usageRows(ctx.server)).at(-1)!;
      assert.deepEqual([row.status, row.prompt_tokens, row.completion_tokens], ['error', 0, 0]);
    });

    test('bad bodies name the field', async () => {
      const post = (body: unknown) =>
        ctx.server.api('/api/v1/models/completions', { method: 'POST', auth: userKey, body });
      const cases: Array<[unknown, RegExp]> = [
        [{ prompt: 'hi' }, /model_id: is required/],
        [{ model_id: 'openai/echo' }, /give either prompt or messages/],
        [
          { model_id: 'openai/echo', prompt: 'a', messages: [{ role: 'user', content: 'b' }] },
          /give either prompt or messages/,
        ],
        [{ model_id: 'openai/echo', model: 'priced/echo', prompt: 'a' }, /model: differs from model_id/],
        [{ model_id: 'openai/echo', prompt: 'a', temperature: 3 }, /temperature/],
        [{ model_id: 'priced/echo', prompt: 'a', max_tokens: 5000 }, /max_tokens: must be at most 1000/],
        [{ model_id: 'openai/echo', prompt: 'a', safe_prompt: true }, /safe_prompt: is not a known field/],
      ];
      for (const [body, pattern] of cases) {
        const response = await post(body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.code, 'validation_failed');
        assert.match(response.body.detail, pattern);
      }
      assert.equal((await post({ model_id: 'nobody/none', prompt: 'a' })).status, 404);
    });

    test('DELETE /api/v1/models/{model_id} is for admins; the model disappears and stays removed after a restart', async () => {
      const forbidden = await ctx.server.api('/api/v1/models/openai%2Fembed', { method: 'DELETE', auth: userKey });
      assert.equal(forbidden.status, 403);
      const removed = await ctx.server.api('/api/v1/models/openai/embed', { method: 'DELETE' });
      assert.equal(removed.status, 200);
      assert.equal(removed.body.id, 'openai/embed');
      assert.match(removed.body.removed_at, /^\d{4}-\d\d-\d\dT/);
      assert.equal((await ctx.server.api('/api/v1/models/openai/embed')).status, 404);
      assert.equal((await ctx.server.api('/api/v1/models/openai/embed', { method: 'DELETE' })).status, 404);
      const embed = await ctx.server.api('/v1/embeddings', {
        method: 'POST',
        body: { model: 'openai/embed', input: 'x' },
      });
      assert.equal(embed.status, 404);
      // Same database, new process: the removal holds, the other models are back.
      await ctx.server.app.close();
      await ctx.server.services.close();
      const restarted = await startServer(loadConfig(ctx.server.env), { logger: false, print: () => {} });
      try {
        const list = await fetch(`${restarted.url}/api/v1/models`, {
          headers: { authorization: `Bearer ${ctx.server.adminKey}` },
        });
        const ids = ((await list.json()) as Array<{ id: string }>).map((m) => m.id);
        assert.ok(ids.includes('openai/echo'));
        assert.ok(!ids.includes('openai/embed'));
      } finally {
        await restarted.close();
      }
    });
  });
}
