import {
  type AnswerMeta,
  type EventLog,
  type LoggedEvent,
  type LogRead,
  maxLoggedEvents,
} from '../../domain/streams/event-log.ts';

interface Entry {
  meta: AnswerMeta;
  events: LoggedEvent[];
  bytes: number;
  ended: boolean;
  expiry: NodeJS.Timeout;
  marks: Map<string, number>;
  waiters: Set<() => void>;
}

/** What ended answers may hold in memory together before the oldest are forgotten early. */
const defaultEndedBudgetBytes = 32 * 1024 * 1024;
/**
 * What one logged event costs the heap beyond its text: the object, its array slot and the string
 * header. Counting text alone undercounted small token events by half (a 10-minute soak grew the
 * heap by 109 MiB against a 64 MiB budget).
 */
const eventOverheadBytes = 96;
const eventBytes = (frame: string) => frame.length + eventOverheadBytes;

/**
 * The event log of embedded mode: answers kept in this process, woken readers instead of polling.
 * Ended answers are kept for their resumable period, but together within a memory budget: past
 * it, the oldest ended ones are forgotten first (a busy server trades resumability for memory).
 */
export class MemoryEventLog implements EventLog {
  readonly kind = 'memory';
  private readonly answers = new Map<string, Entry>();
  /** Ended answers, oldest first, and the bytes of their events. */
  private readonly ended = new Set<string>();
  private endedBytes = 0;
  private readonly endedBudgetBytes: number;

  constructor(options: { endedBudgetBytes?: number } = {}) {
    this.endedBudgetBytes = options.endedBudgetBytes ?? defaultEndedBudgetBytes;
  }

  open(answerId: string, meta: AnswerMeta, ttlMs: number): void {
    const entry: Entry = {
      meta,
      events: [],
      bytes: 0,
      ended: false,
      expiry: this.expire(answerId, ttlMs),
      marks: new Map(),
      waiters: new Set(),
    };
    this.answers.set(answerId, entry);
  }

  private expire(answerId: string, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.forget(answerId), ttlMs);
    timer.unref();
    return timer;
  }

  private forget(answerId: string) {
    const entry = this.answers.get(answerId);
    if (!entry) return;
    clearTimeout(entry.expiry);
    this.answers.delete(answerId);
    if (this.ended.delete(answerId)) this.endedBytes -= entry.bytes;
  }

  append(answerId: string, seq: number, frame: string): void {
    const entry = this.answers.get(answerId);
    if (!entry || entry.ended) return;
    entry.events.push({ seq, frame });
    entry.bytes += eventBytes(frame);
    if (entry.events.length > maxLoggedEvents) entry.bytes -= eventBytes(entry.events.shift()!.frame);
    this.wake(entry);
  }

  async end(answerId: string, keepMs: number): Promise<void> {
    const entry = this.answers.get(answerId);
    if (!entry) return;
    if (entry.ended) return;
    entry.ended = true;
    clearTimeout(entry.expiry);
    entry.expiry = this.expire(answerId, keepMs);
    this.wake(entry);
    this.ended.add(answerId);
    this.endedBytes += entry.bytes;
    for (const oldest of this.ended) {
      if (this.endedBytes <= this.endedBudgetBytes) break;
      this.forget(oldest);
    }
  }

  private wake(entry: Entry) {
    for (const waiter of entry.waiters) waiter();
    entry.waiters.clear();
  }

  async meta(answerId: string): Promise<AnswerMeta | undefined> {
    return this.answers.get(answerId)?.meta;
  }

  async read(answerId: string, afterSeq: number, waitMs: number): Promise<LogRead> {
    const entry = this.answers.get(answerId);
    if (!entry) return { events: [], ended: true, trimmed: false };
    const pending = () => entry.events.filter((event) => event.seq > afterSeq);
    if (pending().length === 0 && !entry.ended && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          entry!.waiters.delete(done);
          resolve();
        }
        entry.waiters.add(done);
      });
    }
    const events = pending();
    const first = entry.events[0]?.seq ?? 1;
    return { events, ended: entry.ended, trimmed: first > afterSeq + 1 };
  }

  mark(answerId: string, who: 'generator' | 'reader', ttlMs: number): void {
    this.answers.get(answerId)?.marks.set(who, Date.now() + ttlMs);
  }

  async isMarked(answerId: string, who: 'generator' | 'reader'): Promise<boolean> {
    return (this.answers.get(answerId)?.marks.get(who) ?? 0) > Date.now();
  }

  async close(): Promise<void> {
    for (const entry of this.answers.values()) clearTimeout(entry.expiry);
    this.answers.clear();
    this.ended.clear();
    this.endedBytes = 0;
  }
}
