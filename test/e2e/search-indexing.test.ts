import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/main.ts';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import { createTestDatabase, dialects } from '../helpers/server.ts';
import { eventually, startChatServer, writeModelsConfig } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

const gloveModel = { glove: { provider: 'openai', upstream: 'glove', capabilities: ['embeddings'] } };

/**
 * The background indexer's durability: its queue is a table, so a server killed (SIGKILL) while
 * embedding leaves the work queued and the next process finishes it; a failing embedding call is
 * retried with backoff until it succeeds; a new embedding model re-embeds what the old one did.
 */
for (const dialect of dialects) {
  describe(`search indexing survives a killed server (${dialect})`, () => {
    let upstream: ScriptedUpstream;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let config: ReturnType<typeof writeModelsConfig>;
    const running: CauserieProcess[] = [];
    // The first embeddings call is held until the server that made it is dead.
    let held!: () => void;
    const firstCallArrived = new Promise<void>((resolve) => (held = resolve));
    let releaseHeld!: () => void;
    const killed = new Promise<void>((resolve) => (releaseHeld = resolve));

    before(async () => {
      let calls = 0;
      upstream = await startScriptedUpstream({
        holdEmbeddings: async () => {
          if (calls++ > 0) return;
          held();
          await killed;
        },
      });
      database = await createTestDatabase(dialect);
      config = writeModelsConfig(gloveModel);
    });
    after(async () => {
      releaseHeld();
      for (const child of running) await child.stop();
      await upstream.close();
      await database.drop();
      config.remove();
    });

    test('the messages queued when the server died are embedded by the next one', async () => {
      const env = {
        ...database.env,
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: 'test-upstream-key',
        CAUSERIE_CONFIG: config.path,
        CAUSERIE_MODELS_REFRESH: '0',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        CAUSERIE_EMBEDDING_MODEL: 'glove',
        CAUSERIE_SEARCH_INDEX_POLL_MS: '50',
        // Cluster mode: a claim of a dead node is taken again after this long.
        CAUSERIE_STREAM_STALE_SECONDS: '1',
      };
      const first = runCauserie({ env });
      running.push(first);
      let base = await first.url();
      const key = (await first.waitForOutput(/API key:\s+(API_\S+)/))[1]!;
      const call = async (path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Json };
      };
      const conversation = (await call('/api/v1/sessions', { title: 'Pets' })).body;
      for (const content of [
        'The kitten slept on the rug',
        'The bank raised interest rates',
        'Volcanoes erupt molten lava',
      ]) {
        assert.equal((await call(`/conversations/${conversation.id}/messages`, { content })).status, 201);
      }
      await firstCallArrived;
      const before = (await call('/api/v1/search/status')).body;
      assert.equal(before.done, 0);
      assert.equal(before.pending, 3, 'the batch being embedded is still queued');

      first.child.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');
      releaseHeld();

      const second = runCauserie({ env });
      running.push(second);
      base = await second.url();
      const status = await eventually(
        async () => {
          const body = (await call('/api/v1/search/status')).body;
          return body.pending === 0 ? body : undefined;
        },
        { what: 'the queue to be worked off by the new process' },
      );
      assert.deepEqual([status.indexed, status.done, status.failed], [3, 3, 0]);
      const answer = (await call('/api/v1/search?q=cat%20rested%20carpet&mode=semantic')).body;
      assert.equal(answer.results[0].snippet, 'The kitten slept on the rug');
      await second.stop();
    });
  });
}

describe('search indexing retries a failed embedding call with backoff', () => {
  test('the message is embedded once the model answers again', async () => {
    const chat = await startChatServer(
      'sqlite',
      {
        CAUSERIE_EMBEDDING_MODEL: 'glove',
        CAUSERIE_SEARCH_INDEX_POLL_MS: '50',
        CAUSERIE_PROVIDER_RETRIES: '0',
        LOG_LEVEL: 'error',
      },
      gloveModel,
    );
    try {
      const { server, upstream } = chat;
      const conversation = (await server.api('/api/v1/sessions', { method: 'POST', body: {} })).body;
      const content = 'A kitten on the rug [[fail-first:2]]';
      await server.api(`/conversations/${conversation.id}/messages`, { method: 'POST', body: { content } });
      const status = await eventually(
        async () => {
          const body = (await server.api('/api/v1/search/status')).body;
          return body.done === 1 ? body : undefined;
        },
        { what: 'the embedding to succeed after two failures' },
      );
      assert.deepEqual([status.pending, status.failed], [0, 0]);
      const calls = upstream.requests.filter((r) => r.path === '/v1/embeddings' && r.body.input.includes(content));
      assert.equal(calls.length, 3, 'two failures, then the success');
      const hit = (await server.api('/api/v1/search?q=cat&mode=semantic')).body.results[0];
      assert.match(hit.snippet, /kitten/);
    } finally {
      await chat.stop();
    }
  });
});

for (const dialect of dialects) {
  describe(`changing the embedding model re-indexes (${dialect})`, () => {
    test('vectors of the old model are replaced by vectors of the new one, and semantic search keeps working', async () => {
      const upstream = await startScriptedUpstream();
      const database = await createTestDatabase(dialect);
      // "embed" answers 8-dimension hashed vectors, "glove" 100-dimension word vectors.
      const config = writeModelsConfig({
        ...gloveModel,
        embed: { provider: 'openai', upstream: 'embed', capabilities: ['embeddings'] },
      });
      const env = (model: string) => ({
        ...database.env,
        HOST: '127.0.0.1',
        PORT: '0',
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: 'test-upstream-key',
        CAUSERIE_CONFIG: config.path,
        CAUSERIE_MODELS_REFRESH: '0',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        CAUSERIE_EMBEDDING_MODEL: model,
        CAUSERIE_SEARCH_INDEX_POLL_MS: '50',
        LOG_LEVEL: 'silent',
      });
      let printed = '';
      const start = (model: string) =>
        startServer(loadConfig(env(model)), { print: (text) => (printed += text), logger: false });
      try {
        const first = await start('embed');
        const key = /API_[A-Z0-9_]+/.exec(printed)![0];
        const api = async (url: string, path: string, body?: unknown) => {
          const response = await fetch(`${url}${path}`, {
            method: body === undefined ? 'GET' : 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          return (await response.json()) as Json;
        };
        const conversation = await api(first.url, '/api/v1/sessions', {});
        for (const content of ['The kitten slept on the rug', 'The bank raised interest rates'])
          await api(first.url, `/conversations/${conversation.id}/messages`, { content });
        const done = (url: string, model: string) =>
          eventually(
            async () => {
              const status = await api(url, '/api/v1/search/status');
              return status.model === model && status.done === 2 && status.pending === 0 ? status : undefined;
            },
            { what: `both messages embedded by ${model}` },
          );
        await done(first.url, 'embed');
        await first.close();

        const second = await start('glove');
        try {
          await done(second.url, 'glove');
          const gloveCalls = upstream.requests.filter((r) => r.path === '/v1/embeddings' && r.body.model === 'glove');
          assert.ok(gloveCalls.length >= 1, 'the new model embedded the old messages');
          const answer = await api(second.url, '/api/v1/search?q=cat%20rested%20carpet&mode=semantic');
          assert.equal(answer.results[0].snippet, 'The kitten slept on the rug');
        } finally {
          await second.close();
        }
      } finally {
        await upstream.close();
        await database.drop();
        config.remove();
      }
    });
  });
}
