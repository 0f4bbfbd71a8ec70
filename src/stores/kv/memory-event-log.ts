import {
  type AnswerMeta,
  type EventLog,
  type LoggedEvent,
  type LogRead,
  flatText,
  maxLoggedEvents,
} from '../../domain/streams/event-log.ts';
import { DeadlineQueue } from '../../domain/streams/deadline-queue.ts';

interface Entry {
  /** The answer's id, one flat string shared by the map key and the ended set. */
  id: string;
  meta: AnswerMeta;
  events: LoggedEvent[];
  /** What the entry costs the heap, as counted against the budget once it ended. */
  bytes: number;
  ended: boolean;
  /** While it runs: the deadlines that forget it after its longest life (one timer per life). */
  expiry: DeadlineQueue<string> | undefined;
  /** performance.now() after which an ended answer is forgotten. */
  endedUntil: number;
  /** Presence marks (performance.now() until which each holds). */
  generatorUntil: number;
  readerUntil: number;
  /** Readers waiting for the next event (created by the first one). */
  waiters: Set<() => void> | undefined;
}

/** What ended answers may hold in memory together before the oldest are forgotten early. */
export const defaultEndedBudgetBytes = 32 * 1024 * 1024;
/**
 * What one logged event costs the heap beyond its text: the object, its array slot and the string
 * header. Counting text alone undercounted small token events by half.
 */
const eventOverheadBytes = 96;
const eventBytes = (frame: string) => frame.length + eventOverheadBytes;
/**
 * What one answer costs the heap beyond its events and the text of its meta: the entry, its meta
 * object, its id kept as a map key and in the ended set, its events array. Measured (heap after
 * a full collection per answer kept); without it, answers cut off after a few events looked
 * nearly free, and a busy server kept far more of them than its budget meant.
 */
const answerOverheadBytes = 768;
const metaBytes = (meta: AnswerMeta) =>
  meta.owner.length + (meta.leaseOwner?.length ?? 0) + meta.lostFrames.reduce((sum, frame) => sum + frame.length, 0);

const flatMeta = (meta: AnswerMeta): AnswerMeta => ({
  ...meta,
  owner: flatText(meta.owner),
  ...(meta.leaseOwner === undefined ? {} : { leaseOwner: flatText(meta.leaseOwner) }),
});

/** What the memory event log holds now (for operators and the soak's memory check). */
export interface MemoryEventLogUsage {
  /** Answers kept, running or ended. */
  answers: number;
  ended: number;
  /** Bytes counted for the ended ones, against `budgetBytes`. */
  endedBytes: number;
  budgetBytes: number;
}

/**
 * The event log of embedded mode: answers kept in this process, woken readers instead of polling.
 * Ended answers are kept for their resumable period, but together within a memory budget: past
 * it, the oldest ended ones are forgotten first (a busy server trades resumability for memory).
 */
export class MemoryEventLog implements EventLog {
  readonly kind = 'memory';
  private readonly answers = new Map<string, Entry>();
  /** Ended answers, oldest first (ended at once, they expire in that order when keepMs is the same). */
  private readonly ended = new Set<string>();
  private endedBytes = 0;
  private readonly endedBudgetBytes: number;
  private sweeper: NodeJS.Timeout | undefined;
  /** Running answers by their longest life: one timer for all of them (ended ones share the sweeper). */
  private readonly expiries = new Map<number, DeadlineQueue<string>>();

  constructor(options: { endedBudgetBytes?: number } = {}) {
    this.endedBudgetBytes = options.endedBudgetBytes ?? defaultEndedBudgetBytes;
  }

  get usage(): MemoryEventLogUsage {
    return {
      answers: this.answers.size,
      ended: this.ended.size,
      endedBytes: this.endedBytes,
      budgetBytes: this.endedBudgetBytes,
    };
  }

  open(answerId: string, meta: AnswerMeta, ttlMs: number): void {
    const id = flatText(answerId);
    const kept = flatMeta(meta);
    let expiry = this.expiries.get(ttlMs);
    if (!expiry) {
      expiry = new DeadlineQueue(ttlMs, (expired) => this.forget(expired));
      this.expiries.set(ttlMs, expiry);
    }
    this.forget(id);
    expiry.set(id);
    this.answers.set(id, {
      id,
      meta: kept,
      events: [],
      bytes: answerOverheadBytes + id.length + metaBytes(kept),
      ended: false,
      expiry,
      endedUntil: Number.POSITIVE_INFINITY,
      generatorUntil: 0,
      readerUntil: 0,
      waiters: undefined,
    });
  }

  /** The entry, unless it ended longer ago than it is kept (the sweep may not have run yet). */
  private entry(answerId: string): Entry | undefined {
    const entry = this.answers.get(answerId);
    if (entry && entry.endedUntil <= performance.now()) {
      this.forget(answerId);
      return undefined;
    }
    return entry;
  }

  private forget(answerId: string) {
    const entry = this.answers.get(answerId);
    if (!entry) return;
    entry.expiry?.delete(answerId);
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
    if (!entry || entry.ended) return;
    entry.ended = true;
    entry.expiry?.delete(entry.id);
    entry.expiry = undefined;
    entry.endedUntil = performance.now() + keepMs;
    this.wake(entry);
    // Nobody waits on an ended answer: what served the running one goes.
    entry.waiters = undefined;
    this.ended.add(entry.id);
    this.endedBytes += entry.bytes;
    for (const oldest of this.ended) {
      if (this.endedBytes <= this.endedBudgetBytes) break;
      this.forget(oldest);
    }
    this.arm();
  }

  /** Forgets the ended answers whose time is up, oldest first, then waits for the next one's. */
  private readonly sweep = () => {
    this.sweeper = undefined;
    const now = performance.now();
    for (const id of this.ended) {
      if (this.answers.get(id)!.endedUntil > now) break;
      this.forget(id);
    }
    this.arm();
  };

  private arm() {
    if (this.sweeper) return;
    const oldest = this.ended.values().next();
    if (oldest.done) return;
    const delay = this.answers.get(oldest.value)!.endedUntil - performance.now();
    this.sweeper = setTimeout(this.sweep, Math.max(0, Math.ceil(delay)) + 1);
    this.sweeper.unref();
  }

  private wake(entry: Entry) {
    if (!entry.waiters) return;
    for (const waiter of entry.waiters) waiter();
    entry.waiters.clear();
  }

  async meta(answerId: string): Promise<AnswerMeta | undefined> {
    return this.entry(answerId)?.meta;
  }

  async read(answerId: string, afterSeq: number, waitMs: number): Promise<LogRead> {
    const entry = this.entry(answerId);
    if (!entry) return { events: [], ended: true, trimmed: false };
    const pending = () => entry.events.filter((event) => event.seq > afterSeq);
    if (pending().length === 0 && !entry.ended && waitMs > 0) {
      entry.waiters ??= new Set();
      const waiters = entry.waiters;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    const events = pending();
    const first = entry.events[0]?.seq ?? 1;
    return { events, ended: entry.ended, trimmed: first > afterSeq + 1 };
  }

  mark(answerId: string, who: 'generator' | 'reader', ttlMs: number): void {
    const entry = this.answers.get(answerId);
    if (!entry) return;
    if (who === 'generator') entry.generatorUntil = performance.now() + ttlMs;
    else entry.readerUntil = performance.now() + ttlMs;
  }

  async isMarked(answerId: string, who: 'generator' | 'reader'): Promise<boolean> {
    const entry = this.entry(answerId);
    if (!entry) return false;
    return (who === 'generator' ? entry.generatorUntil : entry.readerUntil) > performance.now();
  }

  async close(): Promise<void> {
    for (const entry of this.answers.values()) entry.expiry?.delete(entry.id);
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    this.answers.clear();
    this.ended.clear();
    this.endedBytes = 0;
  }
}
