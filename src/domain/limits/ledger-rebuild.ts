import { isoAt } from '../clock.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';
import type { UsageStore } from '../usage/usage.store.ts';
import { counterKey, type Metric, type Subject } from './limit-definitions.ts';
import { windowAt, type WindowName } from './windows.ts';

// Which counters each window holds, as the limits define them.
const metricsByWindow: Record<WindowName, Array<'requests' | 'tokens' | 'cost'>> = {
  minute: ['requests'],
  day: ['requests', 'tokens'],
  month: ['tokens', 'cost'],
};

/**
 * Refills the in-process counters from the usage ledger at start-up (embedded mode), so a restart
 * does not hand out a fresh day: every call recorded in the current minute, day and month counts
 * again, for its user and its key. Calls in flight when the process stopped wrote no row; they
 * are the only usage a restart forgets.
 */
export async function rebuildFromLedger(options: {
  counters: LimitCounters;
  usage: UsageStore;
  /** The web searches ledger: searches count today, their price this month. */
  searches?: {
    totalsSince(
      since: string,
    ): Promise<Array<{ user_id: number; api_key_id: number | null; searches: number; cost_micros: number }>>;
  };
  prefix: string;
  now: number;
}): Promise<void> {
  const { counters, usage, prefix, now } = options;
  for (const name of Object.keys(metricsByWindow) as WindowName[]) {
    const window = windowAt(name, now);
    const totals = await usage.totalsSince(isoAt(window.start));
    const entries: Array<{ key: string; amount: number; ttlMs: number }> = [];
    const ttlMs = window.end - now + 60_000;
    for (const row of totals) {
      const subjects: Subject[] = [{ scope: 'user', userId: row.user_id }];
      if (row.api_key_id !== null) subjects.push({ scope: 'key', userId: row.user_id, keyId: row.api_key_id });
      for (const subject of subjects) {
        for (const metric of metricsByWindow[name]) {
          const amount = metric === 'requests' ? row.requests : metric === 'tokens' ? row.tokens : row.cost_micros;
          if (amount > 0) entries.push({ key: counterKey(prefix, subject, metric as Metric, window), amount, ttlMs });
        }
      }
    }
    if (options.searches && name !== 'minute') {
      for (const row of await options.searches.totalsSince(isoAt(window.start))) {
        const subjects: Subject[] = [{ scope: 'user', userId: row.user_id }];
        if (row.api_key_id !== null) subjects.push({ scope: 'key', userId: row.user_id, keyId: row.api_key_id });
        for (const subject of subjects) {
          if (name === 'day' && row.searches > 0)
            entries.push({ key: counterKey(prefix, subject, 'searches', window), amount: row.searches, ttlMs });
          if (name === 'month' && row.cost_micros > 0)
            entries.push({ key: counterKey(prefix, subject, 'cost', window), amount: row.cost_micros, ttlMs });
        }
      }
    }
    await counters.add(entries, now);
  }
}
