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
  ended: boolean;
  expiry: NodeJS.Timeout;
  marks: Map<string, number>;
  waiters: Set<() => void>;
}

/** The event log of embedded mode: answers kept in this process, woken readers instead of polling. */
export class MemoryEventLog implements EventLog {
  readonly kind = 'memory';
  private readonly answers = new Map<string, Entry>();

  open(answerId: string, meta: AnswerMeta, ttlMs: number): void {
    const entry: Entry = {
      meta,
      events: [],
      ended: false,
      expiry: this.expire(answerId, ttlMs),
      marks: new Map(),
      waiters: new Set(),
    };
    this.answers.set(answerId, entry);
  }

  private expire(answerId: string, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.answers.delete(answerId), ttlMs);
    timer.unref();
    return timer;
  }

  append(answerId: string, seq: number, frame: string): void {
    const entry = this.answers.get(answerId);
    if (!entry || entry.ended) return;
    entry.events.push({ seq, frame });
    if (entry.events.length > maxLoggedEvents) entry.events.shift();
    this.wake(entry);
  }

  async end(answerId: string, keepMs: number): Promise<void> {
    const entry = this.answers.get(answerId);
    if (!entry) return;
    entry.ended = true;
    clearTimeout(entry.expiry);
    entry.expiry = this.expire(answerId, keepMs);
    this.wake(entry);
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
  }
}
