import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { sha256 } from '../secrets.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';

/** Failed sign-ins are counted in fixed windows of this length. */
export const loginWindowMs = 15 * 60_000;

/**
 * Slows password guessing: after `maxFailures` wrong passwords for one username from one address
 * within a window, further attempts for that pair (right or wrong) answer 429 until the window
 * ends. Keyed by username and address, so an attacker cannot lock the real user out from elsewhere.
 * The counters are the limits' own (in process, or Redis shared by every node).
 */
export class LoginThrottle {
  private readonly deps: { counters: LimitCounters; clock: Clock; prefix: string; maxFailures: number };

  constructor(deps: { counters: LimitCounters; clock: Clock; prefix: string; maxFailures: number }) {
    this.deps = deps;
  }

  private locate(usernameKey: string, address: string) {
    const now = this.deps.clock.now();
    const start = Math.floor(now / loginWindowMs) * loginWindowMs;
    // Hashed: neither usernames nor addresses are kept in the counters' store.
    const key = `${this.deps.prefix}login:${sha256(`${usernameKey}\n${address}`).slice(0, 32)}:${start}`;
    return { key, now, ttlMs: start + loginWindowMs - now };
  }

  async check(usernameKey: string, address: string): Promise<void> {
    const { key, now, ttlMs } = this.locate(usernameKey, address);
    const [failures = 0] = await this.deps.counters.read([{ kind: 'counter', key }], now);
    if (failures < this.deps.maxFailures) return;
    const seconds = String(Math.ceil(ttlMs / 1000));
    throw new AppError('rate_limited', `Too many failed sign-ins for this account from this address; retry in ${seconds} s`, {
      headers: { 'retry-after': seconds },
    });
  }

  async failed(usernameKey: string, address: string): Promise<void> {
    const { key, now, ttlMs } = this.locate(usernameKey, address);
    await this.deps.counters.add([{ key, amount: 1, ttlMs }], now);
  }
}
