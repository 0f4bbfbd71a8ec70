import type { Clock } from '../clock.ts';
import type { ApiKeysService } from '../api-keys/api-keys.service.ts';
import type { ApiKeysStore } from '../api-keys/api-keys.store.ts';
import type { PlansStore } from '../plans/plans.store.ts';
import type { UsageStore } from '../usage/usage.store.ts';
import type { UsersService } from '../users/users.service.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';
import { rebuildFromLedger } from './ledger-rebuild.ts';
import { CountersGate } from './limits.gate.ts';
import { LimitsResolver } from './limits.resolver.ts';
import { LimitsService } from './limits.service.ts';

export interface Limits {
  gate: CountersGate;
  service: LimitsService;
  resolver: LimitsResolver;
  counters: LimitCounters;
  close(): Promise<void>;
}

/**
 * Builds the limits backend for the runtime mode: Redis when a URL is given (counters shared by
 * every node and kept across restarts), else in process, refilled from the usage ledger at start.
 */
export function createLimits(options: {
  /** Redis counters (shared by every node) or in-process ones, opened by the composition root. */
  counters: LimitCounters;
  redisPrefix: string;
  defaultPlan?: string;
  clock: Clock;
  plansStore: PlansStore;
  apiKeysStore: ApiKeysStore;
  usageStore: UsageStore;
  /** The web searches ledger, refilling searches_per_day and budgets at start-up. */
  searchRecords?: Parameters<typeof rebuildFromLedger>[0]['searches'];
  apiKeys: ApiKeysService;
  users: UsersService;
}): Limits {
  const { clock, redisPrefix: prefix } = options;
  const { counters } = options;
  const ready =
    counters.kind === 'memory'
      ? rebuildFromLedger({
          counters,
          usage: options.usageStore,
          searches: options.searchRecords,
          prefix,
          now: clock.now(),
        })
      : Promise.resolve();
  // A failed rebuild is reported by every admission (they await `ready`), not as an unhandled rejection.
  ready.catch(() => {});
  const resolver = new LimitsResolver({
    plans: options.plansStore,
    apiKeys: options.apiKeysStore,
    defaultPlan: options.defaultPlan,
  });
  const gate = new CountersGate({ counters, resolver, clock, prefix, ready });
  const service = new LimitsService({
    counters,
    resolver,
    apiKeys: options.apiKeys,
    users: options.users,
    clock,
    prefix,
    ready,
  });
  return {
    gate,
    service,
    resolver,
    counters,
    async close() {
      await ready.catch(() => {});
      await counters.close();
    },
  };
}
