/**
 * Search speed (docs/search.md): a store filled with SEARCH_BENCH_MESSAGES messages (default
 * 1,000,000) across 100 users, each message indexed for keyword search and holding a vector, then
 * p50/p99 of each mode for one user (10,000 messages at the full size). Embedding the query is not
 * in these numbers (a fixed vector stands in for the model); one round trip to a local scripted
 * embedding model is reported apart. The store is filled with SQL directly (bulk inserts).
 *
 * SQLite always; PostgreSQL too when SEARCH_BENCH_POSTGRES=1 (size SEARCH_BENCH_PG_MESSAGES,
 * default 100,000), to measure exact ranking over the user's vectors in JS.
 *
 * Run with `npm run bench -- search` (SEARCH_BENCH_MESSAGES=100000 for a quick run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { getLoadablePath } from 'sqlite-vec';
import { systemClock } from '../src/domain/clock.ts';
import type { ConversationsService } from '../src/domain/conversations/conversations.service.ts';
import { SearchIndexer, unit } from '../src/domain/search/search-indexer.ts';
import { SearchService, type SearchMode } from '../src/domain/search/search.service.ts';
import { SearchStore } from '../src/domain/search/search.store.ts';
import type { UsersService } from '../src/domain/users/users.service.ts';
import { startScriptedUpstream } from '../src/providers/mock/scripted-upstream.ts';
import { openDatabase, type SqlStore } from '../src/stores/sql/database.ts';
import { fillPostgres } from './search-postgres-fill.ts';
import { benchCorpus, type BenchCorpus } from './search-corpus.ts';

const users = 100;
const dimensions = Number(process.env.SEARCH_BENCH_DIMENSIONS ?? 256);
const queriesPerMode = 200;
const model = 'bench-model';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(9);

/** Fills the SQLite file through node:sqlite in one transaction per 50,000 messages. */
function fillSqlite(path: string, corpus: BenchCorpus, total: number): { rows: number; vectors: number } {
  const times = { rows: 0, vectors: 0 };
  const db = new DatabaseSync(path, { allowExtension: true });
  db.loadExtension(getLoadablePath());
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;');
  db.exec(
    `CREATE VIRTUAL TABLE search_vectors USING vec0(user_id integer partition key, embedding float[${dimensions}] distance_metric=cosine)`,
  );
  db.exec(
    'CREATE TRIGGER search_index_vectors_delete AFTER DELETE ON search_index BEGIN DELETE FROM search_vectors WHERE rowid = old.id; END',
  );
  const now = new Date('2026-01-01T00:00:00.000Z').getTime();
  const user = db.prepare(
    "INSERT INTO users (id, uuid, username, username_key, password_hash, role, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, 'x', 'user', 0, ?, ?)",
  );
  const conversation = db.prepare(
    "INSERT INTO conversations (id, uuid, user_id, title, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?)",
  );
  const message = db.prepare(
    "INSERT INTO messages (id, uuid, conversation_id, role, content, model, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'complete', ?, ?)",
  );
  const entry = db.prepare(
    "INSERT INTO search_index (id, kind, source_id, user_id, conversation_id, content, created_at, embedding_model) VALUES (?, 'message', ?, ?, ?, ?, ?, ?)",
  );
  const vector = db.prepare('INSERT INTO search_vectors (rowid, user_id, embedding) VALUES (?, CAST(? AS INTEGER), ?)');
  const conversationsPerUser = 50;
  db.exec('BEGIN');
  for (let u = 1; u <= users; u++) {
    const at = new Date(now).toISOString();
    user.run(u, `bench-user-${u}`, `bench${u}`, `bench${u}`, at, at);
    for (let c = 0; c < conversationsPerUser; c++) {
      const id = (u - 1) * conversationsPerUser + c + 1;
      conversation.run(id, `bench-conversation-${id}`, u, `Conversation ${id}`, at, at);
    }
  }
  db.exec('COMMIT');
  let started = performance.now();
  for (let i = 0; i < total; i++) {
    if (i % 50_000 === 0) db.exec('BEGIN');
    const id = i + 1;
    const u = (i % users) + 1;
    const conversationId = (u - 1) * conversationsPerUser + (Math.floor(i / users) % conversationsPerUser) + 1;
    const at = new Date(now + i * 1000).toISOString();
    const text = corpus.message();
    const role = i % 2 === 0 ? 'user' : 'assistant';
    message.run(id, `bench-message-${id}`, conversationId, role, text, role === 'assistant' ? 'gpt-4' : null, at, at);
    entry.run(id, id, u, conversationId, text, at, model);
    if (i % 50_000 === 49_999 || i === total - 1) db.exec('COMMIT');
  }
  times.rows = performance.now() - started;
  // Vectors user by user: sqlite-vec appends to one partition's chunk at a time (15x faster than interleaved).
  started = performance.now();
  db.exec('BEGIN');
  for (let u = 1; u <= users; u++) {
    for (let id = u; id <= total; id += users)
      vector.run(BigInt(id), u, new Uint8Array(corpus.vector(dimensions).buffer));
  }
  db.exec('COMMIT');
  times.vectors = performance.now() - started;
  db.close();
  return times;
}

/** p50/p99 of each mode for one user, over the same queries; the query vector is fixed per query. */
async function measure(
  sql: SqlStore,
  corpus: BenchCorpus,
  userId: number,
): Promise<Array<{ mode: SearchMode; p50: number; p99: number; hits: number }>> {
  const store = new SearchStore(sql.db, sql.dialect);
  const vectors = new Map<string, number[]>();
  const indexer = new SearchIndexer({
    store,
    embedder: {
      model,
      embed: async (texts) => texts.map((t) => vectors.get(t) ?? Array.from(corpus.vector(dimensions))),
    },
    clock: systemClock,
    warn: (message) => console.error(message),
    batchSize: 32,
    pollMs: 60_000,
    leaseMs: 30_000,
    mode: sql.dialect === 'sqlite' ? 'embedded' : 'cluster',
  });
  await indexer.start();
  const search = new SearchService({
    store,
    indexer,
    users: {} as UsersService,
    conversations: {} as ConversationsService,
  });
  const actor = { userId, role: 'user' as const };
  const queries = Array.from({ length: queriesPerMode }, () => corpus.query());
  for (const q of queries) vectors.set(q, Array.from(unit(Array.from(corpus.vector(dimensions)))));
  const rows = [];
  for (const mode of ['keyword', 'semantic', 'hybrid'] as SearchMode[]) {
    for (const q of queries.slice(0, 10))
      await search.search(actor, { q, mode, limit: 20 }, { signal: new AbortController().signal });
    const times: number[] = [];
    let hits = 0;
    for (const q of queries) {
      const started = performance.now();
      const answer = await search.search(actor, { q, mode, limit: 20 }, { signal: new AbortController().signal });
      // The fixed vector lookup stands in for the model: its (tiny) time is taken out.
      times.push(performance.now() - started - (answer.embedding_ms ?? 0));
      hits += answer.results.length;
    }
    times.sort((a, b) => a - b);
    rows.push({
      mode,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      hits: Math.round(hits / queries.length),
    });
  }
  await indexer.stop();
  return rows;
}

/** One query embedded by the scripted upstream's hashed model over loopback (HTTP + JSON cost only). */
async function embeddingRoundTrip(): Promise<number> {
  const upstream = await startScriptedUpstream({ record: false });
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    const response = await fetch(`${upstream.baseUrl}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'embed', input: [`query ${i}`] }),
    });
    await response.json();
    times.push(performance.now() - started);
  }
  await upstream.close();
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
}

function table(title: string, rows: Array<{ mode: SearchMode; p50: number; p99: number; hits: number }>): string[] {
  return [
    title,
    '  mode       p50        p99     results',
    ...rows.map((r) => `  ${r.mode.padEnd(8)} ${ms(r.p50)}  ${ms(r.p99)}  ${String(r.hits).padStart(6)}`),
  ];
}

export async function runSearchBench(): Promise<string[]> {
  const total = Number(process.env.SEARCH_BENCH_MESSAGES ?? 1_000_000);
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'causerie-search-bench-'));
  try {
    const path = join(dir, 'causerie.sqlite');
    (await openDatabase({ sqlitePath: path })).close();
    let started = performance.now();
    const corpus = benchCorpus(42);
    const fill = fillSqlite(path, corpus, total);
    lines.push(
      `search: ${total.toLocaleString('en')} messages, ${users} users, ${dimensions}-d vectors; SQLite filled in ${((performance.now() - started) / 1000).toFixed(0)} s ` +
        `(messages + index + FTS5 ${(fill.rows / 1000).toFixed(0)} s, vectors ${(fill.vectors / 1000).toFixed(0)} s)`,
    );
    const sql = await openDatabase({ sqlitePath: path });
    started = performance.now();
    const rows = await measure(sql, corpus, 7);
    await sql.close();
    lines.push(
      ...table(
        `SQLite (FTS5 + sqlite-vec), user with ${Math.ceil(total / users).toLocaleString('en')} messages, query embedding excluded:`,
        rows,
      ),
    );
    lines.push(
      `  (start-up check for unindexed messages and ${queriesPerMode * 3} searches: ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (process.env.SEARCH_BENCH_POSTGRES === '1') {
      const pgTotal = Number(process.env.SEARCH_BENCH_PG_MESSAGES ?? 100_000);
      started = performance.now();
      const pg = await fillPostgres(benchCorpus(42), pgTotal, users, dimensions, model);
      lines.push(
        `PostgreSQL: ${pgTotal.toLocaleString('en')} messages filled in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
      try {
        lines.push(
          ...table(
            `PostgreSQL (tsvector + exact cosine in JS over bytea), user with ${Math.ceil(pgTotal / users).toLocaleString('en')} messages:`,
            await measure(pg.sql, benchCorpus(42), 7),
          ),
        );
      } finally {
        await pg.drop();
      }
    }
    lines.push(
      `  query embedding, one loopback round trip to the scripted upstream (p50): ${ms(await embeddingRoundTrip()).trim()}; a real model adds its own latency`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
