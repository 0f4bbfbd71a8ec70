import { invalid } from '../errors.ts';
import type { ConversationsService } from '../conversations/conversations.service.ts';
import type { Actor, UsersService } from '../users/users.service.ts';
import type { IndexStatus, SearchIndexer } from './search-indexer.ts';
import { unit } from './search-indexer.ts';
import type { ChunkHitRow, MessageHitRow, SearchFilters, SearchStore } from './search.store.ts';
import { fuseRanks, queryWords, snippet } from './search-text.ts';

export type SearchMode = 'hybrid' | 'semantic' | 'keyword';

export interface SearchQuery {
  q: string;
  mode?: SearchMode;
  limit?: number;
  /** Whose history (id, UUID or username): the caller; admins may name anyone. */
  user?: string;
  conversation?: string;
  role?: string;
  model?: string;
  from?: string;
  to?: string;
}

/** The document a chunk hit comes from: a file uploaded to the conversation. */
export interface DocumentHit {
  file_id: number;
  filename: string;
  chunk_index: number;
  page_from: number;
  page_to: number;
}

export interface SearchHit {
  /** A message, or a passage of a document uploaded to the conversation. */
  kind: 'message' | 'document';
  message_id: number | null;
  message_uuid: string | null;
  conversation_id: number;
  conversation_uuid: string;
  conversation_title: string | null;
  role: string | null;
  model: string | null;
  document: DocumentHit | null;
  /** HTML-escaped excerpt; the query's words are wrapped in <mark>...</mark>. */
  snippet: string;
  created_at: string;
  /** Higher is better: BM25-like (keyword), cosine similarity (semantic), fused reciprocal ranks (hybrid). */
  score: number;
}

export interface SearchAnswer {
  query: string;
  /** The mode that actually ran (keyword when semantic search is unavailable). */
  mode: SearchMode;
  semantic_available: boolean;
  /** Why the mode differs from the one asked for, when it does. */
  notice?: string;
  results: SearchHit[];
  /** Milliseconds spent embedding the query (semantic and hybrid). */
  embedding_ms?: number;
}

export interface SearchServiceDeps {
  store: SearchStore;
  indexer: SearchIndexer;
  users: UsersService;
  conversations: ConversationsService;
}

/**
 * Nearest vectors taken per search on SQLite before filters apply (without filters, just what is
 * needed: sqlite-vec's cost grows with k, about 10 ms at k = 1000 against 1 ms at k = 20).
 */
const filteredCandidates = 1000;

/**
 * Search over one's own conversations and the documents uploaded to them: keyword (full-text),
 * semantic (nearest embeddings) or both merged by reciprocal rank fusion. Only the caller's (admins
 * may name a user), and only what still exists: every hit is read back from its table.
 */
export class SearchService {
  private readonly deps: SearchServiceDeps;

  constructor(deps: SearchServiceDeps) {
    this.deps = deps;
  }

  status(): Promise<IndexStatus> {
    return this.deps.indexer.status();
  }

  async search(actor: Actor, query: SearchQuery, options: { signal: AbortSignal }): Promise<SearchAnswer> {
    const q = query.q.trim();
    if (!q) throw invalid('q', 'must hold at least one character');
    const limit = query.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw invalid('limit', 'must be an integer between 1 and 100');
    if (query.from !== undefined && Number.isNaN(Date.parse(query.from)))
      throw invalid('from', 'must be an ISO 8601 date or date-time');
    if (query.to !== undefined && Number.isNaN(Date.parse(query.to)))
      throw invalid('to', 'must be an ISO 8601 date or date-time');
    const userId = query.user === undefined ? actor.userId : (await this.deps.users.get(actor, query.user)).id;
    const filters: SearchFilters = {
      role: query.role,
      model: query.model,
      from: query.from === undefined ? undefined : new Date(query.from).toISOString(),
      // A bare date means the whole day.
      to:
        query.to === undefined
          ? undefined
          : /^\d{4}-\d{2}-\d{2}$/.test(query.to)
            ? `${query.to}T23:59:59.999Z`
            : new Date(query.to).toISOString(),
    };
    if (query.conversation !== undefined) {
      const conversation = await this.deps.conversations.findRow(actor, query.conversation);
      filters.conversationId = conversation.id;
    }

    const asked = query.mode ?? 'hybrid';
    const embedder = this.deps.indexer.embedder;
    const answer: Omit<SearchAnswer, 'results'> = { query: q, mode: asked, semantic_available: embedder !== undefined };
    let mode = asked;
    if (mode !== 'keyword' && !embedder) {
      mode = 'keyword';
      answer.mode = mode;
      answer.notice = 'Semantic search is unavailable (no embedding model is configured): these are keyword results.';
    }
    const words = queryWords(q);
    const depth = Math.min(limit * 2, 200);
    let ranked: Array<{ id: number; score: number }> = [];
    if (mode === 'keyword') {
      ranked = await this.deps.store.keyword(userId, words, filters, limit);
    } else {
      const started = performance.now();
      const [vector] = await embedder!.embed([q], options);
      answer.embedding_ms = Math.round((performance.now() - started) * 10) / 10;
      const nearest = await this.nearest(
        userId,
        unit(vector!),
        embedder!.model,
        filters,
        mode === 'semantic' ? limit : depth,
      );
      if (mode === 'semantic') ranked = nearest;
      else
        ranked = fuseRanks([
          (await this.deps.store.keyword(userId, words, filters, depth)).map((k) => k.id),
          nearest.map((n) => n.id),
        ]).slice(0, limit);
    }
    const ids = ranked.map((r) => r.id);
    const [messageRows, chunkRows] = await Promise.all([
      this.deps.store.messageHits(ids),
      this.deps.store.chunkHits(ids),
    ]);
    const hits = new Map<number, (score: number) => SearchHit>([
      ...messageRows.map((row) => [row.index_id, (score: number) => messageHit(row, words, score)] as const),
      ...chunkRows.map((row) => [row.index_id, (score: number) => chunkHit(row, words, score)] as const),
    ]);
    const results = ranked.flatMap(({ id, score }) => hits.get(id)?.(score) ?? []);
    return { ...answer, results };
  }

  /** The closest vectors, best first, with cosine similarity as score. */
  private async nearest(userId: number, vector: Float32Array, model: string, filters: SearchFilters, limit: number) {
    const { store } = this.deps;
    if (store.dialect === 'sqlite') {
      const filtered = Object.values(filters).some((value) => value !== undefined);
      const rows = await store.nearestSqlite(
        userId,
        vector,
        model,
        filters,
        limit,
        filtered ? filteredCandidates : limit,
      );
      return rows.map((r) => ({ id: r.id, score: 1 - r.distance }));
    }
    // PostgreSQL without pgvector: exact cosine over the user's vectors, here (measured in bench/search.bench.ts).
    const scored: Array<{ id: number; score: number }> = [];
    for (const row of await store.vectorsPostgres(userId, model, filters)) {
      // pg's Buffers may start at any byte of a shared pool; a Float32Array view needs 4-byte alignment.
      const bytes = row.embedding.byteOffset % 4 === 0 ? row.embedding : Uint8Array.from(row.embedding);
      const other = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      if (other.length !== vector.length) continue;
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i]! * other[i]!;
      scored.push({ id: row.id, score: dot });
    }
    return scored.sort((a, b) => b.score - a.score || b.id - a.id).slice(0, limit);
  }
}

const rounded = (score: number) => Math.round(score * 1e6) / 1e6;

function messageHit(row: MessageHitRow, words: string[], score: number): SearchHit {
  return {
    kind: 'message',
    message_id: row.message_id,
    message_uuid: row.message_uuid,
    conversation_id: row.conversation_id,
    conversation_uuid: row.conversation_uuid,
    conversation_title: row.title,
    role: row.role,
    model: row.model,
    document: null,
    snippet: snippet(row.content, words),
    created_at: row.created_at,
    score: rounded(score),
  };
}

function chunkHit(row: ChunkHitRow, words: string[], score: number): SearchHit {
  return {
    kind: 'document',
    message_id: null,
    message_uuid: null,
    conversation_id: row.conversation_id,
    conversation_uuid: row.conversation_uuid,
    conversation_title: row.title,
    role: null,
    model: null,
    document: {
      file_id: row.file_id,
      filename: row.filename,
      chunk_index: row.chunk_index,
      page_from: row.page_from,
      page_to: row.page_to,
    },
    snippet: snippet(row.content, words),
    created_at: row.created_at,
    score: rounded(score),
  };
}
