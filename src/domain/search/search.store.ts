import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../stores/sql/schema.ts';
import type { Dialect } from '../../stores/sql/database.ts';
import { BuiltOnce } from '../../stores/sql/built-once.ts';
import { ftsQuery, indexedWords, tsQuery } from './search-text.ts';

/** A text to index: what it is, whose it is, where it belongs. */
export interface IndexEntry {
  kind: 'message' | 'chunk';
  sourceId: number;
  userId: number;
  conversationId: number | null;
  content: string;
  createdAt: string;
}

/** What a search narrows to, besides the user. Dates are ISO strings compared as text. */
export interface SearchFilters {
  conversationId?: number;
  role?: string;
  model?: string;
  from?: string;
  to?: string;
}

export interface ClaimedJob {
  id: number;
  index_id: number;
  attempts: number;
  content: string;
}

/** A message hit, with what a result shows. */
export interface MessageHitRow {
  index_id: number;
  message_id: number;
  message_uuid: string;
  role: string;
  model: string | null;
  content: string;
  created_at: string;
  conversation_id: number;
  conversation_uuid: string;
  title: string | null;
}

/** A document chunk hit, with what a result shows. */
export interface ChunkHitRow {
  index_id: number;
  content: string;
  chunk_index: number;
  page_from: number;
  page_to: number;
  file_id: number;
  filename: string;
  created_at: string;
  conversation_id: number;
  conversation_uuid: string;
  title: string | null;
}

/** An index row written or replaced (built once: every stored message writes one); `words` on PostgreSQL only. */
const upsertStatement = new BuiltOnce((db, v: Omit<IndexEntryRow, 'words'> & { words?: string }) => {
  const { words, ...row } = v;
  const extra = 'words' in v ? { document: sql`to_tsvector('simple', ${words})`, embedding: null } : {};
  const changes = { content: row.content, embedding_model: null, ...extra } as {
    content: string;
    embedding_model: null;
  };
  return db
    .insertInto('search_index')
    .values({ ...row, embedding_model: null, ...extra } as typeof row & { embedding_model: null })
    .onConflict((oc) => oc.columns(['kind', 'source_id']).doUpdateSet(changes))
    .returning('id');
});

interface IndexEntryRow {
  kind: IndexEntry['kind'];
  source_id: number;
  user_id: number;
  conversation_id: number | null;
  content: string;
  created_at: string;
  words: string;
}

const vectorBlob = (vector: Float32Array) => new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);

/**
 * The search index, its job queue and both halves of a search. SQLite and PostgreSQL differ here
 * only: FTS5 and a sqlite-vec table on one, a tsvector and a bytea column on the other.
 */
export class SearchStore {
  private readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The vector table's size; null when it does not exist (known, so not looked up on every upsert). */
  private vectorDimensions: number | null | undefined;

  constructor(db: Kysely<Database>, dialect: Dialect) {
    this.db = db;
    this.dialect = dialect;
  }

  /** Whether vectors can be stored: sqlite-vec loaded (SQLite); always on PostgreSQL. */
  async vectorsAvailable(): Promise<boolean> {
    if (this.dialect === 'postgres') return true;
    try {
      await sql`SELECT vec_version()`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  /** PostgreSQL only: whether the pgvector extension is installed in this database. */
  async pgvectorInstalled(): Promise<boolean> {
    if (this.dialect !== 'postgres') return false;
    const { rows } = await sql<{ found: number }>`SELECT 1 AS found FROM pg_extension WHERE extname = 'vector'`.execute(
      this.db,
    );
    return rows.length > 0;
  }

  /**
   * Adds or replaces entries, all in one transaction; returns their index ids. One commit for many
   * entries matters: each commit costs SQLite's full-text index a segment of its own.
   */
  async upsertAll(entries: IndexEntry[]): Promise<number[]> {
    // Read before the transaction: on SQLite it holds the one connection until it ends.
    const vectors = this.dialect === 'sqlite' && (await this.vectorTableDimensions()) !== undefined;
    return this.db.transaction().execute(async (trx) => {
      const ids: number[] = [];
      for (const entry of entries) ids.push(await this.upsertIn(trx, entry, vectors));
      return ids;
    });
  }

  private async upsertIn(db: Kysely<Database>, entry: IndexEntry, vectors: boolean): Promise<number> {
    const values = {
      kind: entry.kind,
      source_id: entry.sourceId,
      user_id: entry.userId,
      conversation_id: entry.conversationId,
      content: entry.content,
      created_at: entry.createdAt,
      ...(this.dialect === 'postgres' ? { words: indexedWords(entry.content) } : {}),
    };
    const row = (await upsertStatement.first(db, values))!;
    if (vectors) await sql`DELETE FROM search_vectors WHERE rowid = CAST(${row.id} AS INTEGER)`.execute(db);
    return row.id;
  }

  /** Queues index rows for embedding (again, from scratch, if they were queued or failed). */
  async queueJobs(indexIds: number[], now: string): Promise<void> {
    if (indexIds.length === 0) return;
    await this.db
      .insertInto('search_jobs')
      .values(
        indexIds.map((index_id) => ({
          index_id,
          state: 'pending' as const,
          attempts: 0,
          run_after: now,
          locked_until: null,
          last_error: null,
        })),
      )
      .onConflict((oc) =>
        oc
          .column('index_id')
          .doUpdateSet({ state: 'pending', attempts: 0, run_after: now, locked_until: null, last_error: null }),
      )
      .execute();
  }

  /** Removes entries, their vectors and jobs (vectors by trigger on SQLite, jobs by cascade). */
  async remove(kind: string, sourceIds: number[]): Promise<void> {
    if (sourceIds.length === 0) return;
    await this.db.deleteFrom('search_index').where('kind', '=', kind).where('source_id', 'in', sourceIds).execute();
  }

  /**
   * Claims up to `limit` due jobs until `lockUntil`. On PostgreSQL, FOR UPDATE SKIP LOCKED lets
   * several nodes claim at once without taking the same job; SQLite has one process.
   */
  async claimJobs(limit: number, now: string, lockUntil: string): Promise<ClaimedJob[]> {
    const lock = this.dialect === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``;
    const { rows } = await sql<{ id: number; index_id: number; attempts: number }>`
      UPDATE search_jobs SET locked_until = ${lockUntil}, attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM search_jobs
        WHERE state = 'pending' AND run_after <= ${now} AND (locked_until IS NULL OR locked_until < ${now})
        ORDER BY id LIMIT ${limit} ${lock}
      )
      RETURNING id, index_id, attempts`.execute(this.db);
    if (rows.length === 0) return [];
    const texts = await this.db
      .selectFrom('search_index')
      .select(['id', 'content'])
      .where(
        'id',
        'in',
        rows.map((r) => r.index_id),
      )
      .execute();
    const byId = new Map(texts.map((t) => [t.id, t.content]));
    return rows.filter((r) => byId.has(r.index_id)).map((r) => ({ ...r, content: byId.get(r.index_id)! }));
  }

  /** Embedded mode at start-up: claims a killed process left are free again. */
  async releaseClaims(): Promise<void> {
    await this.db
      .updateTable('search_jobs')
      .set({ locked_until: null })
      .where('locked_until', 'is not', null)
      .execute();
  }

  /** Stores vectors (unit length) made by `model` and deletes their jobs. */
  async storeVectors(
    items: Array<{ jobId: number; indexId: number; vector: Float32Array }>,
    model: string,
  ): Promise<void> {
    if (items.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const { indexId, vector } of items) {
        if (this.dialect === 'postgres') {
          await sql`UPDATE search_index SET embedding = ${Buffer.from(vectorBlob(vector))}, embedding_model = ${model} WHERE id = ${indexId}`.execute(
            trx,
          );
          continue;
        }
        await sql`DELETE FROM search_vectors WHERE rowid = CAST(${indexId} AS INTEGER)`.execute(trx);
        await sql`INSERT INTO search_vectors(rowid, user_id, embedding)
          SELECT id, user_id, ${vectorBlob(vector)} FROM search_index WHERE id = ${indexId}`.execute(trx);
        await trx.updateTable('search_index').set({ embedding_model: model }).where('id', '=', indexId).execute();
      }
      await trx
        .deleteFrom('search_jobs')
        .where(
          'id',
          'in',
          items.map((i) => i.jobId),
        )
        .execute();
    });
  }

  /** A failed attempt: due again at `runAfter`, or given up (state 'failed') after the last attempt. */
  async failJobs(
    jobIds: number[],
    update: { state: 'pending' | 'failed'; runAfter: string; error: string },
  ): Promise<void> {
    if (jobIds.length === 0) return;
    await this.db
      .updateTable('search_jobs')
      .set({
        state: update.state,
        run_after: update.runAfter,
        locked_until: null,
        last_error: update.error.slice(0, 500),
      })
      .where('id', 'in', jobIds)
      .execute();
  }

  /**
   * At start-up: rows embedded by another model lose their vector, and every row without a vector
   * of `model` and without a job is queued.
   */
  async requeueStale(model: string, now: string): Promise<void> {
    if (this.dialect === 'sqlite' && (await this.vectorTableDimensions()) !== undefined) {
      await sql`DELETE FROM search_vectors WHERE rowid IN (SELECT id FROM search_index WHERE embedding_model IS NOT NULL AND embedding_model <> ${model})`.execute(
        this.db,
      );
    }
    const cleared = this.dialect === 'postgres' ? { embedding: null } : {};
    await this.db
      .updateTable('search_index')
      .set({ embedding_model: null, ...cleared } as { embedding_model: null })
      .where('embedding_model', 'is not', null)
      .where('embedding_model', '<>', model)
      .execute();
    await sql`INSERT INTO search_jobs (index_id, state, attempts, run_after)
      SELECT si.id, 'pending', 0, ${now} FROM search_index si
      WHERE si.embedding_model IS NULL AND NOT EXISTS (SELECT 1 FROM search_jobs j WHERE j.index_id = si.id)
      ON CONFLICT (index_id) DO NOTHING`.execute(this.db);
  }

  /** Messages with text that are not indexed yet (written before search existed, or settled after a crash). */
  missingMessages(
    limit: number,
  ): Promise<Array<{ id: number; user_id: number; conversation_id: number; content: string; created_at: string }>> {
    return this.db
      .selectFrom('messages as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .select(['m.id', 'c.user_id', 'm.conversation_id', 'm.content', 'm.created_at'])
      .where('m.status', '<>', 'streaming')
      .where('m.content', '<>', '')
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('search_index as si')
              .select('si.id')
              .where('si.kind', '=', 'message')
              .whereRef('si.source_id', '=', 'm.id'),
          ),
        ),
      )
      .orderBy('m.id')
      .limit(limit)
      .execute();
  }

  /** How far indexing is: rows, rows with a vector of `model`, jobs waiting, jobs given up. */
  async counts(
    model: string | undefined,
  ): Promise<{ indexed: number; embedded: number; pending: number; failed: number }> {
    const { rows } = await sql<{ indexed: number; embedded: number; pending: number; failed: number }>`
      SELECT
        (SELECT COUNT(*) FROM search_index) AS indexed,
        (SELECT COUNT(*) FROM search_index WHERE embedding_model = ${model ?? ''}) AS embedded,
        (SELECT COUNT(*) FROM search_jobs WHERE state = 'pending') AS pending,
        (SELECT COUNT(*) FROM search_jobs WHERE state = 'failed') AS failed`.execute(this.db);
    const row = rows[0]!;
    return {
      indexed: Number(row.indexed),
      embedded: Number(row.embedded),
      pending: Number(row.pending),
      failed: Number(row.failed),
    };
  }

  private filters(f: SearchFilters): RawBuilder<unknown> {
    const parts: RawBuilder<unknown>[] = [];
    if (f.conversationId !== undefined) parts.push(sql`AND si.conversation_id = ${f.conversationId}`);
    if (f.role !== undefined) parts.push(sql`AND m.role = ${f.role}`);
    if (f.model !== undefined) parts.push(sql`AND m.model = ${f.model}`);
    if (f.from !== undefined) parts.push(sql`AND si.created_at >= ${f.from}`);
    if (f.to !== undefined) parts.push(sql`AND si.created_at <= ${f.to}`);
    return sql.join(parts, sql` `);
  }

  /** Ids of the user's messages and document chunks holding every word, best first (BM25 / ts_rank). */
  async keyword(
    userId: number,
    words: string[],
    filters: SearchFilters,
    limit: number,
  ): Promise<Array<{ id: number; score: number }>> {
    if (words.length === 0) return [];
    const query =
      this.dialect === 'sqlite'
        ? sql<{ id: number; score: number }>`
          SELECT si.id, -bm25(search_fts, 1.0, 0.0) AS score FROM search_fts f
          JOIN search_index si ON si.id = f.rowid
          LEFT JOIN messages m ON si.kind = 'message' AND m.id = si.source_id
      LEFT JOIN document_chunks dc ON si.kind = 'chunk' AND dc.id = si.source_id
          WHERE search_fts MATCH ${ftsQuery(words, userId)} AND (m.id IS NOT NULL OR dc.id IS NOT NULL) AND si.user_id = ${userId} ${this.filters(filters)}
          ORDER BY score DESC, si.id DESC LIMIT ${limit}`
        : sql<{ id: number; score: number }>`
          SELECT si.id, ts_rank(si.document, ${tsQuery(words)}::tsquery) AS score FROM search_index si
          LEFT JOIN messages m ON si.kind = 'message' AND m.id = si.source_id
      LEFT JOIN document_chunks dc ON si.kind = 'chunk' AND dc.id = si.source_id
          WHERE si.document @@ ${tsQuery(words)}::tsquery AND (m.id IS NOT NULL OR dc.id IS NOT NULL) AND si.user_id = ${userId} ${this.filters(filters)}
          ORDER BY score DESC, si.id DESC LIMIT ${limit}`;
    return (await query.execute(this.db)).rows.map((r) => ({ id: r.id, score: Number(r.score) }));
  }

  /**
   * SQLite: the `candidates` nearest vectors of the user (sqlite-vec, partitioned by user), then
   * the filters. Closest first, with cosine distance.
   */
  async nearestSqlite(
    userId: number,
    vector: Float32Array,
    model: string,
    filters: SearchFilters,
    limit: number,
    candidates: number,
  ): Promise<Array<{ id: number; distance: number }>> {
    if ((await this.vectorTableDimensions()) !== vector.length) return [];
    const { rows } = await sql<{ id: number; distance: number }>`
      WITH knn AS MATERIALIZED (SELECT rowid AS id, distance FROM search_vectors WHERE embedding MATCH ${vectorBlob(vector)} AND k = ${candidates} AND user_id = CAST(${userId} AS INTEGER))
      SELECT si.id, knn.distance FROM knn
      JOIN search_index si ON si.id = knn.id
      LEFT JOIN messages m ON si.kind = 'message' AND m.id = si.source_id
      LEFT JOIN document_chunks dc ON si.kind = 'chunk' AND dc.id = si.source_id
      WHERE (m.id IS NOT NULL OR dc.id IS NOT NULL) AND si.embedding_model = ${model} ${this.filters(filters)}
      ORDER BY knn.distance LIMIT ${limit}`.execute(this.db);
    return rows;
  }

  /** PostgreSQL: every vector of the user's matching messages, to rank exactly in the caller. */
  async vectorsPostgres(
    userId: number,
    model: string,
    filters: SearchFilters,
  ): Promise<Array<{ id: number; embedding: Buffer }>> {
    const { rows } = await sql<{ id: number; embedding: Buffer }>`
      SELECT si.id, si.embedding FROM search_index si
      LEFT JOIN messages m ON si.kind = 'message' AND m.id = si.source_id
      LEFT JOIN document_chunks dc ON si.kind = 'chunk' AND dc.id = si.source_id
      WHERE si.user_id = ${userId} AND (m.id IS NOT NULL OR dc.id IS NOT NULL) AND si.embedding_model = ${model} ${this.filters(filters)}`.execute(
      this.db,
    );
    return rows;
  }

  /** What results show about the given index rows (messages only; a missing row is skipped). */
  async messageHits(indexIds: number[]): Promise<MessageHitRow[]> {
    if (indexIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('search_index as si')
      .innerJoin('messages as m', 'm.id', 'si.source_id')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .select([
        'si.id as index_id',
        'm.id as message_id',
        'm.uuid as message_uuid',
        'm.role',
        'm.model',
        'm.content',
        'm.created_at',
        'c.id as conversation_id',
        'c.uuid as conversation_uuid',
        'c.title',
        'si.kind',
      ])
      .where('si.id', 'in', indexIds)
      .execute();
    // The kind is checked here: in SQL, SQLite would walk the (kind, source_id) index instead of the ids.
    return rows.filter((row) => row.kind === 'message');
  }

  /** What results show about the given index rows that are document chunks (a missing row is skipped). */
  async chunkHits(indexIds: number[]): Promise<ChunkHitRow[]> {
    if (indexIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('search_index as si')
      .innerJoin('document_chunks as dc', 'dc.id', 'si.source_id')
      .innerJoin('documents as d', 'd.id', 'dc.document_id')
      .innerJoin('conversations as c', 'c.id', 'dc.conversation_id')
      .select([
        'si.id as index_id',
        'si.kind',
        'dc.text as content',
        'dc.chunk_index',
        'dc.page_from',
        'dc.page_to',
        'd.id as file_id',
        'd.filename',
        'd.created_at',
        'c.id as conversation_id',
        'c.uuid as conversation_uuid',
        'c.title',
      ])
      .where('si.id', 'in', indexIds)
      .execute();
    return rows.filter((row) => row.kind === 'chunk');
  }

  /** The dimension of the sqlite-vec table, or undefined while there is none. */
  private async vectorTableDimensions(): Promise<number | undefined> {
    if (this.vectorDimensions !== undefined) return this.vectorDimensions ?? undefined;
    const row = await this.db
      .selectFrom(sql<{ name: string; sql: string }>`sqlite_master`.as('t'))
      .select('t.sql')
      .where('t.name', '=', 'search_vectors')
      .executeTakeFirst();
    const match = row && /float\[(\d+)\]/.exec(row.sql);
    // Only this process creates the table (ensureVectorTable, which records it): its absence can be remembered.
    this.vectorDimensions = match ? Number(match[1]) : null;
    return this.vectorDimensions ?? undefined;
  }

  /**
   * SQLite: makes sure the vector table holds vectors of `dimensions` (created on the first vector;
   * a model of another size replaces it). A trigger drops a row's vector with the row.
   */
  async ensureVectorTable(dimensions: number): Promise<void> {
    if (this.dialect !== 'sqlite') return;
    const current = await this.vectorTableDimensions();
    if (current === dimensions) return;
    await sql`DROP TABLE IF EXISTS search_vectors`.execute(this.db);
    // Vectors of the other size are gone: their rows have none now.
    if (current !== undefined)
      await this.db
        .updateTable('search_index')
        .set({ embedding_model: null })
        .where('embedding_model', 'is not', null)
        .execute();
    await sql
      .raw(
        `CREATE VIRTUAL TABLE search_vectors USING vec0(user_id integer partition key, embedding float[${dimensions}] distance_metric=cosine)`,
      )
      .execute(this.db);
    await sql`DROP TRIGGER IF EXISTS search_index_vectors_delete`.execute(this.db);
    await sql`CREATE TRIGGER search_index_vectors_delete AFTER DELETE ON search_index BEGIN DELETE FROM search_vectors WHERE rowid = old.id; END`.execute(
      this.db,
    );
    this.vectorDimensions = dimensions;
  }
}
