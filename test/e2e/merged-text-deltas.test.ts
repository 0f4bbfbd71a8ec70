import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { sseData, startModelsServer, type ModelsServer } from './models-helpers.ts';

const { createServer } = process.getBuiltinModule('node:http');

/** An upstream answer written in one go: several chunks reach Causerie in one network read. */
const chunk = (delta: object, finish: string | null = null, usage?: object) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], usage: usage ?? null })}\n\n`;
const oneWrite = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hel' }),
  chunk({ content: 'lo ' }),
  chunk({ content: 'world' }),
  chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'look', arguments: '{}' } }] }),
  chunk({ content: 'after ' }),
  chunk({ content: 'the call' }, 'tool_calls'),
  chunk({ content: ', then more' }),
  chunk({}, null, { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 }),
  'data: [DONE]\n\n',
].join('');

describe('text deltas that arrive in one network read reach the client merged', () => {
  let ctx: ModelsServer;
  const upstream = createServer((req, res) => {
    req.resume().on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(oneWrite);
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    ctx = await startModelsServer('sqlite', {
      config: {
        providers: { burst: { base_url: `http://127.0.0.1:${port}/v1`, api_key_env: 'BURST_KEY' } },
        models: { 'burst/m': { provider: 'burst', upstream: 'm' } },
      },
      env: { BURST_KEY: 'sk-burst' },
    });
  });
  after(async () => {
    await ctx.stop();
    upstream.close();
  });

  test('one delta per run of text; a tool call, a finish reason and usage are never merged into text', async () => {
    const response = await request(`${ctx.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'burst/m',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    assert.equal(response.statusCode, 200);
    const data = sseData(await response.body.text());
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((text) => JSON.parse(text));
    const deltas = chunks.map((c) => c.choices[0]?.delta ?? { usage: c.usage });
    assert.deepEqual(deltas, [
      { role: 'assistant', content: '' },
      { content: 'Hello world' },
      {
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'look', arguments: '{}' } }],
      },
      { content: 'after the call' },
      { content: ', then more' },
      {},
      { usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } },
    ]);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'tool_calls');
  });
});
