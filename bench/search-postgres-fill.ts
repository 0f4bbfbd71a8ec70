import pg from 'pg';
import { indexedWords } from '../src/domain/search/search-text.ts';
import { openDatabase, type SqlStore } from '../src/stores/sql/database.ts';
import type { BenchCorpus } from './search-corpus.ts';

const adminUrl =
  process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh PostgreSQL database filled like the SQLite one (unnest batches of 5,000 rows); dropped by drop(). */
export async function fillPostgres(
  corpus: BenchCorpus,
  total: number,
  users: number,
  dimensions: number,
  model: string,
): Promise<{ sql: SqlStore; drop(): Promise<void> }> {
  const name = `causerie_search_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = await openDatabase({ databaseUrl: url.toString(), sqlitePath: ':memory:' });
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  const start = new Date('2026-01-01T00:00:00.000Z').getTime();
  const at = new Date(start).toISOString();
  const conversationsPerUser = 50;
  for (let u = 1; u <= users; u++) {
    await client.query(
      "INSERT INTO users (id, uuid, username, username_key, password_hash, role, disabled, created_at, updated_at) VALUES ($1, $2, $3, $3, 'x', 'user', 0, $4, $4)",
      [u, `bench-user-${u}`, `bench${u}`, at],
    );
  }
  await client.query(
    `INSERT INTO conversations (id, uuid, user_id, title, metadata, created_at, updated_at)
     SELECT g, 'bench-conversation-' || g, (g - 1) / ${conversationsPerUser} + 1, 'Conversation ' || g, '{}', $1, $1 FROM generate_series(1, ${users * conversationsPerUser}) g`,
    [at],
  );
  const batch = 5_000;
  for (let first = 0; first < total; first += batch) {
    const columns = {
      id: [] as number[],
      conversation: [] as number[],
      user: [] as number[],
      role: [] as string[],
      content: [] as string[],
      folded: [] as string[],
      at: [] as string[],
      vector: [] as Buffer[],
    };
    for (let i = first; i < Math.min(total, first + batch); i++) {
      const u = (i % users) + 1;
      const text = corpus.message();
      columns.id.push(i + 1);
      columns.user.push(u);
      columns.conversation.push((u - 1) * conversationsPerUser + (Math.floor(i / users) % conversationsPerUser) + 1);
      columns.role.push(i % 2 === 0 ? 'user' : 'assistant');
      columns.content.push(text);
      columns.folded.push(indexedWords(text));
      columns.at.push(new Date(start + i * 1000).toISOString());
      columns.vector.push(Buffer.from(corpus.vector(dimensions).buffer));
    }
    await client.query(
      `INSERT INTO messages (id, uuid, conversation_id, role, content, model, status, created_at, updated_at)
       SELECT id, 'bench-message-' || id, c, r, t, CASE WHEN r = 'assistant' THEN 'gpt-4' END, 'complete', a, a
       FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[]) AS x(id, c, r, t, a)`,
      [columns.id, columns.conversation, columns.role, columns.content, columns.at],
    );
    await client.query(
      `INSERT INTO search_index (id, kind, source_id, user_id, conversation_id, content, created_at, embedding_model, document, embedding)
       SELECT id, 'message', id, u, c, t, a, $8, to_tsvector('simple', f), v
       FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bytea[]) AS x(id, u, c, t, f, a, v)`,
      [
        columns.id,
        columns.user,
        columns.conversation,
        columns.content,
        columns.folded,
        columns.at,
        columns.vector,
        model,
      ],
    );
  }
  await client.query('ANALYZE');
  await client.end();
  return {
    sql,
    async drop() {
      await sql.close();
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.end();
    },
  };
}
