import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiKeysStore } from '../../src/domain/api-keys/api-keys.store.ts';
import { CountersGate } from '../../src/domain/limits/limits.gate.ts';
import { LimitsResolver } from '../../src/domain/limits/limits.resolver.ts';
import type { PlansStore } from '../../src/domain/plans/plans.store.ts';
import { MemoryLimitCounters } from '../../src/stores/kv/memory-limit-counters.ts';
import { ManualClock } from '../helpers/server.ts';

/** Plans and keys as the SQL stores would return them, counting the reads. */
function stores() {
  const plans = new Map<number, { id: number; name: string; limits: string }>();
  const keys = new Map<number, { id: number; limits: string | null; parent_key_id: number | null }>();
  const reads = { plans: 0, keys: 0 };
  const plansStore = {
    async findByUser(userId: number) {
      reads.plans++;
      return plans.get(userId);
    },
    async findByName() {
      return undefined;
    },
  } as unknown as PlansStore;
  const apiKeysStore = {
    async findById(id: number) {
      reads.keys++;
      return keys.get(id);
    },
  } as unknown as ApiKeysStore;
  return { plans, keys, reads, plansStore, apiKeysStore };
}

describe('limits resolver: what is cached answers without a read', () => {
  test('answers from the cache once read, as resolve() does, parents included', async () => {
    const s = stores();
    s.plans.set(1, { id: 7, name: 'basic', limits: JSON.stringify({ requests_per_day: 10 }) });
    s.keys.set(20, { id: 20, limits: JSON.stringify({ tokens_per_day: 500 }), parent_key_id: null });
    s.keys.set(21, { id: 21, limits: null, parent_key_id: 20 });
    const resolver = new LimitsResolver({ plans: s.plansStore, apiKeys: s.apiKeysStore, cacheMs: 60_000 });
    const actor = { userId: 1, role: 'user' as const, apiKeyId: 21 };
    assert.equal(resolver.resolveNow(actor), undefined, 'nothing read yet');
    const read = await resolver.resolve(actor);
    assert.deepEqual(read, {
      plan: { id: 7, name: 'basic' },
      user: { requests_per_day: 10 },
      key: null,
      ancestors: [{ keyId: 20, limits: { tokens_per_day: 500 } }],
    });
    assert.deepEqual(resolver.resolveNow(actor), read);
    assert.deepEqual(await resolver.resolve(actor), read);
    assert.deepEqual(s.reads, { plans: 1, keys: 2 });
  });

  test('a change made through this node is seen at once', async () => {
    const s = stores();
    s.keys.set(30, { id: 30, limits: null, parent_key_id: null });
    const resolver = new LimitsResolver({ plans: s.plansStore, apiKeys: s.apiKeysStore, cacheMs: 60_000 });
    const actor = { userId: 2, role: 'user' as const, apiKeyId: 30 };
    assert.deepEqual(await resolver.resolve(actor), { plan: null, user: null, key: null, ancestors: [] });
    s.keys.set(30, { id: 30, limits: JSON.stringify({ requests_per_day: 1 }), parent_key_id: null });
    resolver.forget();
    assert.equal(resolver.resolveNow(actor), undefined);
    assert.deepEqual((await resolver.resolve(actor)).key, { requests_per_day: 1 });
  });

  test('the gate admits an unlimited caller from the cache, then enforces a limit set later', async () => {
    const s = stores();
    s.keys.set(40, { id: 40, limits: null, parent_key_id: null });
    const resolver = new LimitsResolver({ plans: s.plansStore, apiKeys: s.apiKeysStore, cacheMs: 60_000 });
    const counters = new MemoryLimitCounters();
    const gate = new CountersGate({ counters, resolver, clock: new ManualClock(), prefix: 'test:' });
    const actor = { userId: 3, role: 'user' as const, apiKeyId: 40 };
    const request = { actor, model: 'm', reserveTokens: 10, reserveCostMicros: 0, stream: false };
    for (let i = 0; i < 3; i++) {
      const admission = await gate.admit(request);
      assert.deepEqual(admission.headers, {});
      await admission.settle({ tokens: 5, costMicros: 0 });
    }
    s.keys.set(40, { id: 40, limits: JSON.stringify({ requests_per_day: 1 }), parent_key_id: null });
    resolver.forget();
    const first = await gate.admit(request);
    assert.equal(first.headers['x-ratelimit-limit'], '1');
    await assert.rejects(gate.admit(request), { code: 'rate_limited' });
    await counters.close();
  });
});
