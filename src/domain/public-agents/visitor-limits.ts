import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { LimitCounters, LimitItem } from '../../stores/kv/limit-counters.ts';
import { secondsUntil, windowAt } from '../limits/windows.ts';

/** What one visitor of a public key may do; each key may set its own, the config gives the defaults. */
export interface VisitorLimits {
  /** Messages and token requests per minute, per visitor. */
  requests_per_minute: number;
  /** Prompt + completion tokens per UTC day, per visitor. */
  tokens_per_day: number;
  /** User messages one public conversation may hold. */
  messages_per_conversation: number;
}

/** Presentations of one client token in this many milliseconds beyond the burst limit are abuse. */
export const burstWindowMs = 10_000;

export interface VisitorAdmission {
  /** Replaces the one token reserved with what the reply used. */
  settle(tokens: number): Promise<void>;
  /** Gives back the message slot and the token reserved (the message was not stored). */
  refund(): Promise<void>;
}

/**
 * The per-visitor counters of public conversations, kept in the limits' own store (in process or
 * Redis) and reserved in one atomic step, so concurrent requests can never pass a limit together.
 * They come on top of the agent owner's plan and the public key's own limits, which the limits
 * gate charges as for any other call.
 */
export class VisitorCounters {
  private readonly deps: { counters: LimitCounters; clock: Clock; prefix: string };

  constructor(deps: { counters: LimitCounters; clock: Clock; prefix: string }) {
    this.deps = deps;
  }

  private key(...parts: Array<string | number>) {
    return `${this.deps.prefix}public:${parts.join(':')}`;
  }

  /** One request of this visitor (a token minted): 429 beyond the per-minute limit. */
  async request(keyId: number, visitor: string, limits: VisitorLimits): Promise<void> {
    const now = this.deps.clock.now();
    const minute = windowAt('minute', now);
    const result = await this.deps.counters.reserve({
      items: [
        {
          kind: 'counter',
          key: this.key('rpm', keyId, visitor, minute.tag),
          limit: limits.requests_per_minute,
          amount: 1,
          ttlMs: minute.end - now,
        },
      ],
      now,
      leaseId: '',
      flexibleWant: 0,
      flexibleMin: 0,
    });
    if (!result.ok)
      throw tooMany(
        `Too many requests from this visitor (${limits.requests_per_minute} per minute)`,
        secondsUntil(minute.end, now),
      );
  }

  /**
   * One message of this visitor in this conversation: a request this minute, a message of the
   * conversation, and at least one token of today's budget, all or none.
   */
  async message(
    keyId: number,
    visitor: string,
    conversationId: number,
    limits: VisitorLimits,
    conversationTtlMs: number,
  ): Promise<VisitorAdmission> {
    const now = this.deps.clock.now();
    const minute = windowAt('minute', now);
    const day = windowAt('day', now);
    const tokensKey = this.key('tpd', keyId, visitor, day.tag);
    const messagesKey = this.key('messages', conversationId);
    const items: LimitItem[] = [
      {
        kind: 'counter',
        key: this.key('rpm', keyId, visitor, minute.tag),
        limit: limits.requests_per_minute,
        amount: 1,
        ttlMs: minute.end - now,
      },
      {
        kind: 'counter',
        key: messagesKey,
        limit: limits.messages_per_conversation,
        amount: 1,
        ttlMs: conversationTtlMs,
      },
      { kind: 'flexible', key: tokensKey, limit: limits.tokens_per_day, ttlMs: day.end - now },
    ];
    // The token budget is checked as "something left" (one token) and charged with the real usage after.
    const result = await this.deps.counters.reserve({ items, now, leaseId: '', flexibleWant: 1, flexibleMin: 1 });
    if (!result.ok) {
      const failed = new Set(result.failures.map((f) => f.index));
      if (failed.has(1))
        throw tooMany(
          `This conversation has reached its ${limits.messages_per_conversation} messages; start a new one`,
          secondsUntil(now + 60_000, now),
        );
      if (failed.has(2))
        throw tooMany(
          `This visitor's tokens for today (${limits.tokens_per_day}) are used up`,
          secondsUntil(day.end, now),
        );
      throw tooMany(
        `Too many messages from this visitor (${limits.requests_per_minute} per minute)`,
        secondsUntil(minute.end, now),
      );
    }
    const counters = this.deps.counters;
    let done = false;
    return {
      async settle(tokens) {
        if (done) return;
        done = true;
        const delta = Math.max(0, Math.round(tokens)) - 1;
        if (delta !== 0) await counters.settle({ adjust: [{ key: tokensKey, delta }], leases: [], leaseId: '' });
      },
      async refund() {
        if (done) return;
        done = true;
        await counters.settle({
          adjust: [
            { key: tokensKey, delta: -1 },
            { key: messagesKey, delta: -1 },
          ],
          leases: [],
          leaseId: '',
        });
      },
    };
  }

  /** Counts one presentation of a client token; false when it is far above a person's pace. */
  async withinBurst(tokenId: number, burstLimit: number): Promise<boolean> {
    const now = this.deps.clock.now();
    const start = Math.floor(now / burstWindowMs) * burstWindowMs;
    const result = await this.deps.counters.reserve({
      items: [
        {
          kind: 'counter',
          key: this.key('burst', tokenId, start),
          limit: burstLimit,
          amount: 1,
          ttlMs: start + burstWindowMs - now,
        },
      ],
      now,
      leaseId: '',
      flexibleWant: 0,
      flexibleMin: 0,
    });
    return result.ok;
  }

  /** Whether this event is the first of its kind for this token this minute (events are not a flood). */
  async firstThisMinute(subject: string, reason: string): Promise<boolean> {
    const now = this.deps.clock.now();
    const minute = windowAt('minute', now);
    const result = await this.deps.counters.reserve({
      items: [
        {
          kind: 'counter',
          key: this.key('event', subject, reason, minute.tag),
          limit: 1,
          amount: 1,
          ttlMs: minute.end - now,
        },
      ],
      now,
      leaseId: '',
      flexibleWant: 0,
      flexibleMin: 0,
    });
    return result.ok;
  }
}

const tooMany = (message: string, retryAfter: number) =>
  new AppError('rate_limited', message, { headers: { 'retry-after': String(retryAfter) } });
