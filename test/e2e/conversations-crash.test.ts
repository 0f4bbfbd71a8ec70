import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import { createTestDatabase, dialects } from '../helpers/server.ts';
import { eventually, openStream, writeModelsConfig } from './conversations-helpers.ts';
import type { Json, WireMessage } from '../helpers/wire.ts';

/**
 * A server killed with SIGKILL in the middle of a stream. The reply is written to the database
 * while it streams, so after a restart on the same database the conversation holds the user
 * message and the partial reply, marked error (not complete), and nothing else; and the
 * conversation takes new completions. Embedded mode settles such replies at start-up; cluster
 * mode (PostgreSQL) once nobody has written them for CAUSERIE_STREAM_STALE_SECONDS.
 */
for (const dialect of dialects) {
  describe(`a server killed mid-stream (${dialect})`, () => {
    let upstream: ScriptedUpstream;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let config: ReturnType<typeof writeModelsConfig>;
    let env: Record<string, string>;
    const running: CauserieProcess[] = [];

    before(async () => {
      upstream = await startScriptedUpstream();
      database = await createTestDatabase(dialect);
      config = writeModelsConfig();
      env = {
        ...database.env,
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: 'test-upstream-key',
        CAUSERIE_CONFIG: config.path,
        CAUSERIE_MODELS_REFRESH: '0',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        CAUSERIE_STREAM_STALE_SECONDS: '2',
      };
    });
    after(async () => {
      for (const child of running) await child.stop();
      await upstream.close();
      await database.drop();
      config.remove();
    });

    test('keeps the user message and the partial reply, marked error, and nothing else', async () => {
      const first = runCauserie({ env });
      running.push(first);
      const url = await first.url();
      const key = (await first.waitForOutput(/API key:\s+(API_\S+)/))[1]!;
      // The server being talked to: the first process, then the one started after the kill.
      let base = url;
      const call = async (path: string, init: RequestInit = {}) => {
        const response = await fetch(`${base}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        return { status: response.status, body: (await response.json()) as Json };
      };

      const session = (await call('/api/v1/sessions', { method: 'POST', body: JSON.stringify({ model: 'gpt-4' }) }))
        .body;
      const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
      const prompt = `${words} [[chunk-delay:40]]`;
      const stream = await openStream(`${url}/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({ prompt, stream: true }),
      });
      assert.equal(stream.response.status, 200);
      // A few chunks reach the client...
      await stream.readUntil((text) => (text.match(/"type":"delta"/g) ?? []).length >= 5);
      // ...and the reply is being written to the database as it streams.
      const partial = await eventually(
        async () => {
          const history = (await call(`/api/v1/sessions/${session.id}/history`)).body;
          const reply = history[1];
          return reply && reply.status === 'streaming' && reply.content.startsWith('word0 word1 word2')
            ? reply
            : undefined;
        },
        { what: 'the partial reply in the history' },
      );

      first.child.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');
      stream.abort();

      const second = runCauserie({ env });
      running.push(second);
      base = await second.url();
      const settled = await eventually(
        async () => {
          const history = (await call(`/api/v1/sessions/${session.id}/history`)).body;
          return history[1]?.status !== 'streaming' ? history : undefined;
        },
        { what: 'the interrupted reply to be settled' },
      );
      assert.equal(settled.length, 2, 'the user message and the partial reply, nothing else');
      const [userMessage, reply] = settled;
      assert.deepEqual([userMessage.role, userMessage.content, userMessage.status], ['user', prompt, 'complete']);
      assert.equal(reply.role, 'assistant');
      assert.equal(reply.status, 'error');
      assert.equal(reply.id, partial.id);
      assert.ok(reply.content.length >= partial.content.length, 'nothing written before the kill is lost');
      assert.ok(words.startsWith(reply.content), 'the stored text is a prefix of what the model said');
      assert.ok(reply.content.length < words.length, 'and is marked incomplete, not passed off as the whole answer');

      // The conversation is usable again: the next completion sees the partial history and is stored after it.
      const next = await call(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'Are you back?' }),
      });
      assert.equal(next.status, 200);
      assert.equal(next.body.message.content, 'Are you back?');
      const history = (await call(`/api/v1/sessions/${session.id}/history`)).body;
      assert.deepEqual(
        history.map((m: WireMessage) => [m.role, m.status]),
        [
          ['user', 'complete'],
          ['assistant', 'error'],
          ['user', 'complete'],
          ['assistant', 'complete'],
        ],
      );
      await second.stop();
    });

    test('a kill right after the first token keeps that token: a reply the client has seen is never stored empty', async (t) => {
      // A database of its own, so the first start prints an admin key.
      const own = await createTestDatabase(dialect);
      t.after(() => own.drop());
      const env2 = { ...env, ...own.env };
      const first = runCauserie({ env: env2 });
      running.push(first);
      const url = await first.url();
      const key = (await first.waitForOutput(/API key:\s+(API_\S+)/))[1]!;
      let base = url;
      const call = async (path: string, init: RequestInit = {}) => {
        const response = await fetch(`${base}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });
        return { status: response.status, body: (await response.json()) as Json };
      };
      const session = (await call('/api/v1/sessions', { method: 'POST', body: JSON.stringify({ model: 'gpt-4' }) }))
        .body;
      // The next chunk comes long after the first: the kill lands well inside the batching interval.
      const stream = await openStream(`${url}/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({ prompt: 'firstword secondword thirdword [[chunk-delay:2000]]', stream: true }),
      });
      assert.equal(stream.response.status, 200);
      const seen = await stream.readUntil((text) => text.includes('"type":"delta"'));
      assert.match(seen, /firstword/);
      first.child.kill('SIGKILL');
      await first.exited;
      stream.abort();

      const second = runCauserie({ env: env2 });
      running.push(second);
      base = await second.url();
      const settled = await eventually(
        async () => {
          const history = (await call(`/api/v1/sessions/${session.id}/history`)).body;
          return history[1] && history[1].status !== 'streaming' ? history : undefined;
        },
        { what: 'the interrupted reply to be settled' },
      );
      assert.equal(settled[1].status, 'error');
      assert.ok(
        settled[1].content.startsWith('firstword'),
        `the token the client saw is stored (got ${JSON.stringify(settled[1].content)})`,
      );
      await second.stop();
    });
  });
}
