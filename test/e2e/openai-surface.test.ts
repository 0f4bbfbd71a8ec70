import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { Agent, request } from 'undici';
import { dialects } from '../helpers/server.ts';
import { eventually, sseData, startModelsServer, usageRows, type ModelsServer } from './models-helpers.ts';

const wrongKey = 'sk-wrong-key-that-must-never-show';

for (const dialect of dialects) {
  describe(`OpenAI-compatible surface with the official client (${dialect})`, () => {
    let ctx: ModelsServer;
    let client: OpenAI;
    before(async () => {
      ctx = await startModelsServer(dialect, {
        // "refused" is the same scripted upstream, with a key it refuses (and quotes in its 401).
        config: (upstream) => ({
          providers: { refused: { base_url: upstream.baseUrl, api_key_env: 'REFUSED_KEY' } },
          models: { 'refused/echo': { provider: 'refused', upstream: 'echo' } },
        }),
        env: { REFUSED_KEY: wrongKey },
      });
      client = new OpenAI({ apiKey: ctx.server.adminKey, baseURL: `${ctx.server.url}/v1`, maxRetries: 0 });
    });
    after(() => ctx.stop());

    const says = (content: string) => [{ role: 'user' as const, content }];

    test("chat.completions.create answers in OpenAI's JSON format", async () => {
      const completion = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says('Hello from the client'),
      });
      assert.match(completion.id, /^chatcmpl-/);
      assert.equal(completion.object, 'chat.completion');
      assert.equal(completion.model, 'openai/echo');
      assert.equal(completion.choices[0]!.message.content, 'Hello from the client');
      assert.equal(completion.choices[0]!.finish_reason, 'stop');
      assert.deepEqual(completion.usage, { prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 });
    });

    test('streaming with stream_options.include_usage: deltas, the finish chunk, a last usage chunk', async () => {
      const stream = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says('one two three'),
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id));
      assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
      assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'one two three');
      assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'stop');
      assert.deepEqual(chunks.at(-1)!.choices, []);
      assert.deepEqual(chunks.at(-1)!.usage, { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
      assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    });

    test('the raw stream ends with data: [DONE]; without include_usage there is no usage chunk', async () => {
      const response = await fetch(`${ctx.server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.server.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/echo', messages: says('hi'), stream: true }),
      });
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const data = sseData(await response.text());
      assert.equal(data.at(-1), '[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      assert.ok(chunks.every((c) => !('usage' in c)));
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    });

    test('tools are passed through; tool calls come back whole (JSON) and as deltas (stream)', async () => {
      const tools = [
        {
          type: 'function' as const,
          function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
      ];
      const completion = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says('[[tool:get_weather:{"city":"Paris"}]]'),
        tools,
        tool_choice: 'auto',
      });
      assert.deepEqual(ctx.upstream.chatRequests().at(-1)!.body.tools, tools);
      const call = completion.choices[0]!.message.tool_calls![0]!;
      assert.equal(call.type, 'function');
      assert.equal(call.type === 'function' && call.function.name, 'get_weather');
      assert.equal(call.type === 'function' && call.function.arguments, '{"city":"Paris"}');
      assert.equal(completion.choices[0]!.finish_reason, 'tool_calls');
      const stream = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says('[[tool:get_weather:{"city":"Lyon"}]]'),
        tools,
        stream: true,
      });
      let args = '';
      let name = '';
      for await (const chunk of stream) {
        for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
          name += delta.function?.name ?? '';
          args += delta.function?.arguments ?? '';
        }
      }
      assert.deepEqual([name, args], ['get_weather', '{"city":"Lyon"}']);
    });

    test("unknown fields (Mistral's safe_prompt, random_seed) are tolerated; random_seed is the seed", async () => {
      const response = await ctx.server.api('/v1/chat/completions', {
        method: 'POST',
        body: {
          model: 'openai/echo',
          messages: says('tolerant'),
          safe_prompt: true,
          random_seed: 7,
          max_completion_tokens: 20,
          some_future_field: { a: 1 },
        },
      });
      assert.equal(response.status, 200);
      const sent = ctx.upstream.chatRequests().at(-1)!.body;
      assert.equal(sent.seed, 7);
      assert.equal(sent.max_tokens, 20);
      assert.equal('safe_prompt' in sent, false);
      assert.equal('some_future_field' in sent, false);
    });

    test('models.list, models.retrieve and embeddings.create (base64 by default) work unchanged', async () => {
      const ids = [];
      for await (const model of client.models.list()) ids.push(model.id);
      assert.deepEqual(ids, ['openai/echo', 'openai/embed', 'refused/echo']);
      const model = await client.models.retrieve('openai/echo');
      assert.deepEqual(model, { id: 'openai/echo', object: 'model', created: model.created, owned_by: 'openai' });
      await assert.rejects(
        client.models.retrieve('openai/nope'),
        (error: unknown) => error instanceof OpenAI.NotFoundError,
      );
      const packed = await client.embeddings.create({ model: 'openai/embed', input: ['a b', 'c'] });
      const floats = await client.embeddings.create({
        model: 'openai/embed',
        input: ['a b', 'c'],
        encoding_format: 'float',
      });
      assert.equal(packed.data.length, 2);
      assert.equal(packed.data[1]!.index, 1);
      for (const [i, value] of packed.data[0]!.embedding.entries()) {
        assert.ok(Math.abs(value - floats.data[0]!.embedding[i]!) < 1e-6);
      }
      assert.deepEqual(packed.usage, { prompt_tokens: 3, total_tokens: 3 });
      const row = (await usageRows(ctx.server)).at(-1)!;
      assert.deepEqual([row.model, row.prompt_tokens, row.completion_tokens], ['openai/embed', 3, 0]);
    });

    test("errors come in OpenAI's shape: 401, 400 naming the param, 404, upstream 429 with Retry-After", async () => {
      const stranger = new OpenAI({ apiKey: 'API_NOT_A_REAL_KEY', baseURL: `${ctx.server.url}/v1`, maxRetries: 0 });
      await assert.rejects(
        stranger.chat.completions.create({ model: 'openai/echo', messages: says('x') }),
        (error: unknown) => error instanceof OpenAI.AuthenticationError,
      );
      const invalid = await ctx.server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'openai/echo', messages: says('x'), temperature: 5 },
      });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error.type, 'invalid_request_error');
      assert.equal(invalid.body.error.param, 'body.temperature');
      const unknown = await ctx.server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'nobody/none', messages: says('x') },
      });
      assert.deepEqual(Object.keys(unknown.body.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(unknown.body.error.code, 'not_found');
      await assert.rejects(
        client.chat.completions.create({ model: 'openai/echo', messages: says('[[status:429]] [[retry-after:7]]') }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.RateLimitError);
          assert.equal(error.headers?.get('retry-after'), '7');
          // The provider's limit, not this server's quota: a client can tell them apart.
          assert.equal(error.code, 'provider_rate_limited');
          return true;
        },
      );
    });

    test('a key the provider refuses is a 502 "provider rejected the key", with no trace of the key', async () => {
      const response = await ctx.server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'refused/echo', messages: says('x') },
      });
      assert.equal(response.status, 502);
      assert.doesNotMatch(response.text, new RegExp(wrongKey));
      assert.equal(response.body.error.code, 'upstream_error');
      assert.match(
        response.body.error.message,
        /provider rejected the key: Provider "refused" answered 401; check REFUSED_KEY/,
      );
      const row = (await usageRows(ctx.server)).at(-1)!;
      assert.deepEqual([row.model, row.status], ['refused/echo', 'error']);
    });

    test('a failure mid-stream reaches the client as an error after the first chunks', async () => {
      const stream = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says('[[fail-after:2]] a b c d'),
        stream: true,
      });
      let text = '';
      await assert.rejects(
        async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        },
        (error: unknown) => error instanceof OpenAI.APIError && /Scripted failure mid-stream/.test(error.message),
      );
      assert.equal(text, 'a b ');
    });

    test('usage the upstream does not report is counted (ceil(chars/4)), shown in the usage chunk and recorded', async () => {
      const content = '[[no-usage]] abcdefghij';
      const stream = await client.chat.completions.create({
        model: 'openai/echo',
        messages: says(content),
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      assert.deepEqual(usage, {
        prompt_tokens: Math.ceil(content.length / 4),
        completion_tokens: Math.ceil('abcdefghij'.length / 4),
        total_tokens: Math.ceil(content.length / 4) + 3,
      });
      const row = await eventually(
        async () =>
          (await usageRows(ctx.server)).find(
            (r) => r.prompt_tokens === Math.ceil(content.length / 4) && r.completion_tokens === 3,
          ),
        { what: 'the row' },
      );
      assert.equal(row.status, 'complete');
    });

    test('a client that goes away: the upstream request is aborted within 100 ms and the row says cancelled', async () => {
      const controller = new AbortController();
      const marker = `[[hang]] leaving ${Math.random()}`;
      // Its own agent, destroyed at the end: a spare keep-alive socket would hold the server's close.
      const agent = new Agent();
      const response = await request(`${ctx.server.url}/v1/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        signal: controller.signal,
        headers: { authorization: `Bearer ${ctx.server.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/echo', messages: says(marker), stream: true }),
      });
      response.body.on('error', () => {});
      await new Promise((resolve) => response.body.once('data', resolve)); // the first chunk: the stream is open end to end
      const upstreamRequest = ctx.upstream.chatRequests().find((r) => r.body.messages[0].content === marker)!;
      const leftAt = performance.now();
      controller.abort();
      await upstreamRequest.settled;
      await agent.destroy();
      const delay = upstreamRequest.closedEarlyAt! - leftAt;
      // A correctness bound (the abort is propagated, not waited out), not a benchmark.
      assert.ok(delay < 100, `upstream closed ${delay.toFixed(1)} ms after the client left`);
      const row = await eventually(async () => (await usageRows(ctx.server)).find((r) => r.status === 'cancelled'), {
        what: 'the cancelled row',
      });
      assert.equal(row.model, 'openai/echo');
    });
  });
}
