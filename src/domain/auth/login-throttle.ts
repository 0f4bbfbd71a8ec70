import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { newUuid } from '../ids.ts';
import { sha256 } from '../secrets.ts';
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
  async attempt(usernameKey: string, address: string): Promise<() => Promise<void>> {
    const now = this.deps.clock.now();
    const start = Math.floor(now / loginWindowMs) * loginWindowMs;
    const ttlMs = start + loginWindowMs - now;
    // Hashed: neither usernames nor addresses are kept in the counters' store.
    const pairKey = `${this.deps.prefix}login:${sha256(`${usernameKey}\n${address}`).slice(0, 32)}:${start}`;
    const addressKey = `${this.deps.prefix}login-address:${sha256(address).slice(0, 32)}:${start}`;
    const leaseId = newUuid();
    const result = await this.deps.counters.reserve({
      items: [
        { kind: 'counter', key: pairKey, limit: this.deps.maxFailures, amount: 1, ttlMs },
        { kind: 'counter', key: addressKey, limit: this.deps.maxAddressFailures, amount: 1, ttlMs },
      ],
      now,
      leaseId,
      flexibleWant: 0,
      flexibleMin: 0,
    });
    if (!result.ok) {
      const seconds = String(Math.ceil(ttlMs / 1000));
      const scope = result.failures.some((f) => f.index === 0) ? 'for this account from this address' : 'from this address';
      throw new AppError('rate_limited', `Too many failed sign-ins ${scope}; retry in ${seconds} s`, { headers: { 'retry-after': seconds } });
    }
    return () => this.deps.counters.settle({ adjust: [{ key: pairKey, delta: -1 }, { key: addressKey, delta: -1 }], leases: [], leaseId });
  }
}
