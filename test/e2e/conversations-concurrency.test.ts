import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { createKey } from '../helpers/platform.ts';
import { createTestDatabase, dialects, type TestServer } from '../helpers/server.ts';
import { sse, startChatServer, writeModelsConfig, type ChatServer } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

interface Message {
  role: string;
  content: string;
  status: string;
}

/** What the scripted upstream answers: the question without its [[directives]]. */
const echoOf = (question: string) => question.replace(/\s*\[\[.*?\]\]/g, '');

/** A history is complete and in order when it alternates question and answer, each answer echoing its own question. */
function assertOrdered(history: Message[], questions: string[]) {
  assert.equal(history.length, questions.length * 2, 'one question and one answer per completion');
  for (let i = 0; i < history.length; i += 2) {
    const [question, answer] = [history[i]!, history[i + 1]!];
    assert.equal(question.role, 'user');
    assert.deepEqual(
      [answer.role, answer.content, answer.status],
      ['assistant', echoOf(question.content), 'complete'],
      `answer ${i + 1} follows its own question`,
    );
  }
  assert.deepEqual(
    history
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .sort(),
    [...questions].sort(),
  );
}

/**
 * 50 clients completing at once, in the same and in different conversations, through several
 * surfaces, streamed and not: afterwards every conversation's history is complete and in order.
 * Within one process completions in a conversation wait their turn; across processes (two nodes
 * on one PostgreSQL database) the database lease refuses the second with 409, never interleaving.
 */
for (const dialect of dialects) {
  describe(`concurrent completions (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let key: string;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      key = (await createKey(server, server.adminKey)).key;
    });
    after(() => chat.stop());

    test('50 clients: 6 in each of 5 shared conversations, 20 in their own; every history complete and in order', async () => {
      const shared = await Promise.all(
        Array.from(
          { length: 5 },
          async () =>
            (await server.api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' }, auth: key })).body
              .id as number,
        ),
      );
      const questions = new Map<number, string[]>(shared.map((id) => [id, []]));
      const ownSessions: number[] = [];
      const clients: Array<Promise<void>> = [];
      let n = 0;
      const complete = async (sessionId: number | undefined, content: string, style: number) => {
        // Slow enough that completions overlap: four chunks 10 ms apart.
        const prompt = `${content} is being answered [[chunk-delay:10]]`;
        if (style === 0) {
          const response = await server.api(`/api/v1/sessions/${sessionId}/models/completions`, {
            method: 'POST',
            body: { prompt },
            auth: key,
          });
          assert.equal(response.status, 200, response.text);
        } else if (style === 1) {
          const response = await sse(server, `/api/v1/sessions/${sessionId}/models/completions`, {
            auth: key,
            body: { prompt, stream: true },
          });
          assert.equal(response.status, 200, response.text);
          assert.equal(response.events.at(-1)!.data, '[DONE]');
        } else {
          const response = await sse(server, '/v1/chat/stream', {
            auth: key,
            body: { model: 'gpt-4', messages: [{ role: 'user', content: prompt }], session_id: sessionId },
          });
          assert.equal(response.status, 200, response.text);
          if (sessionId === undefined) ownSessions.push(Number(response.headers.get('x-session-id')));
        }
        return prompt;
      };
      for (const id of shared) {
        for (let i = 0; i < 6; i++) {
          const style = n++ % 3;
          clients.push(complete(id, `s${id}-q${i}`, style).then((prompt) => void questions.get(id)!.push(prompt)));
        }
      }
      for (let i = 0; i < 20; i++) clients.push(complete(undefined, `own-${i}`, 2).then(() => undefined));
      assert.equal(clients.length, 50);
      await Promise.all(clients);

      for (const id of shared) {
        const history = (await server.api(`/api/v1/sessions/${id}/history?limit=100`, { auth: key })).body;
        assertOrdered(history, questions.get(id)!);
      }
      assert.equal(new Set(ownSessions).size, 20, 'each client without a session got its own');
      for (const id of ownSessions) {
        const history = (await server.api(`/api/v1/sessions/${id}/history`, { auth: key })).body;
        assert.equal(history.length, 2);
        assert.deepEqual(
          history.map((m: Message) => m.status),
          ['complete', 'complete'],
        );
      }
    });
  });
}

describe('two nodes on one PostgreSQL database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let config: ReturnType<typeof writeModelsConfig>;
  let chat: ChatServer;
  const nodes: RunningServer[] = [];

  before(async () => {
    // The scripted upstream of a chat server; the nodes under test share one database of their own.
    chat = await startChatServer('sqlite');
    database = await createTestDatabase('postgres');
    config = writeModelsConfig();
    const env = {
      ...database.env,
      HOST: '127.0.0.1',
      PORT: '0',
      CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
      OPENAI_BASE_URL: chat.upstream.baseUrl,
      OPENAI_API_KEY: 'test-upstream-key',
      CAUSERIE_CONFIG: config.path,
      CAUSERIE_MODELS_REFRESH: '0',
      CAUSERIE_TOKEN_SECRET: 'a-token-secret-shared-by-both-nodes-0123456789',
    };
    for (let i = 0; i < 2; i++) nodes.push(await startServer(loadConfig(env), { logger: false, print: () => {} }));
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await chat.stop();
    await database.drop();
    config.remove();
  });

  test('completions racing in one conversation on two nodes: the loser gets 409, the history never interleaves', async () => {
    const admin = {
      authorization: `Basic ${Buffer.from('admin:admin-password-for-tests').toString('base64')}`,
      'content-type': 'application/json',
    };
    const post = async (node: RunningServer, path: string, body: unknown) => {
      const response = await fetch(`${node.url}${path}`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Json };
    };
    const session = (await post(nodes[0]!, '/api/v1/sessions', { model: 'gpt-4' })).body;
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(nodes[i % 2]!, `/api/v1/sessions/${session.id}/models/completions`, {
          prompt: `node${i % 2}-q${i} [[chunk-delay:20]]`,
        }).then((r) => ({ ...r, i })),
      ),
    );
    const statuses = attempts.map((a) => a.status);
    assert.ok(
      statuses.every((s) => s === 200 || s === 409),
      statuses.join(','),
    );
    const won = attempts.filter((a) => a.status === 200);
    assert.ok(won.length >= 1);
    for (const lost of attempts.filter((a) => a.status === 409)) assert.equal(lost.body.code, 'conflict');
    const response = await fetch(`${nodes[1]!.url}/api/v1/sessions/${session.id}/history?limit=100`, {
      headers: admin,
    });
    const history = (await response.json()) as Message[];
    assertOrdered(
      history,
      won.map((a) => `node${a.i % 2}-q${a.i} [[chunk-delay:20]]`),
    );
  });
});
