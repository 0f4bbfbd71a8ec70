import type { Clock } from '../clock.ts';
import { reserveInWindow } from '../limits/fixed-window.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';

const minuteMs = 60_000;
const dayMs = 86_400_000;

/**
 * Writes that call no model (adding a message, creating a conversation) pass no quota of their
 * own, so without this a client could store megabytes a second. Per user: a number of writes a
 * minute and a number of stored characters a day, atomically, in process or in Redis.
 */
export class WriteThrottle {
  private readonly deps: {
    counters: LimitCounters;
    clock: Clock;
    prefix: string;
    perMinute: number;
    charsPerDay: number;
  };

  constructor(deps: { counters: LimitCounters; clock: Clock; prefix: string; perMinute: number; charsPerDay: number }) {
    this.deps = deps;
  }

  async write(userId: number, chars: number): Promise<void> {
    const now = this.deps.clock.now();
    const subject = String(userId);
    await reserveInWindow(this.deps.counters, {
      prefix: this.deps.prefix,
      windowMs: minuteMs,
      now,
      items: [{ name: 'writes', subject, limit: this.deps.perMinute, amount: 1 }],
      refusal: (_index, seconds) => `Too many writes: at most ${this.deps.perMinute} a minute; retry in ${seconds} s`,
    });
    await reserveInWindow(this.deps.counters, {
      prefix: this.deps.prefix,
      windowMs: dayMs,
      now,
      items: [{ name: 'write-chars', subject, limit: this.deps.charsPerDay, amount: chars }],
      refusal: (_index, seconds) =>
        `Storage quota: at most ${this.deps.charsPerDay} characters stored a day without a model call; retry in ${seconds} s`,
    });
  }
}
