import { Redis } from 'ioredis';
import type { KeyLimits } from '../../src/domain/api-keys/api-keys.service.ts';
import type { PlanLimits } from '../../src/domain/limits/limit-definitions.ts';
import { CountersGate } from '../../src/domain/limits/limits.gate.ts';
import type { ApplicableLimits } from '../../src/domain/limits/limits.resolver.ts';
import type { LimitCounters } from '../../src/stores/kv/limit-counters.ts';
import { MemoryLimitCounters } from '../../src/stores/kv/memory-limit-counters.ts';
import { RedisLimitCounters } from '../../src/stores/kv/redis-limit-counters.ts';
import { redisUrl, ManualClock } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

export type BackendName = 'memory' | 'redis';
export const backends: BackendName[] = ['memory', 'redis'];

/** A Redis key prefix no other test (or run) uses. */
export const uniquePrefix = () => `causerie-test:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;

/** Deletes every key under a prefix (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function openCounters(
  backend: BackendName,
  prefix: string,
): Promise<LimitCounters & { cleanup(): Promise<void> }> {
  const counters =
    backend === 'memory'
      ? new MemoryLimitCounters()
      : new RedisLimitCounters(new Redis(redisUrl), { ownsConnection: true });
  return Object.assign(counters, {
    async cleanup() {
      await counters.close();
      if (backend === 'redis') await deleteRedisPrefix(prefix);
    },
  });
}

/** Limits the test sets by hand, as if read from plans and keys. */
export class FixedLimits {
  user: PlanLimits | null = null;
  keys = new Map<number, KeyLimits>();
  async resolve(actor: { userId: number; apiKeyId?: number }): Promise<ApplicableLimits> {
    const key = actor.apiKeyId === undefined ? null : (this.keys.get(actor.apiKeyId) ?? null);
    return { plan: this.user ? { id: 1, name: 'test' } : null, user: this.user, key, ancestors: [] };
  }
}

/** A gate over a real backend with a hand-moved clock and hand-set limits. */
export async function gateFor(backend: BackendName) {
  const prefix = uniquePrefix();
  const counters = await openCounters(backend, prefix);
  const clock = new ManualClock();
  const limits = new FixedLimits();
  const gate = new CountersGate({ counters, resolver: limits, clock, prefix });
  return { gate, counters, clock, limits, prefix, cleanup: () => counters.cleanup() };
}

export const keyActor = (keyId = 7, userId = 3) => ({ userId, role: 'user' as const, apiKeyId: keyId });

export const request = (
  actor: { userId: number; role: 'user'; apiKeyId?: number },
  fields: Partial<{ reserveTokens: number; reserveCostMicros: number; stream: boolean; promptTokens: number }> = {},
) => ({
  actor,
  model: 'mock/echo',
  reserveTokens: 0,
  reserveCostMicros: 0,
  stream: false,
  ...fields,
});

/** Settles every promise and splits the admissions from the refusals. */
export async function tally<T>(promises: Promise<T>[]) {
  const results = await Promise.allSettled(promises);
  const admitted: Awaited<T>[] = [];
  const refused: Json[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') admitted.push(result.value);
    else refused.push(result.reason);
  }
  return { admitted, refused };
}
