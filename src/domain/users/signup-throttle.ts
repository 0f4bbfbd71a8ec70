import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { newUuid } from '../ids.ts';
import { sha256 } from '../secrets.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';

/** Sign-up attempts are counted per address in fixed windows of this length. */
export const signupWindowMs = 60 * 60_000;

/**
 * Open sign-up, per client address: at most `maxPerWindow` attempts an hour, successful or not,
 * so neither mass account creation nor probing which usernames are taken scales. Administrators
 * creating accounts are not counted.
 */
export class SignupThrottle {
  private readonly deps: { counters: LimitCounters; clock: Clock; prefix: string; maxPerWindow: number };

  constructor(deps: { counters: LimitCounters; clock: Clock; prefix: string; maxPerWindow: number }) {
    this.deps = deps;
  }

  async attempt(address: string): Promise<void> {
    const now = this.deps.clock.now();
    const start = Math.floor(now / signupWindowMs) * signupWindowMs;
    const ttlMs = start + signupWindowMs - now;
    const key = `${this.deps.prefix}signup:${sha256(address).slice(0, 32)}:${start}`;
    const result = await this.deps.counters.reserve({
      items: [{ kind: 'counter', key, limit: this.deps.maxPerWindow, amount: 1, ttlMs }],
      now,
      leaseId: newUuid(),
      flexibleWant: 0,
      flexibleMin: 0,
    });
    if (result.ok) return;
    const seconds = String(Math.ceil(ttlMs / 1000));
    throw new AppError('rate_limited', `Too many sign-ups from this address; retry in ${seconds} s`, { headers: { 'retry-after': seconds } });
  }
}
