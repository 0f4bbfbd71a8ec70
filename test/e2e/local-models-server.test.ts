import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeTinyLlamaGguf } from '../fixtures/gguf/build-tiny-llama.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { realModelsDir } from '../helpers/real-models.ts';

const stories = join(realModelsDir, 'stories260K.gguf');

// The local engine as a user meets it: GGUF files dropped in the models folder are served by the server.
describe('local GGUF models through the server', () => {
  let server: TestServer;
  let modelsDir: string;
  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'causerie-models-'));
    await writeTinyLlamaGguf(modelsDir, 'tiny-llama.gguf');
    if (existsSync(stories)) await symlink(stories, join(modelsDir, 'stories260K.gguf'));
    server = await startTestServer({ env: { CAUSERIE_MODELS_DIR: modelsDir, CAUSERIE_LOCAL_THREADS: '1' } });
  });
  after(async () => {
    await server.stop();
    await rm(modelsDir, { recursive: true, force: true });
  });

  test('GET /api/v1/models lists the files as available and the default as not downloaded', async () => {
    const tiny = await server.api('/api/v1/models/local%2Ftiny-llama');
    assert.equal(tiny.status, 200, tiny.text);
    assert.equal(tiny.body.available, true);
    assert.equal(typeof tiny.body.context_window, 'number');
    const fallback = await server.api('/api/v1/models/local%2Fqwen2.5-0.5b-instruct');
    assert.equal(fallback.status, 200, fallback.text);
    assert.equal(fallback.body.available, false);
  });

  test('POST /v1/chat/completions runs the local model and counts tokens with its tokenizer', async () => {
    const response = await server.api('/v1/chat/completions', {
      method: 'POST',
      body: {
        model: 'local/tiny-llama',
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 5,
        temperature: 0,
      },
    });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.object, 'chat.completion');
    assert.ok(response.body.choices[0].message.content.length > 0);
    assert.equal(response.body.usage.completion_tokens, 5);
    assert.ok(response.body.usage.prompt_tokens > 1);
  });

  test('POST /v1/embeddings runs the local model: one vector per text, the same text the same vector', async () => {
    const response = await server.api('/v1/embeddings', {
      method: 'POST',
      body: { model: 'local/tiny-llama', input: ['hello world', 'hello world', 'another text'] },
    });
    assert.equal(response.status, 200, response.text);
    const vectors = response.body.data.map((d: { embedding: number[] }) => d.embedding);
    assert.equal(vectors.length, 3);
    assert.ok(vectors[0].length > 1 && vectors.every((v: number[]) => v.length === vectors[0].length));
    assert.deepEqual(vectors[0], vectors[1]);
    assert.notDeepEqual(vectors[0], vectors[2]);
    assert.ok(response.body.usage.prompt_tokens >= 3);
  });

  test('a local model can be the search embedding model: messages are embedded in the background and found by meaning', async () => {
    const searching = await startTestServer({
      env: {
        CAUSERIE_MODELS_DIR: modelsDir,
        CAUSERIE_LOCAL_THREADS: '1',
        CAUSERIE_EMBEDDING_MODEL: 'local/tiny-llama',
        CAUSERIE_SEARCH_INDEX_POLL_MS: '100',
      },
    });
    try {
      const conversation = await searching.api('/conversations', { method: 'POST', body: { title: 'notes' } });
      for (const content of ['the garden needs water', 'invoice number forty two']) {
        assert.equal(
          (
            await searching.api(`/conversations/${conversation.body.id}/messages`, {
              method: 'POST',
              body: { role: 'user', content },
            })
          ).status,
          201,
        );
      }
      const status = await eventually<{ pending: number; done: number; model: string | null }>(
        async () => {
          const now = (await searching.api('/api/v1/search/status')).body;
          return now.pending === 0 && now.done >= 2 ? now : undefined;
        },
        { what: 'both messages indexed', timeoutMs: 60_000 },
      );
      assert.equal(status.model, 'local/tiny-llama');
      assert.ok(status.done >= 2, JSON.stringify(status));
      // Random weights carry no meaning, but the same text has the same vector: it must come first.
      const found = await searching.api('/api/v1/search?mode=semantic&q=invoice%20number%20forty%20two');
      assert.equal(found.status, 200, found.text);
      assert.equal(found.body.mode, 'semantic');
      assert.equal(found.body.results[0].snippet.replace(/<\/?mark>/g, ''), 'invoice number forty two');
    } finally {
      await searching.stop();
    }
  });

  test('a real story model answers with real text on the chat-API dialect /v1/chat/stream', {
    skip: existsSync(stories) ? false : `${stories} absent`,
  }, async () => {
    const response = await server.api('/v1/chat/stream', {
      method: 'POST',
      body: {
        model: 'local/stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 30,
        temperature: 0,
        stream: false,
      },
    });
    assert.equal(response.status, 200, response.text);
    const words = response.body.message.content.toLowerCase().match(/[a-z]+/g) ?? [];
    const common = words.filter((word: string) =>
      ['the', 'a', 'was', 'and', 'he', 'she', 'they', 'to', 'it', 'big', 'day'].includes(word),
    );
    assert.ok(words.length >= 5 && common.length >= 2, `not story English: ${response.body.message.content}`);
  });
});
