import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCauserie, type CauserieProcess } from '../helpers/platform.ts';
import { createPostgresDatabase, dialects, redisUrl } from '../helpers/server.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { eventually, parseSse } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * Clients that leave at random moments, many of them 0–30 ms after sending (before the server has
 * even authenticated them), on spec 003's `/v1/chat/stream` (which creates a session) and spec
 * 000's session completions. SQLite with one process; PostgreSQL with two processes sharing it and
 * Redis (cluster mode). A checker then compares what each client saw with what is stored.
 */
const total = 300;
const concurrency = 30;
const model = 'mock/echo';

interface ClientRecord {
  marker: string;
  kind: 'chat-stream' | 'session' | 'inference';
  /** Whether the response (its status line) reached the client before it left. */
  answered: boolean;
  left: boolean;
  /** When the client actually left, in ms after sending (timers run late on a busy machine). */
  leftAfterMs?: number;
  /** The text of the reply the client saw. */
  seen: string;
  finished: boolean;
}

const words = (marker: string) => `${marker} alpha beta gamma delta epsilon zeta eta theta`;

for (const dialect of dialects) {
  const nodeCount = dialect === 'postgres' ? 2 : 1;
  describe(`clients leaving at random moments (${dialect}, ${nodeCount} node${nodeCount > 1 ? 's' : ''})`, () => {
    const prefix = uniquePrefix();
    const dirs: string[] = [];
    const nodes: CauserieProcess[] = [];
    let drop = async () => {};
    let urls: string[] = [];
    let key = '';

    before(async () => {
      const shared: Record<string, string> = {
        CAUSERIE_MOCK_PROVIDER: 'true',
        CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
        CAUSERIE_TOKEN_SECRET: 'a-token-secret-shared-by-both-nodes-of-the-test',
        LOG_LEVEL: 'debug',
        // Spec 004 stores each message with a write of its own; this test makes a hundred of them in seconds.
        CAUSERIE_WRITES_PER_MINUTE: '100000',
        // Stopping is not under test here; a connection the storm left open must not cost 30 s.
        CAUSERIE_SHUTDOWN_GRACE: '3',
      };
      if (dialect === 'postgres') {
        const database = await createPostgresDatabase();
        drop = database.drop;
        Object.assign(shared, { DATABASE_URL: database.url, REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: prefix });
      }
      const env = (name: string) => {
        const dir = mkdtempSync(join(tmpdir(), `causerie-storm-${name}-`));
        dirs.push(dir);
        // In embedded mode both "nodes" would be one: a single process owns the SQLite file.
        return { ...shared, CAUSERIE_DATA_DIR: dialect === 'sqlite' ? dirs[0]! : dir };
      };
      const first = runCauserie({ env: env('a') });
      nodes.push(first);
      key = (await first.waitForOutput(/API_[A-Z0-9_]+/))[0];
      if (nodeCount > 1) nodes.push(runCauserie({ env: env('b') }));
      urls = await Promise.all(nodes.map((node) => node.url()));
    });

    after(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await drop();
      if (dialect === 'postgres') await deleteRedisPrefix(prefix);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
      const response = await fetch(`${urls[0]}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
    };

    /** Sends one streamed completion and leaves after `leaveAfterMs` (or never). */
    async function client(
      url: string,
      path: string,
      body: unknown | undefined,
      record: ClientRecord,
      leaveAfterMs: number | undefined,
    ) {
      const controller = new AbortController();
      const sentAt = performance.now();
      const timer =
        leaveAfterMs === undefined
          ? undefined
          : setTimeout(() => {
              record.left = true;
              record.leftAfterMs = performance.now() - sentAt;
              controller.abort();
            }, leaveAfterMs);
      let raw = '';
      try {
        const response = await fetch(`${url}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: controller.signal,
        });
        if (record.left) return;
        record.answered = true;
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          raw += decoder.decode(value, { stream: true });
        }
        record.finished = response.status === 200 && !record.left;
      } catch {
        // The client left.
      } finally {
        clearTimeout(timer);
        // Only whole events count as seen.
        const complete = raw.slice(0, raw.lastIndexOf('\n\n') + 2);
        for (const event of parseSse(complete)) {
          if (event.event !== undefined && event.event !== 'message') continue;
          if (event.data === '[DONE]') continue;
          if (record.kind !== 'session') record.seen += event.data;
          else {
            const parsed = JSON.parse(event.data) as { type: string; content?: string };
            if (parsed.type === 'delta') record.seen += parsed.content ?? '';
          }
        }
      }
    }

    test('no reply complete for a client gone before the first byte, no empty session left, nothing streaming or duplicated', async () => {
      // One session per worker, on one node, so its completions queue instead of racing across nodes.
      const sessions: number[] = [];
      const chats: string[] = [];
      const chatSessions: number[] = [];
      for (let i = 0; i < concurrency; i++) {
        sessions.push((await call('/api/v1/sessions', { method: 'POST', body: { model } })).body.id);
        // Spec 004: a chat per worker; each inference answers the message stored just before it.
        const chat = (await call('/chats/create', { method: 'POST', body: { name: `w${i}` } })).body;
        chats.push(chat.id);
        chatSessions.push((await call(`/api/v1/sessions/${chat.id}`)).body.id);
      }
      const records: ClientRecord[] = [];
      let next = 0;
      const worker = async (slot: number) => {
        while (next < total) {
          const index = next++;
          const marker = `m${index}x`;
          const kind = (['chat-stream', 'session', 'inference'] as const)[index % 3]!;
          const record: ClientRecord = { marker, kind, answered: false, left: false, seen: '', finished: false };
          records.push(record);
          const roll = Math.random();
          const leaveAfter =
            roll < 0.45
              ? Math.floor(Math.random() * 31)
              : roll < 0.75
                ? 30 + Math.floor(Math.random() * 400)
                : undefined;
          const prompt = `${words(marker)} [[chunk-delay:15]]`;
          if (kind === 'chat-stream') {
            const url = urls[index % urls.length]!;
            await client(
              url,
              '/v1/chat/stream',
              { model, messages: [{ role: 'user', content: prompt }] },
              record,
              leaveAfter,
            );
          } else if (kind === 'inference') {
            const url = urls[slot % urls.length]!;
            const chat = chats[slot]!;
            const stored = await call('/conversations/create', {
              method: 'POST',
              body: { chat_id: chat, role: 'Human', message: prompt },
            });
            assert.equal(stored.status, 201);
            await client(url, `/conversations/inference/${chat}`, undefined, record, leaveAfter);
          } else {
            const url = urls[slot % urls.length]!;
            await client(
              url,
              `/api/v1/sessions/${sessions[slot]}/models/completions`,
              { prompt, stream: true },
              record,
              leaveAfter,
            );
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, (_, slot) => worker(slot)));

      // Everything settles: no reply left streaming.
      const stored = await eventually(
        async () => {
          // Listed newest activity first: a session touched between two pages could be missed, so
          // the listing counts only when it holds every session.
          const byId = new Map<number, Json>();
          let total = 0;
          for (let offset = 0; ; offset += 100) {
            const page = await call(`/api/v1/sessions?limit=100&offset=${offset}`);
            total = Number(page.headers.get('x-total-count'));
            for (const session of page.body) byId.set(session.id, session);
            if (page.body.length < 100) break;
          }
          if (byId.size !== total) return undefined;
          const all = [...byId.values()];
          const histories = new Map<number, Json[]>();
          for (const session of all) {
            const history: Json[] = [];
            for (let offset = 0; ; offset += 100) {
              const page = await call(`/api/v1/sessions/${session.id}/history?limit=100&offset=${offset}`);
              history.push(...page.body);
              if (page.body.length < 100) break;
            }
            if (history.some((m) => m.status === 'streaming')) return undefined;
            histories.set(session.id, history);
          }
          return histories;
        },
        { timeoutMs: 30_000, what: 'every reply to be settled' },
      );

      const byMarker = new Map<string, Array<{ user: Json; reply: Json; session: number }>>();
      for (const [session, history] of stored) {
        if (!sessions.includes(session) && !chatSessions.includes(session))
          assert.ok(history.length > 0, `session ${session}, created by an abandoned request, is left empty`);
        // The echo model's reply starts with the marker of the message it answers. (A spec 004
        // message may be stored while the previous inference is still settling, so position alone
        // does not pair them.) A reply with no text was cut off before its first token.
        for (const message of history) {
          const marker = String(message.content).split(' ')[0]!;
          if (message.role === 'user') {
            byMarker.set(marker, [...(byMarker.get(marker) ?? []), { user: message, reply: undefined, session }]);
            continue;
          }
          if (!message.content) {
            assert.notEqual(message.status, 'complete', 'an empty reply is stored complete');
            continue;
          }
          const answered = marker;
          const entry = byMarker.get(answered)?.at(-1);
          assert.ok(entry, `a reply (${JSON.stringify(message.content)}) answers no stored message`);
          assert.equal(entry.reply, undefined, `${answered} is answered twice`);
          entry.reply = message;
        }
      }
      let earlyLeavers = 0;
      for (const record of records) {
        const found = byMarker.get(record.marker) ?? [];
        assert.ok(found.length <= 1, `${record.marker} is stored ${found.length} times`);
        const entry = found[0];
        // Every answer takes more than 100 ms (its chunks are 15 ms apart), so a client gone within
        // 100 ms, with no response yet, left before the answer could have finished.
        if (record.left && !record.answered && record.leftAfterMs! < 100) {
          earlyLeavers++;
          assert.notEqual(
            entry?.reply?.status,
            'complete',
            `${record.marker}: the client left before the first byte, yet the reply is stored complete`,
          );
        }
        if (record.seen) {
          assert.ok(
            entry?.reply,
            `${record.marker}: the client saw a reply that is not stored: saw ${JSON.stringify(record.seen)}; ${entry ? JSON.stringify(stored.get(entry.session)!.map((m) => [m.role, String(m.content).slice(0, 12), m.status])) : 'no user message'}`,
          );
          assert.ok(
            String(entry.reply.content).startsWith(record.seen),
            `${record.marker}: what the client saw is not what is stored`,
          );
        }
        if (record.finished) {
          assert.equal(entry?.reply?.status, 'complete', `${record.marker}: the client read the whole answer`);
          assert.equal(entry.reply.content, record.seen);
        }
      }
      assert.ok(earlyLeavers > 0, 'some clients left before the first byte');
      // A client leaving is not a server error.
      for (const node of nodes) assert.doesNotMatch(node.stdout(), /"level":50[^\n]*client disconnected/);
    });
  });
}
