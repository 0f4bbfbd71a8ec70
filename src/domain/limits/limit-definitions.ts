import { windowAt, type Window, type WindowName } from './windows.ts';

/**
 * Every limit a plan can set. A key's own limits are the same minus the budget. Each counts one
 * metric over one fixed UTC window, except concurrent streams, which count live leases.
 */
export interface PlanLimits {
  requests_per_minute?: number;
  requests_per_day?: number;
  tokens_per_day?: number;
  tokens_per_month?: number;
  /** Spending budget per UTC month, in the currency of the model prices (e.g. 5.5 = 5.50). */
  budget_per_month?: number;
  concurrent_streams?: number;
  /** Web searches per UTC day (web search on any surface). */
  searches_per_day?: number;
}

export type LimitName = keyof PlanLimits;
export type Metric = 'requests' | 'tokens' | 'cost' | 'streams' | 'searches';

export interface LimitDefinition {
  metric: Metric;
  window: WindowName | null;
  /** How the limit reads in messages: "50 requests per UTC day". */
  unit: string;
}

export const limitDefinitions: Record<LimitName, LimitDefinition> = {
  requests_per_minute: { metric: 'requests', window: 'minute', unit: 'requests per minute' },
  requests_per_day: { metric: 'requests', window: 'day', unit: 'requests per UTC day' },
  tokens_per_day: { metric: 'tokens', window: 'day', unit: 'tokens per UTC day' },
  tokens_per_month: { metric: 'tokens', window: 'month', unit: 'tokens per UTC month' },
  budget_per_month: { metric: 'cost', window: 'month', unit: 'of budget per UTC month' },
  concurrent_streams: { metric: 'streams', window: null, unit: 'concurrent streams' },
  searches_per_day: { metric: 'searches', window: 'day', unit: 'web searches per UTC day' },
};

export const limitNames = Object.keys(limitDefinitions) as LimitName[];

/** Whose counter: the user (limits from their plan) or one of their API keys (its own limits). */
export type Subject = { scope: 'user'; userId: number } | { scope: 'key'; userId: number; keyId: number };

export const microsPerUnit = 1_000_000;

/** A limit as the counters hold it: budgets in micro-units, so every amount is an integer. */
export const storedLimit = (name: LimitName, value: number) =>
  name === 'budget_per_month' ? Math.round(value * microsPerUnit) : value;

/** A stored amount as users read it (budgets back in currency units). */
export const shownAmount = (name: LimitName, value: number) =>
  name === 'budget_per_month' ? value / microsPerUnit : value;

// A stream's lease frees its slot on settle; if the node dies first, the lease expires after this.
export const streamLeaseMs = 60 * 60_000;
// Counters outlive their window slightly, so a node whose clock runs a little behind still finds them.
const windowGraceMs = 60_000;

/**
 * The key of one counter. The braces hold Redis Cluster's hash tag: every key of one user lands
 * in one slot, so a single script can check a user's and their key's limits together.
 */
export function counterKey(prefix: string, subject: Subject, metric: Metric, window: Window | null): string {
  const who = subject.scope === 'user' ? 'user' : `key:${subject.keyId}`;
  return `${prefix}{u${subject.userId}}:${who}:${metric}${window ? `:${window.tag}` : ''}`;
}

/** The counter key, its window and how long the key must live, for one limit at `now`. */
export function locate(prefix: string, subject: Subject, name: LimitName, now: number) {
  const definition = limitDefinitions[name];
  const window = definition.window ? windowAt(definition.window, now) : null;
  return {
    key: counterKey(prefix, subject, definition.metric, window),
    window,
    ttlMs: window ? window.end - now + windowGraceMs : streamLeaseMs,
  };
}
