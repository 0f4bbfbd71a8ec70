import { AppError } from '../errors.ts';
import { newUuid } from '../ids.ts';
import { sha256 } from '../secrets.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';

/** One counter of a fixed window: whose (hashed into the key, so no name or address is stored), and how much it may reach. */
export interface WindowCounter {
  name: string;
  subject: string;
  limit: number;
  amount: number;
}

/**
 * Reserves amounts on fixed-window counters, all or none, atomically (in process or in Redis),
 * for the throttles that are not plan limits (sign-in, sign-up, writes). Throws 429 with
 * Retry-After, naming the first counter that is full through `refusal`; returns a refund.
 */
export async function reserveInWindow(
  counters: LimitCounters,
  options: {
    prefix: string;
    windowMs: number;
    now: number;
    items: WindowCounter[];
    refusal: (index: number, seconds: string) => string;
  },
): Promise<() => Promise<void>> {
  const start = Math.floor(options.now / options.windowMs) * options.windowMs;
  const ttlMs = start + options.windowMs - options.now;
  const keys = options.items.map(
    (item) => `${options.prefix}${item.name}:${sha256(item.subject).slice(0, 32)}:${start}`,
  );
  const leaseId = newUuid();
  const result = await counters.reserve({
    items: options.items.map((item, index) => ({
      kind: 'counter',
      key: keys[index]!,
      limit: item.limit,
      amount: item.amount,
      ttlMs,
    })),
    now: options.now,
    leaseId,
    flexibleWant: 0,
    flexibleMin: 0,
  });
  if (!result.ok) {
    const seconds = String(Math.ceil(ttlMs / 1000));
    const first = Math.min(...result.failures.map((failure) => failure.index));
    throw new AppError('rate_limited', options.refusal(first, seconds), { headers: { 'retry-after': seconds } });
  }
  return () =>
    counters.settle({
      adjust: options.items.map((item, index) => ({ key: keys[index]!, delta: -item.amount })),
      leases: [],
      leaseId,
    });
}
