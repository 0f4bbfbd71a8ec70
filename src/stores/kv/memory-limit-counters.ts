import type { LimitCounters, LimitItem, ReserveRequest, ReserveResult, SettleRequest } from './limit-counters.ts';

interface Counter {
  value: number;
  expiresAt: number;
}

// Expired entries are dropped when touched, and all of them every this many operations.
const sweepEvery = 4096;

/**
 * The in-process backend (embedded mode). Every method does its whole check-and-apply without
 * awaiting, so on Node's single thread a reservation is as atomic as the Redis script.
 * Expiry follows the caller's clock, like the windows it serves.
 */
export class MemoryLimitCounters implements LimitCounters {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, Counter>();
  private readonly leaseSets = new Map<string, Map<string, number>>();
  private operations = 0;

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const { items, now } = request;
    this.maybeSweep(now);
    const before = items.map((item) => this.current(item, now));
    let grant = request.flexibleWant;
    const failures: Array<{ index: number; current: number }> = [];
    items.forEach((item, i) => {
      const current = before[i]!;
      if (item.kind === 'flexible') {
        grant = Math.min(grant, item.limit - current);
        if (item.limit - current < request.flexibleMin) failures.push({ index: i, current });
      } else if (current + (item.kind === 'counter' ? item.amount : 1) > item.limit) {
        failures.push({ index: i, current });
      }
    });
    if (failures.length > 0) return { ok: false, failures };
    for (const item of items) {
      if (item.kind === 'lease') {
        let set = this.leaseSets.get(item.key);
        if (!set) {
          set = new Map();
          this.leaseSets.set(item.key, set);
        }
        set.set(request.leaseId, now + item.ttlMs);
      } else {
        const amount = item.kind === 'counter' ? item.amount : grant;
        if (amount !== 0) this.increment(item.key, amount, now + item.ttlMs, now);
      }
    }
    return { ok: true, grant, before };
  }

  async settle(request: SettleRequest): Promise<void> {
    for (const { key, delta } of request.adjust) {
      const counter = this.counters.get(key);
      if (counter) counter.value += delta;
    }
    for (const key of request.leases) {
      const set = this.leaseSets.get(key);
      set?.delete(request.leaseId);
      if (set?.size === 0) this.leaseSets.delete(key);
    }
  }

  async read(items: Array<{ kind: LimitItem['kind']; key: string }>, now: number): Promise<number[]> {
    return items.map((item) => this.current(item, now));
  }

  async add(entries: Array<{ key: string; amount: number; ttlMs: number }>, now: number): Promise<void> {
    for (const entry of entries) this.increment(entry.key, entry.amount, now + entry.ttlMs, now);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.counters.clear();
    this.leaseSets.clear();
  }

  private current(item: { kind: LimitItem['kind']; key: string }, now: number): number {
    if (item.kind === 'lease') {
      const set = this.leaseSets.get(item.key);
      if (!set) return 0;
      for (const [id, expiresAt] of set) if (expiresAt <= now) set.delete(id);
      return set.size;
    }
    const counter = this.counters.get(item.key);
    if (!counter) return 0;
    if (counter.expiresAt <= now) {
      this.counters.delete(item.key);
      return 0;
    }
    return counter.value;
  }

  /** Like INCRBY then PEXPIRE on a new key: an existing counter keeps its expiry. */
  private increment(key: string, amount: number, expiresAt: number, now: number) {
    const counter = this.counters.get(key);
    if (counter && counter.expiresAt > now) counter.value += amount;
    else this.counters.set(key, { value: amount, expiresAt });
  }

  private maybeSweep(now: number) {
    if (++this.operations % sweepEvery !== 0) return;
    for (const [key, counter] of this.counters) if (counter.expiresAt <= now) this.counters.delete(key);
    for (const [key, set] of this.leaseSets) {
      for (const [id, expiresAt] of set) if (expiresAt <= now) set.delete(id);
      if (set.size === 0) this.leaseSets.delete(key);
    }
  }
}
