import { AppError } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import type { IdempotencyKeyRow, IdempotencyStore } from './idempotency.store.ts';

/** A request's `Idempotency-Key` and the fingerprint of what it asks (route and body). */
export interface IdempotencyRequest {
  key: string;
  fingerprint: string;
}

/** What claiming a key found: the key is this request's now, or a finished earlier request answers. */
export type Claim = { kind: 'new'; id: number } | { kind: 'replay'; row: IdempotencyKeyRow };

const dayMs = 86_400_000;

/**
 * Idempotency keys, per user, kept a day. The first request with a key claims it (an atomic
 * insert, so two sent at once cannot both start); once it has produced its conversation (and
 * reply) it records them, and a later request with the same key gets those back. A request refused
 * before answering releases its key, so a retry really starts again. A key claimed by a request
 * that died before recording anything is taken over after `staleMs`.
 */
export class IdempotencyKeys {
  private readonly deps: { store: IdempotencyStore; clock: Clock; staleMs: number; ttlMs?: number };
  private lastSweep = 0;

  constructor(deps: { store: IdempotencyStore; clock: Clock; staleMs: number; ttlMs?: number }) {
    this.deps = deps;
  }

  private get ttlMs() {
    return this.deps.ttlMs ?? dayMs;
  }

  async claim(userId: number, request: IdempotencyRequest): Promise<Claim> {
    const { store, clock } = this.deps;
    const now = clock.now();
    // Expired keys go, at most once a minute per process: a day-old key starts again.
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      await store.deleteOlderThan(isoAt(now - this.ttlMs));
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const at = isoAt(clock.now());
      const id = await store.insert({
        user_id: userId,
        key: request.key,
        fingerprint: request.fingerprint,
        created_at: at,
        updated_at: at,
      });
      if (id !== undefined) return { kind: 'new', id };
      const row = await store.find(userId, request.key);
      if (!row) continue; // released meanwhile: try again
      if (Date.parse(row.created_at) < now - this.ttlMs) {
        await store.delete(row.id);
        continue;
      }
      if (row.fingerprint !== request.fingerprint) {
        throw new AppError(
          'idempotency_mismatch',
          'Idempotency-Key: this key was already used with another request (another route or body); use a new key',
        );
      }
      if (row.message_ids !== null) return { kind: 'replay', row };
      // Claimed but nothing recorded: still running, or its process died before the model answered.
      if (
        Date.parse(row.updated_at) < now - this.deps.staleMs &&
        (await store.takeOver(row.id, row.updated_at, { updated_at: at, conversation_id: null }))
      ) {
        return { kind: 'new', id: row.id };
      }
      throw this.inProgress();
    }
    throw this.inProgress();
  }

  /** The error for a key whose first request is still running. */
  inProgress(): AppError {
    return new AppError(
      'conflict',
      'Idempotency-Key: the request with this key is still in progress; retry when it has finished',
      { headers: { 'retry-after': '1' } },
    );
  }

  /** Records what the request produced: later requests with its key get it back. */
  async record(
    id: number,
    produced: { conversationId: number; replyId?: number; messageIds?: number[] },
  ): Promise<void> {
    await this.deps.store.update(id, {
      conversation_id: produced.conversationId,
      reply_id: produced.replyId ?? null,
      message_ids: JSON.stringify(produced.messageIds ?? []),
      updated_at: isoAt(this.deps.clock.now()),
    });
  }

  /**
   * Runs a request that creates something (a conversation, a message) at most once per key: a
   * repeat gets `replay` of what the first produced; without a key, `run` just runs.
   */
  async once<T>(
    userId: number,
    request: IdempotencyRequest | undefined,
    work: {
      run(): Promise<{ value: T; conversationId: number; messageIds?: number[] }>;
      replay(row: { conversationId: number; messageIds: number[] }): Promise<T>;
    },
  ): Promise<T> {
    if (!request) return (await work.run()).value;
    const claim = await this.claim(userId, request);
    if (claim.kind === 'replay') {
      // The conversation was deleted since: nothing to give back.
      if (claim.row.conversation_id === null) throw new AppError('not_found', 'Conversation not found');
      return work.replay({
        conversationId: claim.row.conversation_id,
        messageIds: JSON.parse(claim.row.message_ids ?? '[]') as number[],
      });
    }
    let result: { value: T; conversationId: number; messageIds?: number[] };
    try {
      result = await work.run();
    } catch (error) {
      await this.release(claim.id).catch(() => {});
      throw error;
    }
    await this.record(claim.id, { conversationId: result.conversationId, messageIds: result.messageIds });
    return result.value;
  }

  /** Forgets the key of a request refused before it produced anything, so a retry starts again. */
  async release(id: number): Promise<void> {
    await this.deps.store.delete(id);
  }
}
