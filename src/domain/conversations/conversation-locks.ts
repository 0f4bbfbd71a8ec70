import { AppError } from '../errors.ts';

/**
 * One completion at a time per conversation inside this process: later callers wait their turn
 * (first come, first served) instead of being refused. Across processes the stream lease in the
 * database does the same job (ConversationCompletions).
 */
export class ConversationLocks {
  private readonly tails = new Map<number, Promise<void>>();
  private readonly waiting = new Map<number, number>();
  private readonly maxWaiting: number;

  constructor(options: { maxWaiting?: number } = {}) {
    this.maxWaiting = options.maxWaiting ?? 64;
  }

  /** Resolves with a release function once the caller holds the conversation; rejects if `signal` aborts first. */
  async acquire(conversationId: number, signal?: AbortSignal): Promise<() => void> {
    const waiting = this.waiting.get(conversationId) ?? 0;
    if (waiting >= this.maxWaiting)
      throw new AppError('conflict', 'Too many completions are waiting in this conversation; retry later');
    const previous = this.tails.get(conversationId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(conversationId, tail);
    this.waiting.set(conversationId, waiting + 1);
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      release();
      if (this.tails.get(conversationId) === tail) this.tails.delete(conversationId);
    };
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        previous.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    } catch (error) {
      // Gave up waiting: pass the turn on as soon as it comes.
      done();
      throw error;
    } finally {
      const left = (this.waiting.get(conversationId) ?? 1) - 1;
      if (left > 0) this.waiting.set(conversationId, left);
      else this.waiting.delete(conversationId);
    }
    return done;
  }
}
