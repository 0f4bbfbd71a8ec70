import type { Clock } from '../clock.ts';
import { reserveInWindow } from '../limits/fixed-window.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';

/** Failed sign-ins are counted in fixed windows of this length. */
export const loginWindowMs = 15 * 60_000;

export interface LoginThrottleDeps {
  counters: LimitCounters;
  clock: Clock;
  prefix: string;
  /** Wrong passwords allowed per username and address in a window. */
  maxFailures: number;
  /** Wrong passwords allowed per address, whatever the usernames, in a window (password spraying). */
  maxAddressFailures: number;
}

/**
 * Slows password guessing. Every attempt first reserves one failure, atomically, for its username
 * and address and one for its address alone; only then is the password checked, and a right one
 * gives both back. So concurrent guesses cannot all be checked before the first failure is
 * counted, and no more than the limit are ever verified. Keyed by username and address (an
 * attacker cannot lock the real user out from elsewhere), plus a cap per address across
 * usernames. The counters are the limits' own (in process, or Redis shared by every node).
 */
export class LoginThrottle {
  private readonly deps: LoginThrottleDeps;

  constructor(deps: LoginThrottleDeps) {
    this.deps = deps;
  }

  /** Reserves the attempt, or answers 429; call the returned function when the password was right. */
  attempt(usernameKey: string, address: string): Promise<() => Promise<void>> {
    return reserveInWindow(this.deps.counters, {
      prefix: this.deps.prefix,
      windowMs: loginWindowMs,
      now: this.deps.clock.now(),
      items: [
        { name: 'login', subject: `${usernameKey}\n${address}`, limit: this.deps.maxFailures, amount: 1 },
        { name: 'login-address', subject: address, limit: this.deps.maxAddressFailures, amount: 1 },
      ],
      refusal: (index, seconds) =>
        `Too many failed sign-ins ${index === 0 ? 'for this account from this address' : 'from this address'}; retry in ${seconds} s`,
    });
  }
}
