import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeTinyLlamaGguf } from '../fixtures/gguf/build-tiny-llama.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';

/** What users send by habit; every chat surface takes them and the provider receives them. */
const settings = {
  top_p: 0.5,
  stop: ['THE END'],
  seed: 7,
  presence_penalty: 0.25,
  frequency_penalty: -0.5,
  max_tokens: 64,
};

describe('generation settings sent by habit reach the provider on every chat surface', () => {
  let chat: ChatServer;
  let server: TestServer;
  before(async () => {
    chat = await startChatServer('sqlite');
    server = chat.server;
  });
  after(() => chat.stop());

  const sent = () => chat.upstream.chatRequests().at(-1)!.body;
  const assertForwarded = (surface: string, response: { status: number; text: string; headers: Headers }) => {
    assert.equal(response.status, 200, `${surface}: ${response.text}`);
    const body = sent();
    for (const [name, value] of Object.entries(settings)) assert.deepEqual(body[name], value, `${surface}: ${name}`);
    assert.equal(response.headers.get('x-causerie-ignored-settings'), null, surface);
  };

  test('the sessions dialect: session completions and one-off completions', async () => {
    const session = await server.api('/api/v1/sessions', { method: 'POST', body: { model_id: 'gpt-4' } });
    assertForwarded(
      'session',
      await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, {
        method: 'POST',
        body: { prompt: 'hi', ...settings },
      }),
    );
    assertForwarded(
      'one-off',
      await server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: 'gpt-4', prompt: 'hi', ...settings },
      }),
    );
  });

  test('the chat-API dialect /v1/chat/stream, with stop as a single string too', async () => {
    assertForwarded(
      'the chat-API dialect',
      await server.api('/v1/chat/stream', {
        method: 'POST',
        body: { model: 'gpt-4', stream: false, messages: [{ role: 'user', content: 'hi' }], ...settings },
      }),
    );
    const single = await server.api('/v1/chat/stream', {
      method: 'POST',
      body: { model: 'gpt-4', stream: false, messages: [{ role: 'user', content: 'hi' }], stop: 'THE END' },
    });
    assert.equal(single.status, 200, single.text);
    assert.deepEqual(sent().stop, ['THE END']);
  });

  test("the chat-service dialect's messages:complete", async () => {
    const me = await server.api('/api/v1/me');
    const conversation = await server.api('/conversations', {
      method: 'POST',
      body: { title: 'Réglages', user_id: me.body.id },
    });
    assert.equal(conversation.status, 201, conversation.text);
    await server.api(`/conversations/${conversation.body.id}/messages`, { method: 'POST', body: { content: 'hi' } });
    assertForwarded(
      'the chat-service dialect',
      await server.api(`/conversations/${conversation.body.id}/messages:complete`, {
        method: 'POST',
        body: { model: 'gpt-4', ...settings },
      }),
    );
  });

  test('the OpenAI surface', async () => {
    assertForwarded(
      'openai',
      await server.api('/v1/chat/completions', {
        method: 'POST',
        body: { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], ...settings },
      }),
    );
  });

  test('out-of-range settings are refused, naming the field', async () => {
    const response = await server.api('/v1/chat/stream', {
      method: 'POST',
      body: { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], presence_penalty: 3 },
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.detail, 'body.presence_penalty: must be <= 2');
  });
});

describe('a setting the provider cannot honour is reported, not dropped silently', () => {
  let server: TestServer;
  let modelsDir: string;
  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'causerie-models-'));
    await writeTinyLlamaGguf(modelsDir, 'tiny-llama.gguf');
    server = await startTestServer({ env: { CAUSERIE_MODELS_DIR: modelsDir, CAUSERIE_LOCAL_THREADS: '1' } });
  });
  after(async () => {
    await server.stop();
    await rm(modelsDir, { recursive: true, force: true });
  });

  test('the local engine applies penalties from 0 to 1 and names the others in X-Causerie-Ignored-Settings', async () => {
    const ask = (extra: Record<string, unknown>) =>
      server.api('/v1/chat/completions', {
        method: 'POST',
        body: {
          model: 'local/tiny-llama',
          messages: [{ role: 'user', content: 'hello' }],
          max_tokens: 3,
          seed: 1,
          top_p: 0.9,
          ...extra,
        },
      });
    const honoured = await ask({ presence_penalty: 0.5, frequency_penalty: 0.5 });
    assert.equal(honoured.status, 200, honoured.text);
    assert.equal(honoured.headers.get('x-causerie-ignored-settings'), null);
    const reported = await ask({ presence_penalty: -1, frequency_penalty: 0.5 });
    assert.equal(reported.status, 200, reported.text);
    assert.equal(reported.headers.get('x-causerie-ignored-settings'), 'presence_penalty');
  });
});
