import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
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
  /** Addresses past the limit of guessed bearer credentials, until their window ends (in process). */
  private readonly guessing = new Map<string, number>();

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

  /**
   * Bearer credentials that name nothing (an unknown API key, a token with a bad signature) are
   * guesses: counted per address like wrong passwords. Past the per-address limit further guesses
   * from that address answer 429 until the window ends (a right credential still gets in, so a
   * shared address cannot be locked out); the refusal is remembered in process, without a round trip.
   */
  assertNotGuessing(address: string): void {
    const until = this.guessing.get(address);
    if (until === undefined) return;
    const now = this.deps.clock.now();
    if (until <= now) {
      this.guessing.delete(address);
      return;
    }
    const seconds = String(Math.ceil((until - now) / 1000));
    throw new AppError('rate_limited', `Too many unknown credentials from this address; retry in ${seconds} s`, {
      headers: { 'retry-after': seconds },
    });
  }

  /** Counts a guessed credential; past the limit the address is refused until its window ends. */
  async guessed(address: string): Promise<void> {
    const now = this.deps.clock.now();
    try {
      await reserveInWindow(this.deps.counters, {
        prefix: this.deps.prefix,
        windowMs: loginWindowMs,
        now,
        items: [{ name: 'guess-address', subject: address, limit: this.deps.maxAddressFailures, amount: 1 }],
        refusal: (_index, seconds) => `Too many unknown credentials from this address; retry in ${seconds} s`,
      });
    } catch (error) {
      // Only a refusal marks the address: a counter store that is down is an outage, not a guesser.
      if (error instanceof AppError && error.code === 'rate_limited') {
        if (this.guessing.size >= 10_000) this.guessing.delete(this.guessing.keys().next().value!);
        this.guessing.set(address, (Math.floor(now / loginWindowMs) + 1) * loginWindowMs);
      }
      throw error;
    }
  }
}
