import { isoAt, type Clock } from '../clock.ts';
import type { ConversationsStore, MessageStatus } from './conversations.store.ts';

/** How often the text generated so far is written while a reply streams (the first text is written at once). */
export const flushIntervalMs = 250;

export interface StreamTimings {
  /** How long a stream lease lasts without renewal; a reply silent this long is considered dead. */
  leaseMs: number;
  flushMs?: number;
}

/**
 * Writes an assistant reply to the database while it streams: the text so far at most every
 * flushMs, and a heartbeat (the lease and the message's updated_at) a few times per lease even
 * when no token arrives. So a process killed mid-stream leaves the partial text behind, and other
 * nodes can tell a live stream (recently written) from a dead one.
 */
export class StreamPersister {
  private readonly store: ConversationsStore;
  private readonly clock: Clock;
  private readonly messageId: number;
  private readonly conversationId: number;
  private readonly owner: string;
  private readonly timings: Required<StreamTimings>;
  private content = '';
  private written = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout;
  // Writes run one after another so a late flush never overwrites the final state.
  private chain: Promise<void> = Promise.resolve();
  private finished = false;
  private firstWritten = false;

  constructor(options: {
    store: ConversationsStore;
    clock: Clock;
    messageId: number;
    conversationId: number;
    owner: string;
    timings: StreamTimings;
  }) {
    this.store = options.store;
    this.clock = options.clock;
    this.messageId = options.messageId;
    this.conversationId = options.conversationId;
    this.owner = options.owner;
    this.timings = { flushMs: flushIntervalMs, ...options.timings };
    this.heartbeat = setInterval(() => this.enqueue(true), Math.max(50, Math.floor(this.timings.leaseMs / 4)));
    this.heartbeat.unref();
  }

  get text(): string {
    return this.content;
  }

  /**
   * Adds text to the reply. The first text is written at once, and the promise returned then
   * settles when it is stored: the caller shows it to the client only after, so a reply the
   * client has seen is never lost whole to a crash. The rest is batched, a write per flush
   * interval rather than per token.
   */
  append(text: string): Promise<void> | undefined {
    if (this.finished || !text) return undefined;
    this.content += text;
    if (!this.firstWritten) {
      this.firstWritten = true;
      this.enqueue(false);
      return this.chain;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.enqueue(false);
    }, this.timings.flushMs);
    return undefined;
  }

  private leaseUntil() {
    return isoAt(this.clock.now() + this.timings.leaseMs);
  }

  private enqueue(heartbeat: boolean): void {
    if (this.finished) return;
    this.chain = this.chain.then(async () => {
      if (this.finished) return;
      const content = this.content;
      if (content === this.written && !heartbeat) return;
      try {
        await this.store.updateMessage(this.messageId, { content, updated_at: isoAt(this.clock.now()) });
        this.written = content;
        if (heartbeat) await this.store.renewStreamLease(this.conversationId, this.owner, this.leaseUntil());
      } catch {
        // A failed intermediate write is retried by the next one; the final write reports errors.
      }
    });
  }

  /** Writes the final text and status, then frees the conversation for the next completion. */
  async finish(final: {
    status: MessageStatus;
    model: string | null;
    promptTokens: number | null;
    completionTokens: number | null;
  }): Promise<string> {
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeat);
    this.finished = true;
    await this.chain;
    const at = isoAt(this.clock.now());
    const changes = {
      content: this.content,
      status: final.status,
      model: final.model,
      prompt_tokens: final.promptTokens,
      completion_tokens: final.completionTokens,
      updated_at: at,
    };
    const lease = { conversationId: this.conversationId, owner: this.owner, updatedAt: at };
    try {
      await this.store.finishReply(this.messageId, changes, lease);
    } catch (error) {
      // The final write failed: the lease is still freed (alone), and the failure reported.
      await this.store.releaseStreamLease(this.conversationId, this.owner, at).catch(() => {});
      throw error;
    }
    return at;
  }
}
