import type { Clock } from '../clock.ts';
import { reserveInWindow } from '../limits/fixed-window.ts';
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
    await reserveInWindow(this.deps.counters, {
      prefix: this.deps.prefix,
      windowMs: signupWindowMs,
      now: this.deps.clock.now(),
      items: [{ name: 'signup', subject: address, limit: this.deps.maxPerWindow, amount: 1 }],
      refusal: (_index, seconds) => `Too many sign-ups from this address; retry in ${seconds} s`,
    });
  }
}
