import { isoAt, type Clock } from '../clock.ts';
import type { MessageRow } from '../conversations/conversations.store.ts';
import type { SearchIndexHook } from '../conversations/search-index-hook.ts';
import type { IndexEntry, SearchStore } from './search.store.ts';

/** Computes embeddings with the configured model (public id of the model registry). */
export interface Embedder {
  readonly model: string;
  embed(texts: string[], options: { signal: AbortSignal }): Promise<number[][]>;
}

export interface SearchIndexerDeps {
  store: SearchStore;
  /** Undefined when no embedding model is configured: keyword search only. */
  embedder?: Embedder;
  clock: Clock;
  warn: (message: string) => void;
  /** Rows embedded per upstream call. */
  batchSize: number;
  /** How often an idle worker looks for due jobs (work queued by this process wakes it at once). */
  pollMs: number;
  /** Attempts before a job is given up (state 'failed'). */
  maxAttempts?: number;
  /** How long a claimed batch is reserved; a node silent this long is presumed dead and its batch is claimed again. */
  leaseMs: number;
  /** Embedded mode: no other process can hold a claim, so claims left by a killed process are released at start. */
  mode: 'embedded' | 'cluster';
}

/** What GET /api/v1/search/status reports. */
export interface IndexStatus {
  model: string | null;
  semantic_available: boolean;
  /** Searchable rows (keyword search covers all of them). */
  indexed: number;
  /** Rows holding a vector of the current model. */
  done: number;
  /** Rows waiting for their vector. */
  pending: number;
  /** Rows whose embedding failed every attempt. */
  failed: number;
  /** PostgreSQL: whether pgvector is installed (vectors are ranked exactly either way). */
  pgvector?: boolean;
}

/** Longest text sent to the embedding model, in characters (embedding models read a few thousand tokens). */
export const maxEmbeddedCharacters = 8000;
const maxBackoffMs = 10 * 60_000;

/** Scales a vector to unit length, so cosine similarity is a dot product. */
export function unit(vector: number[]): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}

/**
 * Keeps the search index in step with what it indexes. enqueue() and remove() write the index
 * rows at once (keyword search sees them immediately) and queue the vector work; a background
 * worker claims queued rows in batches, embeds them, and retries failures with backoff. The
 * queue is a table, so work survives a restart, and PostgreSQL nodes share it.
 */
export class SearchIndexer implements SearchIndexHook {
  private readonly deps: SearchIndexerDeps;
  private semantic = false;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();

  constructor(deps: SearchIndexerDeps) {
    this.deps = deps;
  }

  get embedder(): Embedder | undefined {
    return this.semantic ? this.deps.embedder : undefined;
  }

  private now() {
    return isoAt(this.deps.clock.now());
  }

  /**
   * Adds or replaces entries; never throws (indexing must not fail what triggered it). Resolves once
   * they are indexed. The entries of every call made in one turn of the event loop are written in
   * one transaction (a stored completion indexes its prompt and its reply: one commit each cost a
   * stored completion about a fifth of its CPU time); if that fails, each call's are tried alone,
   * so one bad entry fails only its own call.
   */
  enqueue(entries: IndexEntry[]): Promise<void> {
    const wanted = entries.filter((entry) => entry.content.trim());
    if (wanted.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.pending.push({ entries: wanted, done: resolve });
      if (this.pending.length === 1) setImmediate(this.writePending);
    });
  }

  private pending: { entries: IndexEntry[]; done: () => void }[] = [];

  private readonly writePending = async () => {
    const calls = this.pending;
    this.pending = [];
    const together = calls.length > 1;
    if (
      !(await this.write(
        calls.flatMap((call) => call.entries),
        !together,
      )) &&
      together
    ) {
      for (const call of calls) await this.write(call.entries, true);
    }
    for (const call of calls) call.done();
  };

  /** Whether the entries were written (a failure is logged when `logFailure`). */
  private async write(entries: IndexEntry[], logFailure: boolean): Promise<boolean> {
    try {
      const ids = await this.deps.store.upsertAll(entries);
      if (this.semantic) {
        await this.deps.store.queueJobs(ids, this.now());
        this.wake();
      }
      return true;
    } catch (error) {
      if (logFailure) this.deps.warn(`search: could not index ${entries.length} text(s): ${(error as Error).message}`);
      return false;
    }
  }

  /** Conversations' hook: a message was stored with its final text. */
  messagesStored(userId: number, messages: MessageRow[]): Promise<void> {
    return this.enqueue(
      messages.map((m) => ({
        kind: 'message',
        sourceId: m.id,
        userId,
        conversationId: m.conversation_id,
        content: m.content,
        createdAt: m.created_at,
      })),
    );
  }

  /** Removes entries from the index at once (search stops returning them before anything else runs). */
  async remove(kind: IndexEntry['kind'], sourceIds: number[]): Promise<void> {
    await this.deps.store.remove(kind, sourceIds);
  }

  /** Decides whether vectors can be made, re-queues rows of another model, then works in the background. */
  async start(): Promise<void> {
    const model = this.deps.embedder?.model;
    this.semantic = model !== undefined && (await this.deps.store.vectorsAvailable());
    if (model !== undefined && !this.semantic)
      this.deps.warn('search: sqlite-vec could not be loaded on this platform; search answers in keyword mode');
    if (this.semantic) {
      if (this.deps.mode === 'embedded') await this.deps.store.releaseClaims();
      await this.deps.store.requeueStale(model!, this.now());
    }
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    clearTimeout(this.timer);
    this.wakeUp?.();
    await this.loop;
  }

  async status(): Promise<IndexStatus> {
    const model = this.deps.embedder?.model;
    const counts = await this.deps.store.counts(model);
    return {
      model: model ?? null,
      semantic_available: this.semantic,
      indexed: counts.indexed,
      done: this.semantic ? counts.embedded : 0,
      pending: counts.pending,
      failed: counts.failed,
      ...(this.deps.store.dialect === 'postgres' ? { pgvector: await this.deps.store.pgvectorInstalled() } : {}),
    };
  }

  private wake() {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    await this.step(() => this.backfill());
    while (!this.stopped) {
      const worked = this.semantic ? await this.step(() => this.embedBatch()) : false;
      if (worked || this.stopped) continue;
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve;
        this.timer = setTimeout(resolve, this.deps.pollMs);
        this.timer.unref();
      });
      this.wakeUp = undefined;
    }
  }

  /** Runs one piece of work; an unexpected error (database gone) is reported, and the loop goes on. */
  private async step(work: () => Promise<boolean>): Promise<boolean> {
    try {
      return await work();
    } catch (error) {
      if (!this.stopped) this.deps.warn(`search: indexing failed: ${(error as Error).message}`);
      return false;
    }
  }

  /** Indexes messages that have no index row (written before search existed, or settled after a crash). */
  private async backfill(): Promise<boolean> {
    for (;;) {
      const rows = await this.deps.store.missingMessages(500);
      if (rows.length === 0 || this.stopped) return false;
      await this.enqueue(
        rows.map((r) => ({
          kind: 'message',
          sourceId: r.id,
          userId: r.user_id,
          conversationId: r.conversation_id,
          content: r.content,
          createdAt: r.created_at,
        })),
      );
    }
  }

  /** Embeds one batch of due jobs; true when there was one. */
  private async embedBatch(): Promise<boolean> {
    const { store, clock } = this.deps;
    const embedder = this.deps.embedder!;
    const now = clock.now();
    const jobs = await store.claimJobs(this.deps.batchSize, isoAt(now), isoAt(now + this.deps.leaseMs));
    if (jobs.length === 0) return false;
    try {
      const vectors = await embedder.embed(
        jobs.map((j) => j.content.slice(0, maxEmbeddedCharacters)),
        { signal: this.controller.signal },
      );
      const units = vectors.map(unit);
      await store.ensureVectorTable(units[0]!.length);
      await store.storeVectors(
        jobs.map((job, i) => ({ jobId: job.id, indexId: job.index_id, vector: units[i]! })),
        embedder.model,
      );
    } catch (error) {
      if (this.stopped) return true; // the lease runs out and the next start claims them again
      const attempts = Math.min(...jobs.map((j) => j.attempts));
      const gaveUp = attempts >= (this.deps.maxAttempts ?? 5);
      const delay = Math.min(1000 * 2 ** (attempts - 1), maxBackoffMs);
      const message = (error as Error).message ?? String(error);
      await store.failJobs(
        jobs.map((j) => j.id),
        { state: gaveUp ? 'failed' : 'pending', runAfter: isoAt(clock.now() + delay), error: message },
      );
      this.deps.warn(
        `search: embedding ${jobs.length} text(s) failed (attempt ${attempts}${gaveUp ? ', giving up' : ''}): ${message}`,
      );
      return false;
    }
    return true;
  }
}
