/**
 * Where the events of a streamed answer are kept while it runs and for a while after, so a client
 * that lost its connection can resume on any node. Two implementations share these semantics
 * exactly: in process (embedded mode) and Redis Streams (cluster mode).
 *
 * An answer's events are numbered 1, 2, 3... in the order they were sent; each holds the SSE frame
 * exactly as it was written (event and data lines, no id), so a resumed client reads the very
 * bytes it missed, whatever the surface's dialect.
 */

/** Who may resume an answer and what to settle if its generator dies. */
export interface AnswerMeta {
  /** The principal that asked (`user:<id>`, or a public conversation's token digest). */
  owner: string;
  /** Frames that end the stream when the process generating it is gone (an error event, [DONE]...). */
  lostFrames: string[];
  /** The conversation reply being generated, settled as error if its generator dies. */
  conversationId?: number;
  messageId?: number;
  leaseOwner?: string;
}

export interface LoggedEvent {
  seq: number;
  frame: string;
}

export interface LogRead {
  /** Events after the asked position, in order (none when the wait ran out). */
  events: LoggedEvent[];
  /** Whether the answer's end was reached (nothing follows `events`). */
  ended: boolean;
  /** Whether events before those asked for were trimmed away (the log holds at most maxEvents). */
  trimmed: boolean;
}

export interface EventLog {
  readonly kind: 'memory' | 'redis';
  /** Starts an answer's log; it lives at most `ttlMs` unless ended. */
  open(answerId: string, meta: AnswerMeta, ttlMs: number): void;
  /** Adds the next event; calls are applied in order (never awaited by the stream that writes). */
  append(answerId: string, seq: number, frame: string): void;
  /** Marks the answer ended; the log is then kept for `keepMs`. Resolves once stored. */
  end(answerId: string, keepMs: number): Promise<void>;
  meta(answerId: string): Promise<AnswerMeta | undefined>;
  /**
   * Events with seq > afterSeq; when there are none yet and the answer has not ended, waits up
   * to `waitMs` for some.
   */
  read(answerId: string, afterSeq: number, waitMs: number): Promise<LogRead>;
  /** Refreshes a presence mark (`generator`: the process producing the answer; `reader`: a resumed client). */
  mark(answerId: string, who: 'generator' | 'reader', ttlMs: number): void;
  isMarked(answerId: string, who: 'generator' | 'reader'): Promise<boolean>;
  close(): Promise<void>;
}

/** The most events one answer's log holds; older ones are trimmed (an answer is rarely this long). */
export const maxLoggedEvents = 100_000;

/**
 * The same text as one flat string, for ids and other short text kept for long. Node's randomUUID()
 * returns a rope of some thirty pieces (about 900 bytes of heap for 36 characters), and a map key
 * or a field keeps it as it is. Text beyond ASCII is returned unchanged.
 */
export function flatText(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? Buffer.from(text, 'latin1').toString('latin1') : text;
}
