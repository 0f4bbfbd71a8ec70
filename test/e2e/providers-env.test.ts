import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const says = (content: string) => [{ role: 'user' as const, content }];

describe('providers registered by environment variables alone', () => {
  let upstream: ScriptedUpstream;
  let ollama: ScriptedUpstream;
  let server: TestServer;
  before(async () => {
    upstream = await startScriptedUpstream({ apiKey: 'mistral-key' });
    ollama = await startScriptedUpstream({ models: ['llama3.2:1b'] });
    server = await startTestServer({
      env: {
        MISTRAL_API_KEY: 'mistral-key',
        MISTRAL_BASE_URL: upstream.baseUrl,
        // Ollama's bare address: Causerie adds /v1.
        OLLAMA_BASE_URL: ollama.url,
        CAUSERIE_MODELS_REFRESH: '0',
      },
    });
  });
  after(async () => {
    await server.stop();
    await upstream.close();
    await ollama.close();
  });

  test('MISTRAL_API_KEY registers mistral (models discovered); it gets random_seed and no stream_options', async () => {
    const list = await server.api('/api/v1/models');
    const ids = list.body.map((m: { id: string }) => m.id);
    assert.ok(ids.includes('mistral/echo'), ids.join());
    const client = new OpenAI({ apiKey: server.adminKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
    let text = '';
    for await (const chunk of await client.chat.completions.create({
      model: 'mistral/echo',
      messages: says('salut'),
      seed: 3,
      stream: true,
    })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'salut');
    const sent = upstream.chatRequests().at(-1)!;
    assert.equal(sent.headers.authorization, 'Bearer mistral-key');
    assert.equal(sent.body.random_seed, 3);
    assert.equal('seed' in sent.body, false);
    assert.equal('stream_options' in sent.body, false);
  });

  test('OLLAMA_BASE_URL registers ollama (its bare address, /v1 added), with no key sent', async () => {
    const answer = await server.api('/v1/chat/completions', {
      method: 'POST',
      body: { model: 'ollama/llama3.2:1b', messages: says('hello llama') },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.choices[0].message.content, 'hello llama');
    const sent = ollama.chatRequests().at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.body.model, 'llama3.2:1b');
    assert.equal(sent.headers.authorization, undefined);
  });
});

describe('CAUSERIE_MOCK_PROVIDER=true', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
  });
  after(() => server.stop());

  test('registers mock/echo, scripted by [[directives]], through the real wire format', async () => {
    const models = await server.api('/api/v1/models');
    const mock = models.body
      .filter((m: { provider: string }) => m.provider === 'mock')
      .map((m: { id: string; available: boolean }) => [m.id, m.available]);
    assert.deepEqual(mock, [
      ['mock/echo', true],
      ['mock/embed', true],
    ]);
    const client = new OpenAI({ apiKey: server.adminKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
    const echoed = await client.chat.completions.create({ model: 'mock/echo', messages: says('echo me') });
    assert.equal(echoed.choices[0]!.message.content, 'echo me');
    const scripted = await client.chat.completions.create({
      model: 'mock/echo',
      messages: says('[[reply:Scripted answer]]'),
    });
    assert.equal(scripted.choices[0]!.message.content, 'Scripted answer');
    await assert.rejects(
      client.chat.completions.create({ model: 'mock/echo', messages: says('[[status:503]]') }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 502,
    );
    const embedded = await client.embeddings.create({ model: 'mock/embed', input: 'x' });
    assert.equal(embedded.data[0]!.embedding.length, 8);
  });
});

describe('provider secrets', () => {
  test('a refused key shows in no response and no log line; discovery failures are logged by provider id', async () => {
    const upstream = await startScriptedUpstream({ apiKey: 'the-right-key' });
    const secret = 'sk-this-key-is-wrong-and-secret';
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return write(chunk as string, ...(rest as []));
    }) as typeof process.stderr.write;
    let server: TestServer | undefined;
    try {
      server = await startTestServer({
        env: { OPENAI_API_KEY: secret, OPENAI_BASE_URL: upstream.baseUrl, CAUSERIE_MODELS_REFRESH: '0' },
      });
      const models = await server.api('/api/v1/models');
      assert.doesNotMatch(models.text, new RegExp(secret));
      const log = written.join('');
      assert.match(log, /discovery from provider \\?"openai\\?" failed: The provider rejected the key/);
      assert.doesNotMatch(log, new RegExp(secret));
    } finally {
      process.stderr.write = write;
      await server?.stop();
      await upstream.close();
    }
  });
});
